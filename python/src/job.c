/* SPDX-License-Identifier: MIT */
/* sluice._sluice.Job: a running write_from + close (sluice_job_start).
 * It holds references to its Writer and Reader and keeps both busy, since
 * the C job borrows them until it has ended.  Python learns that the job
 * ended from its fd: asyncio watches it with loop.add_reader (no thread
 * parked per copy), and the blocking wait() polls it with the GIL released
 * and wakes for signals, so Ctrl-C can cancel a synchronous write_from.
 * Progress is read with sluice_job_progress() from the waiting side instead
 * of a C callback, so no Python code ever runs on a library worker thread. */
#include <errno.h>
#include <poll.h>

#include "sluicemodule.h"

typedef struct {
  sp_jobhead base;
  sp_writer *writer;
  sp_reader *reader;
  int ended; /* outcome collected: writer and reader released */
} sp_job;

PyObject *sp_job_start(sp_writer *w, sp_reader *r, PyObject *kwargs) {
  if (!r->r) {
    PyErr_SetString(PyExc_ValueError, "write_from from a closed reader");
    return NULL;
  }
  if (sp_claim(&w->busy, "writer") < 0)
    return NULL;
  if (sp_claim(&r->busy, "reader") < 0) {
    w->busy = 0;
    return NULL;
  }
  sluice_options *o = NULL;
  sp_job *self = NULL;
  if (sp_options_from_kwargs(kwargs, &o) < 0 || !(self = PyObject_New(sp_job, &sp_job_type)))
    goto fail;
  self->base.job = NULL;
  self->ended = 0;
  self->writer = (sp_writer *)Py_NewRef(w);
  self->reader = (sp_reader *)Py_NewRef(r);
  w->started = 1;
  sluice_error *err = sluice_job_start(w->w, r->r, o, &self->base.job);
  sluice_options_free(o);
  o = NULL;
  if (err) {
    Py_DECREF(self);
    sp_raise(err);
    /* the writer was never handed over; a failed start leaves it unusable */
    w->state = SP_WRITER_ABORTED;
    return NULL;
  }
  return (PyObject *)self;
fail:
  sluice_options_free(o);
  w->busy = 0;
  r->busy = 0;
  return NULL;
}

static void release(sp_job *self, int failed) {
  if (self->ended)
    return;
  self->ended = 1;
  sp_writer_job_ended(self->writer, failed);
  self->reader->busy = 0;
}

static void job_dealloc(sp_job *self) {
  sluice_job *job = self->base.job;
  /* Cancels a running job and joins its thread: GIL released. */
  Py_BEGIN_ALLOW_THREADS
  sluice_job_free(job);
  Py_END_ALLOW_THREADS
  /* An outcome never collected: the writer is closed or aborted by now and
   * is no longer the job's (a no-op when result() ran). */
  release(self, 1);
  Py_XDECREF(self->writer);
  Py_XDECREF(self->reader);
  PyObject_Free(self);
}

PyObject *sp_job_fileno(PyObject *self, PyObject *unused) {
  (void)unused;
  return PyLong_FromLong(sluice_job_fd(((sp_jobhead *)self)->job));
}

PyObject *sp_job_done(PyObject *self, PyObject *unused) {
  (void)unused;
  return PyBool_FromLong(sluice_job_done(((sp_jobhead *)self)->job));
}

PyObject *sp_job_cancel(PyObject *self, PyObject *unused) {
  (void)unused;
  sluice_job_cancel(((sp_jobhead *)self)->job);
  Py_RETURN_NONE;
}

PyObject *sp_job_progress(PyObject *self, PyObject *unused) {
  (void)unused;
  sluice_progress p = {.struct_size = sizeof p};
  sluice_error *err = sluice_job_progress(((sp_jobhead *)self)->job, &p);
  if (err)
    return sp_raise(err);
  return sp_progress_new(&p);
}

PyObject *sp_job_wait(PyObject *self, PyObject *args) {
  PyObject *timeout_obj = Py_None;
  if (!PyArg_ParseTuple(args, "|O:wait", &timeout_obj))
    return NULL;
  int timeout_ms = -1;
  if (timeout_obj != Py_None) {
    double t = PyFloat_AsDouble(timeout_obj);
    if (t == -1.0 && PyErr_Occurred())
      return NULL;
    if (t < 0) {
      PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 or None");
      return NULL;
    }
    timeout_ms = t > 86400.0 ? 86400000 : (int)(t * 1000.0);
  }
  struct pollfd pfd = {.fd = sluice_job_fd(((sp_jobhead *)self)->job), .events = POLLIN};
  for (;;) {
    int rc, saved;
    Py_BEGIN_ALLOW_THREADS
    rc = poll(&pfd, 1, timeout_ms);
    saved = errno;
    Py_END_ALLOW_THREADS
    if (rc >= 0)
      return PyBool_FromLong(rc > 0);
    if (saved != EINTR) {
      errno = saved;
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* A signal: let Python run its handler (KeyboardInterrupt raises). */
    if (PyErr_CheckSignals() < 0)
      return NULL;
  }
}

/* result() -> None: the outcome; blocks (GIL released) until the end. */
static PyObject *job_result(sp_job *self, PyObject *unused) {
  (void)unused;
  sluice_error *err;
  sluice_job *job = self->base.job;
  Py_BEGIN_ALLOW_THREADS
  err = sluice_job_wait(job);
  Py_END_ALLOW_THREADS
  release(self, err != NULL);
  if (err)
    return sp_raise(err);
  Py_RETURN_NONE;
}

static PyMethodDef job_methods[] = {
    {"fileno", (PyCFunction)sp_job_fileno, METH_NOARGS,
     "fileno() -> int\n\nAn fd that becomes readable when the job has ended (for "
     "loop.add_reader / select).  Owned by the job: do not read or close it."},
    {"done", (PyCFunction)sp_job_done, METH_NOARGS, "done() -> bool"},
    {"cancel", (PyCFunction)sp_job_cancel, METH_NOARGS,
     "cancel()\n\nAsks the job to stop: it ends soon with Canceled and the destination "
     "aborted."},
    {"progress", (PyCFunction)sp_job_progress, METH_NOARGS, "progress() -> Progress"},
    {"wait", (PyCFunction)sp_job_wait, METH_VARARGS,
     "wait(timeout=None) -> bool\n\nBlocks (GIL released) until the job ends or timeout "
     "seconds pass; True when it has ended.  Signal handlers run while waiting."},
    {"result", (PyCFunction)job_result, METH_NOARGS,
     "result()\n\nWaits for the end and returns None or raises the job's error."},
    {NULL, NULL, 0, NULL}};

PyTypeObject sp_job_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sluice._sluice.Job",
    .tp_basicsize = sizeof(sp_job),
    .tp_dealloc = (destructor)job_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A running write_from (see Writer.start_job).  Freed: canceled and joined.",
    .tp_methods = job_methods,
};
