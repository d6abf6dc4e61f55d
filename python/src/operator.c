/* SPDX-License-Identifier: MIT */
/* sluice._sluice.Operator: one libsluice operator, and the whole-object
 * calls on it (stat, read, write, delete, copy, list...).  Every call that
 * may touch the service runs with the GIL released; the operator itself is
 * thread-safe in C, so no busy flag is needed here.  Metadata, Entry and
 * Progress are struct sequences: immutable snapshots, cheap to build, with
 * named fields and tuple behaviour for free. */
#include "sluicemodule.h"

PyTypeObject *sp_metadata_type, *sp_entry_type, *sp_progress_type;

static PyStructSequence_Field metadata_fields[] = {
    {"size", "object size in bytes"},
    {"is_dir", "True for a directory"},
    {"mtime", "last modification, seconds since the epoch, or None"},
    {"etag", "the service's ETag, or None"},
    {"content_type", "stored content type, or None"},
    {"user_metadata", "dict of the user metadata stored with the object (s3's x-amz-meta-*; "
                      "names lowercase on S3); empty when none or from a listing"},
    {NULL, NULL}};
/* user_metadata is a named field only, not in the tuple: code that unpacks
 * the five fields keeps working. */
static PyStructSequence_Desc metadata_desc = {"sluice.Metadata", "Metadata of an object.",
                                              metadata_fields, 5};
static PyStructSequence_Field entry_fields[] = {
    {"path", "path relative to the operator's root ('dir/' for a directory)"},
    {"metadata", "Metadata of the entry"},
    {NULL, NULL}};
static PyStructSequence_Desc entry_desc = {"sluice.Entry", "One entry of a listing.",
                                           entry_fields, 2};
static PyStructSequence_Field progress_fields[] = {
    {"bytes_read", "read from the source so far"},
    {"bytes_written", "acknowledged by the destination"},
    {"total_bytes", "source size, or None when unknown"},
    {"parts_done", "chunks completed"},
    {"parts_in_flight", "chunks being sent"},
    {"ring_used", "chunks queued between readers and workers"},
    {"ring_capacity", "capacity of that queue"},
    {"retries", "requests retried"},
    {"objects_done", "tree jobs: objects copied"},
    {"objects_failed", "tree jobs: objects that failed"},
    {"objects_skipped", "tree jobs: objects already the same at the destination"},
    {"objects_deleted", "tree jobs: objects deleted at the destination"},
    {"objects_total", "tree jobs: objects seen so far (all of them once listing ended)"},
    {"objects_would_copy", "dry_run: objects a real run would copy"},
    {"objects_would_delete", "dry_run: objects a real run would delete"},
    {NULL, NULL}};
static PyStructSequence_Desc progress_desc = {
    "sluice.Progress", "A snapshot of a write_from's or a tree job's progress.", progress_fields,
    15};

int sp_structseqs_init(PyObject *module) {
  if (!(sp_metadata_type = PyStructSequence_NewType(&metadata_desc)) ||
      !(sp_entry_type = PyStructSequence_NewType(&entry_desc)) ||
      !(sp_progress_type = PyStructSequence_NewType(&progress_desc)))
    return -1;
  if (PyModule_AddObjectRef(module, "Metadata", (PyObject *)sp_metadata_type) < 0 ||
      PyModule_AddObjectRef(module, "Entry", (PyObject *)sp_entry_type) < 0 ||
      PyModule_AddObjectRef(module, "Progress", (PyObject *)sp_progress_type) < 0)
    return -1;
  return 0;
}

static PyObject *str_or_none(const char *s) {
  if (!s)
    Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "backslashreplace");
}

static int set_items(PyObject *seq, PyObject **items, int n) {
  for (int i = 0; i < n; i++) {
    if (!items[i]) {
      for (int j = i + 1; j < n; j++)
        Py_XDECREF(items[j]);
      return -1;
    }
    PyStructSequence_SetItem(seq, i, items[i]); /* steals */
  }
  return 0;
}

PyObject *sp_progress_new(const sluice_progress *p) {
  PyObject *seq = PyStructSequence_New(sp_progress_type);
  if (!seq)
    return NULL;
  PyObject *items[15] = {
      PyLong_FromUnsignedLongLong(p->bytes_read),
      PyLong_FromUnsignedLongLong(p->bytes_written),
      p->total_bytes == UINT64_MAX ? Py_NewRef(Py_None)
                                   : PyLong_FromUnsignedLongLong(p->total_bytes),
      PyLong_FromUnsignedLongLong(p->parts_done),
      PyLong_FromUnsignedLong(p->parts_in_flight),
      PyLong_FromUnsignedLong(p->ring_used),
      PyLong_FromUnsignedLong(p->ring_capacity),
      PyLong_FromUnsignedLongLong(p->retries),
      PyLong_FromUnsignedLongLong(p->objects_done),
      PyLong_FromUnsignedLongLong(p->objects_failed),
      PyLong_FromUnsignedLongLong(p->objects_skipped),
      PyLong_FromUnsignedLongLong(p->objects_deleted),
      PyLong_FromUnsignedLongLong(p->objects_total),
      PyLong_FromUnsignedLongLong(p->objects_would_copy),
      PyLong_FromUnsignedLongLong(p->objects_would_delete),
  };
  if (set_items(seq, items, 15) < 0) {
    Py_DECREF(seq);
    return NULL;
  }
  return seq;
}

static PyObject *user_dict(const sluice_metadata *m) {
  PyObject *d = PyDict_New();
  const char *name, *value;
  for (size_t i = 0; d && sluice_metadata_user(m, i, &name, &value) == 0; i++) {
    PyObject *k = str_or_none(name), *v = str_or_none(value);
    if (!k || !v || PyDict_SetItem(d, k, v) < 0)
      Py_CLEAR(d);
    Py_XDECREF(k);
    Py_XDECREF(v);
  }
  return d;
}

PyObject *sp_metadata_new(const sluice_metadata *m) {
  PyObject *seq = PyStructSequence_New(sp_metadata_type);
  if (!seq)
    return NULL;
  int64_t mtime = sluice_metadata_mtime(m);
  PyObject *items[6] = {
      PyLong_FromUnsignedLongLong(sluice_metadata_size(m)),
      PyBool_FromLong(sluice_metadata_is_dir(m)),
      mtime < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(mtime),
      str_or_none(sluice_metadata_etag(m)),
      str_or_none(sluice_metadata_content_type(m)),
      user_dict(m),
  };
  if (set_items(seq, items, 6) < 0) {
    Py_DECREF(seq);
    return NULL;
  }
  return seq;
}

/* ---- Operator ---------------------------------------------------------- */

static int operator_init(sp_operator *self, PyObject *args, PyObject *kwargs) {
  const char *scheme;
  if (!PyArg_ParseTuple(args, "s:Operator", &scheme))
    return -1;
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0)
    return -1;
  sluice_operator *op = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_operator_new(scheme, o, &op);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  if (err) {
    sp_raise(err);
    return -1;
  }
  sluice_operator_free(self->op); /* __init__ called twice */
  self->op = op;
  return 0;
}

static void operator_dealloc(sp_operator *self) {
  /* Readers, writers and jobs keep the C operator alive on their own; the
   * last free may join a service's threads: GIL released. */
  sluice_operator *op = self->op;
  Py_BEGIN_ALLOW_THREADS
  sluice_operator_free(op);
  Py_END_ALLOW_THREADS
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static sluice_operator *get_op(sp_operator *self) {
  if (!self->op)
    PyErr_SetString(PyExc_ValueError, "operator is not initialised");
  return self->op;
}

static PyObject *operator_from_uri(PyTypeObject *cls, PyObject *args, PyObject *kwargs) {
  sp_path uri = {0};
  if (!PyArg_ParseTuple(args, "O&:from_uri", sp_path_converter, &uri))
    return NULL;
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0) {
    Py_XDECREF(uri.str);
    return NULL;
  }
  sluice_operator *op = NULL;
  char *path = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_operator_from_uri(uri.utf8, o, &op, &path);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  Py_XDECREF(uri.str);
  if (err)
    return sp_raise(err);
  sp_operator *self = (sp_operator *)cls->tp_alloc(cls, 0);
  if (!self) {
    sluice_operator_free(op);
    sluice_free(path);
    return NULL;
  }
  self->op = op;
  PyObject *pystr = str_or_none(path);
  sluice_free(path);
  if (!pystr) {
    Py_DECREF(self);
    return NULL;
  }
  PyObject *res = PyTuple_Pack(2, (PyObject *)self, pystr);
  Py_DECREF(self);
  Py_DECREF(pystr);
  return res;
}

static PyObject *operator_stat(sp_operator *self, PyObject *args) {
  sp_path path = {0};
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTuple(args, "O&:stat", sp_path_converter, &path))
    return NULL;
  sluice_metadata *m = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_stat(op, path.utf8, &m);
  Py_END_ALLOW_THREADS
  Py_XDECREF(path.str);
  if (err)
    return sp_raise(err);
  PyObject *res = sp_metadata_new(m);
  sluice_metadata_free(m);
  return res;
}

/* A non-negative integer argument; ValueError (not OverflowError, and not
 * the silent wrap of the "K" format) for a negative one. */
static int u64_arg(PyObject *obj, const char *name, uint64_t *out) {
  if (!PyLong_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name, Py_TYPE(obj)->tp_name);
    return -1;
  }
  unsigned long long v = PyLong_AsUnsignedLongLong(obj);
  if (v == (unsigned long long)-1 && PyErr_Occurred()) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s must be a non-negative integer below 2**64", name);
    return -1;
  }
  *out = v;
  return 0;
}

static PyObject *operator_read(sp_operator *self, PyObject *args, PyObject *kwargs) {
  static char *kw[] = {"path", "offset", "length", NULL};
  sp_path path = {0};
  PyObject *offset_obj = NULL, *length_obj = Py_None;
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTupleAndKeywords(args, kwargs, "O&|OO:read", kw, sp_path_converter,
                                          &path, &offset_obj, &length_obj))
    return NULL;
  uint64_t offset = 0, length = UINT64_MAX;
  if ((offset_obj && u64_arg(offset_obj, "offset", &offset) < 0) ||
      (length_obj != Py_None && u64_arg(length_obj, "length", &length) < 0)) {
    Py_XDECREF(path.str);
    return NULL;
  }
  void *buf = NULL;
  size_t n = 0;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_read(op, path.utf8, offset, length, &buf, &n);
  Py_END_ALLOW_THREADS
  Py_XDECREF(path.str);
  if (err)
    return sp_raise(err);
  /* One copy into the bytes object: sluice_read owns its buffer.  Large
   * objects belong in open(path, "rb").readinto(). */
  PyObject *res = PyBytes_FromStringAndSize(buf, (Py_ssize_t)n);
  sluice_free(buf);
  return res;
}

static PyObject *operator_write(sp_operator *self, PyObject *args, PyObject *kwargs) {
  sp_path path = {0};
  Py_buffer view;
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTuple(args, "O&y*:write", sp_path_converter, &path, &view))
    return NULL;
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0) {
    PyBuffer_Release(&view);
    Py_XDECREF(path.str);
    return NULL;
  }
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_write(op, path.utf8, view.buf, (size_t)view.len, o);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  PyBuffer_Release(&view);
  Py_XDECREF(path.str);
  if (err)
    return sp_raise(err);
  Py_RETURN_NONE;
}

typedef sluice_error *(*path_call)(sluice_operator *, const char *);

static PyObject *path_only(sp_operator *self, PyObject *args, const char *fmt, path_call call) {
  sp_path path = {0};
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTuple(args, fmt, sp_path_converter, &path))
    return NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = call(op, path.utf8);
  Py_END_ALLOW_THREADS
  Py_XDECREF(path.str);
  if (err)
    return sp_raise(err);
  Py_RETURN_NONE;
}

static PyObject *operator_delete(sp_operator *self, PyObject *args) {
  return path_only(self, args, "O&:delete", sluice_delete);
}
static PyObject *operator_remove_all(sp_operator *self, PyObject *args) {
  return path_only(self, args, "O&:remove_all", sluice_delete_all);
}
static PyObject *operator_create_dir(sp_operator *self, PyObject *args) {
  return path_only(self, args, "O&:create_dir", sluice_create_dir);
}

static PyObject *operator_copy(sp_operator *self, PyObject *args, PyObject *kwargs) {
  sp_path src = {0}, dst = {0};
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTuple(args, "O&O&:copy", sp_path_converter, &src, sp_path_converter,
                               &dst))
    return NULL;
  sluice_options *o;
  if (sp_options_from_kwargs(kwargs, &o) < 0) {
    Py_XDECREF(src.str);
    Py_XDECREF(dst.str);
    return NULL;
  }
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_copy(op, src.utf8, dst.utf8, o);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  Py_XDECREF(src.str);
  Py_XDECREF(dst.str);
  if (err)
    return sp_raise(err);
  Py_RETURN_NONE;
}

static PyObject *operator_rename(sp_operator *self, PyObject *args) {
  sp_path src = {0}, dst = {0};
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTuple(args, "O&O&:rename", sp_path_converter, &src, sp_path_converter,
                               &dst))
    return NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_rename(op, src.utf8, dst.utf8);
  Py_END_ALLOW_THREADS
  Py_XDECREF(src.str);
  Py_XDECREF(dst.str);
  if (err)
    return sp_raise(err);
  Py_RETURN_NONE;
}

static PyObject *operator_presign(sp_operator *self, PyObject *args, PyObject *kwargs) {
  static char *kw[] = {"method", "path", "expire_second", NULL};
  const char *method;
  sp_path path = {0};
  PyObject *expires_obj;
  uint64_t expires;
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTupleAndKeywords(args, kwargs, "sO&O:presign", kw, &method,
                                          sp_path_converter, &path, &expires_obj))
    return NULL;
  if (u64_arg(expires_obj, "expire_second", &expires) < 0) {
    Py_XDECREF(path.str);
    return NULL;
  }
  char *url = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_presign(op, method, path.utf8, expires, &url);
  Py_END_ALLOW_THREADS
  Py_XDECREF(path.str);
  if (err)
    return sp_raise(err);
  PyObject *res = PyUnicode_FromString(url);
  sluice_free(url);
  return res;
}

/* ---- Lister ------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  sluice_lister *l;
  int busy;
} sp_lister;

static PyObject *operator_list(sp_operator *self, PyObject *args, PyObject *kwargs) {
  static char *kw[] = {"path", "recursive", NULL};
  sp_path path = {NULL, ""};
  int recursive = 0;
  sluice_operator *op = get_op(self);
  if (!op || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O&$p:list", kw, sp_path_converter,
                                          &path, &recursive))
    return NULL;
  sluice_options *o = NULL;
  sluice_error *err = NULL;
  if (recursive && !(o = sluice_options_new())) {
    Py_XDECREF(path.str);
    return PyErr_NoMemory();
  }
  if (recursive && (err = sluice_options_set(o, "recursive", "true"))) {
    sluice_options_free(o);
    Py_XDECREF(path.str);
    return sp_raise(err);
  }
  sp_lister *lister = PyObject_New(sp_lister, &sp_lister_type);
  if (!lister) {
    sluice_options_free(o);
    Py_XDECREF(path.str);
    return NULL;
  }
  lister->l = NULL;
  lister->busy = 0;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_list(op, path.utf8, o, &lister->l);
  Py_END_ALLOW_THREADS
  sluice_options_free(o);
  Py_XDECREF(path.str);
  if (err) {
    Py_DECREF(lister);
    return sp_raise(err);
  }
  return (PyObject *)lister;
}

static void lister_dealloc(sp_lister *self) {
  sluice_lister *l = self->l;
  Py_BEGIN_ALLOW_THREADS
  sluice_lister_free(l);
  Py_END_ALLOW_THREADS
  PyObject_Free(self);
}

static PyObject *lister_next(sp_lister *self) {
  if (!self->l)
    return NULL;
  if (sp_claim(&self->busy, "lister") < 0)
    return NULL;
  const sluice_entry *e = NULL;
  sluice_error *err;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_lister_next(self->l, &e);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (err)
    return sp_raise(err);
  if (!e) {
    sluice_lister *l = self->l;
    self->l = NULL;
    Py_BEGIN_ALLOW_THREADS
    sluice_lister_free(l);
    Py_END_ALLOW_THREADS
    return NULL; /* StopIteration */
  }
  PyObject *seq = PyStructSequence_New(sp_entry_type);
  if (!seq)
    return NULL;
  PyObject *items[2] = {str_or_none(sluice_entry_path(e)),
                        sp_metadata_new(sluice_entry_metadata(e))};
  if (set_items(seq, items, 2) < 0) {
    Py_DECREF(seq);
    return NULL;
  }
  return seq;
}

PyTypeObject sp_lister_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.Lister",
    .tp_basicsize = sizeof(sp_lister),
    .tp_dealloc = (destructor)lister_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Iterator over the entries of a listing (Entry).",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)lister_next,
};

static PyObject *operator_scheme(sp_operator *self, void *closure) {
  (void)closure;
  sluice_operator *op = get_op(self);
  return op ? PyUnicode_FromString(sluice_operator_scheme(op)) : NULL;
}

static PyMethodDef operator_methods[] = {
    {"from_uri", (PyCFunction)(void (*)(void))operator_from_uri,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_uri(uri, **options) -> (Operator, path)\n\nOpens the service a URI names "
     "(/abs/path, file://, memory://, s3://bucket/key, http(s)://) and returns it with the "
     "path inside it."},
    {"stat", (PyCFunction)operator_stat, METH_VARARGS,
     "stat(path) -> Metadata\n\nRaises NotFound when nothing is there."},
    {"read", (PyCFunction)(void (*)(void))operator_read, METH_VARARGS | METH_KEYWORDS,
     "read(path, offset=0, length=None) -> bytes\n\nReads a whole object (or a range) into "
     "memory; use open(path, 'rb') for large objects."},
    {"write", (PyCFunction)(void (*)(void))operator_write, METH_VARARGS | METH_KEYWORDS,
     "write(path, data, **writer_options)\n\nWrites data (any bytes-like object, not copied "
     "in Python) as a whole object; nothing is visible at path unless it all succeeds."},
    {"delete", (PyCFunction)operator_delete, METH_VARARGS,
     "delete(path)\n\nDeletes an object or an empty directory ('dir/').  Deleting what does "
     "not exist succeeds."},
    {"remove_all", (PyCFunction)operator_remove_all, METH_VARARGS,
     "remove_all(path)\n\nDeletes everything under path (a directory or a key prefix).  Not "
     "atomic."},
    {"create_dir", (PyCFunction)operator_create_dir, METH_VARARGS,
     "create_dir(path)\n\nCreates a directory (path ends in '/') and its parents."},
    {"copy", (PyCFunction)(void (*)(void))operator_copy, METH_VARARGS | METH_KEYWORDS,
     "copy(source, target, **writer_options)\n\nCopies within this operator (server-side where "
     "the service can)."},
    {"rename", (PyCFunction)operator_rename, METH_VARARGS,
     "rename(source, target)\n\nMoves the object source to target within this operator.  On "
     "fs, rename(2): atomic (target is the old file or the new one, source gone in the same "
     "step; parents of target are made).  Elsewhere a copy (server-side on s3, where the bytes "
     "never reach this process) then the deletion of source: not atomic, both paths exist "
     "meanwhile, target appears only once complete, and if the deletion fails its error is "
     "raised with the object at both paths.  Objects only: a directory raises IsADirectory."},
    {"presign", (PyCFunction)(void (*)(void))operator_presign, METH_VARARGS | METH_KEYWORDS,
     "presign(method, path, expire_second) -> str\n\nA URL that performs one request "
     "(GET, PUT, HEAD, DELETE) without credentials until it expires."},
    {"list", (PyCFunction)(void (*)(void))operator_list, METH_VARARGS | METH_KEYWORDS,
     "list(path='', *, recursive=False) -> iterator of Entry"},
    {"start_tree", (PyCFunction)(void (*)(void))sp_tree_start, METH_VARARGS | METH_KEYWORDS,
     "start_tree(src_dir, dst, dst_dir, **tree_options) -> TreeJob\n\nStarts copying (or, "
     "mode='sync', syncing) every object under src_dir to dst_dir on the Operator dst, and "
     "returns at once.  Options as sluice_tree_start's (mode, delete, compare, dry_run, include, "
     "exclude, transfers, memory_limit, bwlimit, ...)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef operator_getset[] = {
    {"scheme", (getter)operator_scheme, NULL, "the service's scheme ('fs', 's3', ...)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_operator_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.Operator",
    .tp_basicsize = sizeof(sp_operator),
    .tp_dealloc = (destructor)operator_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Operator(scheme, **options): one storage service.  Thread-safe.",
    .tp_methods = operator_methods,
    .tp_getset = operator_getset,
    .tp_init = (initproc)operator_init,
    .tp_new = PyType_GenericNew,
};
