/* SPDX-License-Identifier: MIT */
/* sluice._sluice.Reader: a streaming reader.  read(n) builds the bytes
 * object and lets the library fill it in place; readinto(buf) fills the
 * caller's writable buffer directly, so a loop over a preallocated
 * bytearray copies nothing in Python.  Both run with the GIL released and
 * loop until the request is full or the object ends, like a buffered file:
 * sluice_reader_read may return fewer bytes than asked. */
#include "sluicemodule.h"

/* __init__ once the path is converted. */
static int init_path(sp_reader *self, PyObject *op_obj, const char *path, PyObject *kwargs) {
  sluice_operator *op = ((sp_operator *)op_obj)->op;
  if (!op) {
    PyErr_SetString(PyExc_ValueError, "operator is not initialised");
    return -1;
  }
  if (self->r || self->busy) {
    PyErr_SetString(PyExc_RuntimeError, "Reader.__init__ called twice");
    return -1;
  }
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0)
    return -1;
  sluice_reader *r = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_reader_open(op, path, o, &r);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  if (err) {
    sp_raise(err);
    return -1;
  }
  self->r = r;
  self->size = sluice_reader_size(r);
  return 0;
}

static int reader_init(sp_reader *self, PyObject *args, PyObject *kwargs) {
  PyObject *op_obj;
  sp_path path = {0};
  if (!PyArg_ParseTuple(args, "O!O&:Reader", &sp_operator_type, &op_obj, sp_path_converter, &path))
    return -1;
  int rc = init_path(self, op_obj, path.utf8, kwargs);
  Py_XDECREF(path.str);
  return rc;
}

static void reader_dealloc(sp_reader *self) {
  sluice_reader *r = self->r;
  /* Joins prefetch threads: never with the GIL held. */
  Py_BEGIN_ALLOW_THREADS
  sluice_reader_free(r);
  Py_END_ALLOW_THREADS
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int usable(sp_reader *self) {
  if (!self->r) {
    PyErr_SetString(PyExc_ValueError, "I/O operation on closed reader");
    return -1;
  }
  return sp_claim(&self->busy, "reader");
}

/* Fills buf[0..len) or up to the end; the GIL must be released. */
static sluice_error *fill(sluice_reader *r, char *buf, size_t len, size_t *got) {
  *got = 0;
  while (*got < len) {
    size_t n = 0;
    sluice_error *err = sluice_reader_read(r, buf + *got, len - *got, &n);
    if (err)
      return err;
    if (n == 0)
      break;
    *got += n;
  }
  return NULL;
}

static PyObject *reader_readinto(sp_reader *self, PyObject *args) {
  Py_buffer view;
  if (!PyArg_ParseTuple(args, "w*:readinto", &view))
    return NULL;
  if (usable(self) < 0) {
    PyBuffer_Release(&view);
    return NULL;
  }
  size_t got;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = fill(self->r, view.buf, (size_t)view.len, &got);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  PyBuffer_Release(&view);
  if (err)
    return sp_raise(err);
  return PyLong_FromSize_t(got);
}

static PyObject *reader_read(sp_reader *self, PyObject *args) {
  Py_ssize_t want = -1;
  if (!PyArg_ParseTuple(args, "|n:read", &want))
    return NULL;
  if (usable(self) < 0)
    return NULL;
  /* read() / read(-1): the rest, sized from what the reader knows, grown by
   * doubling when the size is unknown. */
  int all = want < 0;
  Py_ssize_t cap = want;
  uint64_t left = sluice_reader_size(self->r);
  if (all)
    cap = left == UINT64_MAX ? 1 << 16 : (left > PY_SSIZE_T_MAX - 1 ? PY_SSIZE_T_MAX - 1
                                                                    : (Py_ssize_t)left + 1);
  else if (left != UINT64_MAX && (uint64_t)want > left)
    cap = (Py_ssize_t)left; /* read(1 << 30) of a small object allocates what is there */
  PyObject *bytes = PyBytes_FromStringAndSize(NULL, cap);
  if (!bytes) {
    self->busy = 0;
    return NULL;
  }
  Py_ssize_t have = 0;
  for (;;) {
    size_t got;
    sluice_error *err;
    char *base = PyBytes_AS_STRING(bytes);
    Py_BEGIN_ALLOW_THREADS
    err = fill(self->r, base + have, (size_t)(cap - have), &got);
    Py_END_ALLOW_THREADS
    if (err) {
      self->busy = 0;
      Py_DECREF(bytes);
      return sp_raise(err);
    }
    have += (Py_ssize_t)got;
    if (!all || have < cap)
      break;
    if (cap > PY_SSIZE_T_MAX / 2) {
      self->busy = 0;
      Py_DECREF(bytes);
      return PyErr_NoMemory();
    }
    cap *= 2;
    if (_PyBytes_Resize(&bytes, cap) < 0) {
      self->busy = 0;
      return NULL;
    }
  }
  self->busy = 0;
  if (have != cap && _PyBytes_Resize(&bytes, have) < 0)
    return NULL;
  return bytes;
}

/* seek(offset, whence=os.SEEK_SET) -> the new position, as
 * io.RawIOBase.seek; the library refuses a stream (Unsupported, which
 * File.seek turns into io.UnsupportedOperation). */
static PyObject *reader_seek(sp_reader *self, PyObject *args) {
  PyObject *offset_obj;
  int whence = SEEK_SET;
  if (!PyArg_ParseTuple(args, "O|i:seek", &offset_obj, &whence))
    return NULL;
  if (!PyLong_Check(offset_obj))
    return PyErr_Format(PyExc_TypeError, "offset must be an int, not %.100s",
                        Py_TYPE(offset_obj)->tp_name);
  long long offset = PyLong_AsLongLong(offset_obj);
  if (offset == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    return PyErr_Format(PyExc_ValueError, "offset must be within a signed 64-bit integer");
  }
  if (usable(self) < 0)
    return NULL;
  uint64_t pos;
  sluice_error *err;
  /* Frees a read-ahead (joins its threads): GIL released. */
  Py_BEGIN_ALLOW_THREADS
  err = sluice_reader_seek(self->r, (int64_t)offset, whence, &pos);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (err)
    return sp_raise(err);
  return PyLong_FromUnsignedLongLong(pos);
}

static PyObject *reader_tell(sp_reader *self, PyObject *unused) {
  (void)unused;
  PyObject *args = Py_BuildValue("(ii)", 0, SEEK_CUR);
  PyObject *res = args ? reader_seek(self, args) : NULL;
  Py_XDECREF(args);
  return res;
}

static PyObject *reader_close(sp_reader *self, PyObject *unused) {
  (void)unused;
  if (self->busy) {
    PyErr_SetString(PyExc_RuntimeError, "reader is in use by another call");
    return NULL;
  }
  sluice_reader *r = self->r;
  self->r = NULL;
  Py_BEGIN_ALLOW_THREADS
  sluice_reader_free(r);
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject *reader_size(sp_reader *self, void *closure) {
  (void)closure;
  if (self->size == UINT64_MAX)
    Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(self->size);
}

static PyObject *reader_closed(sp_reader *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->r == NULL);
}

static PyMethodDef reader_methods[] = {
    {"read", (PyCFunction)reader_read, METH_VARARGS,
     "read(size=-1) -> bytes\n\nUp to size bytes (fewer only at the end; b'' at the end); "
     "everything left when size is negative."},
    {"readinto", (PyCFunction)reader_readinto, METH_VARARGS,
     "readinto(buffer) -> int\n\nFills a writable buffer (bytearray, memoryview, ...) in place; "
     "returns the byte count, short only at the end, 0 at the end."},
    {"seek", (PyCFunction)reader_seek, METH_VARARGS,
     "seek(offset, whence=os.SEEK_SET) -> int\n\nMoves to offset from the start (SEEK_SET), "
     "the current position (SEEK_CUR) or the end (SEEK_END) of the range opened, and returns "
     "the new position.  A position past the end reads as the end.  Drops any read-ahead; "
     "later reads are ranged requests.  Unsupported for a stream."},
    {"tell", (PyCFunction)reader_tell, METH_NOARGS,
     "tell() -> int\n\nThe position: bytes from the start of the range opened."},
    {"close", (PyCFunction)reader_close, METH_NOARGS, "close()\n\nReleases the reader."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef reader_getset[] = {
    {"size", (getter)reader_size, NULL,
     "bytes the reader had to deliver when opened, or None when unknown", NULL},
    {"closed", (getter)reader_closed, NULL, "True once closed", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_reader_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.Reader",
    .tp_basicsize = sizeof(sp_reader),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Reader(operator, path, **reader_options): a streaming reader.",
    .tp_methods = reader_methods,
    .tp_getset = reader_getset,
    .tp_init = (initproc)reader_init,
    .tp_new = PyType_GenericNew,
};
