/* SPDX-License-Identifier: MIT */
/* sluice._sluice.Writer: a writer, plus start_job() which hands it and a
 * Reader to a libsluice job (write_from + close on the library's own
 * thread).  write() takes any buffer-protocol object and passes its memory
 * straight to sluice_writer_write with the GIL released: no Python-side
 * copy.  A writer freed without close() is aborted by sluice_writer_free,
 * so dropping one never commits a partial object. */
#include "sluicemodule.h"

/* __init__ once the path is converted. */
static int init_path(sp_writer *self, PyObject *op_obj, const char *path, PyObject *kwargs) {
  sluice_operator *op = ((sp_operator *)op_obj)->op;
  if (!op) {
    PyErr_SetString(PyExc_ValueError, "operator is not initialised");
    return -1;
  }
  if (self->w || self->busy) {
    PyErr_SetString(PyExc_RuntimeError, "Writer.__init__ called twice");
    return -1;
  }
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0)
    return -1;
  sluice_writer *w = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_writer_open(op, path, o, &w);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  if (err) {
    sp_raise(err);
    return -1;
  }
  self->w = w;
  self->state = SP_WRITER_OPEN;
  return 0;
}

static int writer_init(sp_writer *self, PyObject *args, PyObject *kwargs) {
  PyObject *op_obj;
  sp_path path = {0};
  if (!PyArg_ParseTuple(args, "O!O&:Writer", &sp_operator_type, &op_obj, sp_path_converter, &path))
    return -1;
  int rc = init_path(self, op_obj, path.utf8, kwargs);
  Py_XDECREF(path.str);
  return rc;
}

static void writer_dealloc(sp_writer *self) {
  sluice_writer *w = self->w;
  /* Aborts an unclosed writer (a network request on S3): GIL released. */
  Py_BEGIN_ALLOW_THREADS
  sluice_writer_free(w);
  Py_END_ALLOW_THREADS
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int usable(sp_writer *self) {
  if (!self->w) {
    PyErr_SetString(PyExc_ValueError, "writer is not initialised");
    return -1;
  }
  return sp_claim(&self->busy, "writer");
}

void sp_writer_job_ended(sp_writer *self, int failed) {
  self->busy = 0;
  self->state = failed ? SP_WRITER_ABORTED : SP_WRITER_CLOSED;
}

static PyObject *writer_write(sp_writer *self, PyObject *args) {
  Py_buffer view;
  if (!PyArg_ParseTuple(args, "y*:write", &view))
    return NULL;
  if (usable(self) < 0) {
    PyBuffer_Release(&view);
    return NULL;
  }
  if (self->state != SP_WRITER_OPEN) {
    self->busy = 0;
    PyBuffer_Release(&view);
    PyErr_SetString(PyExc_ValueError, "write to a closed or aborted writer");
    return NULL;
  }
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_writer_write(self->w, view.buf, (size_t)view.len);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  Py_ssize_t len = view.len;
  PyBuffer_Release(&view);
  if (len > 0)
    self->started = 1;
  if (err) {
    self->state = SP_WRITER_ABORTED; /* the library aborted it */
    return sp_raise(err);
  }
  return PyLong_FromSsize_t(len);
}

static PyObject *writer_finish(sp_writer *self, int commit) {
  if (usable(self) < 0)
    return NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = commit ? sluice_writer_close(self->w) : sluice_writer_abort(self->w);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (err) {
    self->state = SP_WRITER_ABORTED;
    return sp_raise(err);
  }
  if (self->state == SP_WRITER_OPEN)
    self->state = commit ? SP_WRITER_CLOSED : SP_WRITER_ABORTED;
  Py_RETURN_NONE;
}

static PyObject *writer_close(sp_writer *self, PyObject *unused) {
  (void)unused;
  return writer_finish(self, 1);
}

static PyObject *writer_abort(sp_writer *self, PyObject *unused) {
  (void)unused;
  return writer_finish(self, 0);
}

static PyObject *writer_closed(sp_writer *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->state != SP_WRITER_OPEN);
}

/* The job type lives in job.c; this is its constructor. */
PyObject *sp_job_start(sp_writer *w, sp_reader *r, PyObject *kwargs);

static PyObject *writer_start_job(sp_writer *self, PyObject *args, PyObject *kwargs) {
  PyObject *reader;
  if (!PyArg_ParseTuple(args, "O:start_job", &reader))
    return NULL;
  if (!PyObject_TypeCheck(reader, &sp_reader_type)) {
    PyErr_Format(PyExc_TypeError, "write_from needs a sluice reader (File), not %.100s",
                 Py_TYPE(reader)->tp_name);
    return NULL;
  }
  if (!self->w) {
    PyErr_SetString(PyExc_ValueError, "writer is not initialised");
    return NULL;
  }
  if (self->state != SP_WRITER_OPEN || self->started) {
    PyErr_SetString(PyExc_ValueError,
                    "write_from needs a fresh writer (nothing written, not closed)");
    return NULL;
  }
  return sp_job_start(self, (sp_reader *)reader, kwargs);
}

static PyMethodDef writer_methods[] = {
    {"write", (PyCFunction)writer_write, METH_VARARGS,
     "write(data) -> int\n\nQueues data (any bytes-like object; its memory is used in place, "
     "not copied in Python).  Blocks only for backpressure."},
    {"close", (PyCFunction)writer_close, METH_NOARGS,
     "close()\n\nSends what is buffered, waits for every part and commits.  Idempotent."},
    {"abort", (PyCFunction)writer_abort, METH_NOARGS,
     "abort()\n\nDiscards everything; nothing appears at the path.  No-op after a commit."},
    {"start_job", (PyCFunction)(void (*)(void))writer_start_job, METH_VARARGS | METH_KEYWORDS,
     "start_job(reader, *, readers=None) -> Job\n\nStarts write_from(reader) followed by "
     "close() on a library thread and returns at once."},
    {NULL, NULL, 0, NULL}};

static PyObject *writer_fresh(sp_writer *self, void *closure) {
  (void)closure;
  return PyBool_FromLong(self->w && self->state == SP_WRITER_OPEN && !self->started &&
                         !self->busy);
}

static PyGetSetDef writer_getset[] = {
    {"closed", (getter)writer_closed, NULL, "True once committed or aborted", NULL},
    {"fresh", (getter)writer_fresh, NULL,
     "True while open with nothing written and no call running: start_job may take it", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_writer_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.Writer",
    .tp_basicsize = sizeof(sp_writer),
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Writer(operator, path, **writer_options): a streaming writer.",
    .tp_methods = writer_methods,
    .tp_getset = writer_getset,
    .tp_init = (initproc)writer_init,
    .tp_new = PyType_GenericNew,
};
