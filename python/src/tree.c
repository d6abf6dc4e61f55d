/* SPDX-License-Identifier: MIT */
/* sluice._sluice.TreeJob: a tree copy or sync (sluice_tree_start) between
 * two Operators, which it keeps alive until it is freed.  Waiting works as
 * for Job (the fd, polled without the GIL).  Failed objects are reported by
 * the library on its own threads, where no Python may run: the object
 * callback copies each failure into a C list that failures() turns into
 * exceptions on the caller's thread.  The list keeps at most MAX_KEPT
 * failures between two failures() calls (memory must not grow with a tree
 * that fails everywhere); the rest are counted in the progress only.  A
 * dry run's would-copy and would-delete results go the same way into a
 * second list, which planned() returns. */
/* Python.h first: it sets the feature macros (strdup is POSIX 2008). */
#include "sluicemodule.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEPT 10000

typedef struct failure {
  struct failure *next;
  char *path;
  char *message; /* NULL in the planned list */
  sluice_errkind kind;
  int retryable, http_status;
  sluice_object_action action; /* the planned list: WOULD_COPY or WOULD_DELETE */
  uint64_t bytes;
} failure;

/* A list of results the callback appends to and a caller takes whole. */
typedef struct {
  failure *head, **tail;
  size_t kept;
} result_list;

typedef struct {
  sp_jobhead base;
  PyObject *src, *dst;
  pthread_mutex_t lock; /* guards the lists: the callback runs on a job thread */
  result_list failed, planned;
  uint64_t dropped;
} sp_tree;

static void free_failures(failure *f) {
  while (f) {
    failure *next = f->next;
    free(f->path);
    free(f->message);
    free(f);
    f = next;
  }
}

static void list_init(result_list *l) {
  l->head = NULL;
  l->tail = &l->head;
  l->kept = 0;
}

/* The whole list, which is left empty; the caller frees it. */
static failure *list_take(sp_tree *self, result_list *l) {
  pthread_mutex_lock(&self->lock);
  failure *f = l->head;
  list_init(l);
  pthread_mutex_unlock(&self->lock);
  return f;
}

/* On a job thread, without the GIL: C only. */
static void on_object(const sluice_object_result *r, void *userdata) {
  sp_tree *self = userdata;
  sluice_object_action a = sluice_object_result_action(r);
  int planned = a == SLUICE_OBJECT_WOULD_COPY || a == SLUICE_OBJECT_WOULD_DELETE;
  if (a != SLUICE_OBJECT_FAILED && !planned) return;
  result_list *l = planned ? &self->planned : &self->failed;
  const sluice_error *err = sluice_object_result_error(r);
  pthread_mutex_lock(&self->lock);
  failure *f = NULL;
  if (l->kept < MAX_KEPT && (f = calloc(1, sizeof *f))) {
    f->path = strdup(sluice_object_result_path(r));
    f->action = a;
    f->bytes = sluice_object_result_bytes(r);
    if (!planned) {
      f->message = strdup(err ? sluice_error_message(err) : "failed");
      f->kind = err ? sluice_error_kind(err) : SLUICE_ERR_UNEXPECTED;
      f->retryable = err ? sluice_error_retryable(err) : 0;
      f->http_status = err ? sluice_error_http_status(err) : 0;
    }
    if (!f->path || (!planned && !f->message)) {
      free_failures(f);
      f = NULL;
    }
  }
  if (f) {
    *l->tail = f;
    l->tail = &f->next;
    l->kept++;
  } else {
    self->dropped++;
  }
  pthread_mutex_unlock(&self->lock);
}

/* start_tree once its paths are converted. */
static PyObject *start(sp_operator *src, const char *src_dir, PyObject *dst, const char *dst_dir,
                       PyObject *kwargs) {
  sluice_options *o = NULL;
  if (sp_options_from_kwargs(kwargs, &o) < 0) return NULL;
  if (!o && !(o = sluice_options_new())) return PyErr_NoMemory();
  sp_tree *self = PyObject_New(sp_tree, &sp_tree_type);
  if (!self) {
    sluice_options_free(o);
    return NULL;
  }
  self->base.job = NULL;
  self->src = Py_NewRef((PyObject *)src);
  self->dst = Py_NewRef(dst);
  pthread_mutex_init(&self->lock, NULL);
  list_init(&self->failed);
  list_init(&self->planned);
  self->dropped = 0;
  sluice_error *err = sluice_options_set_object_cb(o, on_object, self);
  if (!err) {
    Py_BEGIN_ALLOW_THREADS
    err = sluice_tree_start(src->op, src_dir, ((sp_operator *)dst)->op, dst_dir, o, &self->base.job);
    Py_END_ALLOW_THREADS
  }
  sluice_options_free(o);
  if (err) {
    Py_DECREF(self);
    return sp_raise(err);
  }
  return (PyObject *)self;
}

PyObject *sp_tree_start(sp_operator *src, PyObject *args, PyObject *kwargs) {
  sp_path src_dir = {0}, dst_dir = {0};
  PyObject *dst;
  if (!PyArg_ParseTuple(args, "O&O!O&:start_tree", sp_path_converter, &src_dir, &sp_operator_type,
                        &dst, sp_path_converter, &dst_dir))
    return NULL;
  PyObject *res = start(src, src_dir.utf8, dst, dst_dir.utf8, kwargs);
  Py_XDECREF(src_dir.str);
  Py_XDECREF(dst_dir.str);
  return res;
}

static void tree_dealloc(sp_tree *self) {
  sluice_job *job = self->base.job;
  /* Cancels a running job and joins its threads (no callback after). */
  Py_BEGIN_ALLOW_THREADS
  sluice_job_free(job);
  Py_END_ALLOW_THREADS
  free_failures(self->failed.head);
  free_failures(self->planned.head);
  pthread_mutex_destroy(&self->lock);
  Py_XDECREF(self->src);
  Py_XDECREF(self->dst);
  PyObject_Free(self);
}

static PyObject *tree_result(sp_tree *self, PyObject *unused) {
  (void)unused;
  sluice_error *err;
  sluice_job *job = self->base.job;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_job_wait(job);
  Py_END_ALLOW_THREADS
  if (err) return sp_raise(err);
  Py_RETURN_NONE;
}

/* failures() -> [(path, Error)]: the failed objects reported since the
 * last call, in the order they finished. */
static PyObject *tree_failures(sp_tree *self, PyObject *unused) {
  (void)unused;
  failure *f = list_take(self, &self->failed);
  PyObject *list = PyList_New(0);
  for (failure *i = f; list && i; i = i->next) {
    PyObject *path = PyUnicode_DecodeUTF8(i->path, (Py_ssize_t)strlen(i->path), "surrogateescape");
    PyObject *exc = sp_error_new(i->kind, i->message, i->retryable, i->http_status);
    PyObject *pair = path && exc ? PyTuple_Pack(2, path, exc) : NULL;
    Py_XDECREF(path);
    Py_XDECREF(exc);
    if (!pair || PyList_Append(list, pair) < 0) Py_CLEAR(list);
    Py_XDECREF(pair);
  }
  free_failures(f);
  return list;
}

/* planned() -> [(action, path, bytes)]: what a dry run would do, reported
 * since the last call: action "copy" or "delete". */
static PyObject *tree_planned(sp_tree *self, PyObject *unused) {
  (void)unused;
  failure *f = list_take(self, &self->planned);
  PyObject *list = PyList_New(0);
  for (failure *i = f; list && i; i = i->next) {
    PyObject *path = PyUnicode_DecodeUTF8(i->path, (Py_ssize_t)strlen(i->path), "surrogateescape");
    /* N takes path's reference, also when the tuple cannot be built. */
    PyObject *t = path ? Py_BuildValue("(sNK)",
                                       i->action == SLUICE_OBJECT_WOULD_DELETE ? "delete" : "copy",
                                       path, (unsigned long long)i->bytes)
                       : NULL;
    if (!t || PyList_Append(list, t) < 0) Py_CLEAR(list);
    Py_XDECREF(t);
  }
  free_failures(f);
  return list;
}

static PyObject *tree_dropped(sp_tree *self, void *unused) {
  (void)unused;
  pthread_mutex_lock(&self->lock);
  uint64_t n = self->dropped;
  pthread_mutex_unlock(&self->lock);
  return PyLong_FromUnsignedLongLong(n);
}

static PyMethodDef tree_methods[] = {
    {"fileno", (PyCFunction)sp_job_fileno, METH_NOARGS,
     "fileno() -> int\n\nAn fd that becomes readable when the job has ended.  Owned by the job."},
    {"done", (PyCFunction)sp_job_done, METH_NOARGS, "done() -> bool"},
    {"cancel", (PyCFunction)sp_job_cancel, METH_NOARGS,
     "cancel()\n\nStops every transfer in flight (their uploads aborted); objects already "
     "finished stay.  The job then ends with Canceled."},
    {"progress", (PyCFunction)sp_job_progress, METH_NOARGS,
     "progress() -> Progress (objects_* fields included)"},
    {"wait", (PyCFunction)sp_job_wait, METH_VARARGS,
     "wait(timeout=None) -> bool\n\nBlocks (GIL released) until the job ends or timeout "
     "seconds pass; True when it has ended."},
    {"result", (PyCFunction)tree_result, METH_NOARGS,
     "result()\n\nWaits for the end; None, or raises the job's error (Partial when some "
     "objects failed)."},
    {"failures", (PyCFunction)tree_failures, METH_NOARGS,
     "failures() -> list of (path, Error)\n\nThe failed objects reported since the last call "
     "(at most 10,000 are kept in between; see dropped)."},
    {"planned", (PyCFunction)tree_planned, METH_NOARGS,
     "planned() -> list of (action, path, bytes)\n\nWith dry_run: what a real run would do, "
     "reported since the last call; action is 'copy' or 'delete' (at most 10,000 are kept in "
     "between; see dropped)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef tree_getset[] = {
    {"dropped", (getter)tree_dropped, NULL,
     "failures (or planned entries) not kept because failures() (or planned()) was not called "
     "often enough",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject sp_tree_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.TreeJob",
    .tp_basicsize = sizeof(sp_tree),
    .tp_dealloc = (destructor)tree_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A running tree copy or sync (Operator.start_tree).  Freed: canceled and joined.",
    .tp_methods = tree_methods,
    .tp_getset = tree_getset,
};
