/* SPDX-License-Identifier: MIT */
/*
 * The CPython extension `sluice._sluice`: thin objects over libsluice's
 * public C API (include/sluice.h only).  The Pythonic surface (context
 * managers, AsyncOperator, write_from's progress loop) is in the sluice/ Python modules on
 * top of these.
 *
 * Why hand-written C and not a binding generator or ctypes/cffi:
 *  - every blocking libsluice call must run with the GIL released
 *    (Py_BEGIN_ALLOW_THREADS), and a job's fd must be polled without the
 *    GIL; ctypes releases the GIL only around a whole foreign call and cffi
 *    would need its own compiled module anyway;
 *  - writes take any buffer-protocol object and readinto fills a caller's
 *    buffer with no copy in Python: that needs PyObject_GetBuffer held
 *    across the GIL-free call, which the generators (SWIG, Cython's default
 *    conversions) would route through a bytes copy;
 *  - the error kinds map onto a class hierarchy with Python's own bases
 *    (FileNotFoundError, ...), and handles carry a "busy" flag so that two
 *    Python threads can never drive one reader or writer at once (the C API
 *    says a reader or writer belongs to one thread at a time): both are a
 *    few lines here and awkward to express in a generator's interface file.
 * Single-phase init with static type objects: the library's handles are
 * process-wide anyway and there is no subinterpreter use to support.
 */
#ifndef SLUICEMODULE_H
#define SLUICEMODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sluice.h>

typedef struct {
  PyObject_HEAD
  sluice_operator *op;
} sp_operator;

/* A call that releases the GIL marks its handle busy first, so another
 * Python thread gets a RuntimeError instead of driving the same C handle
 * concurrently; a running job keeps its writer and reader busy. */
typedef struct {
  PyObject_HEAD
  sluice_reader *r;
  uint64_t size;       /* bytes to read at open, UINT64_MAX when unknown */
  int busy;
} sp_reader;

enum sp_writer_state { SP_WRITER_OPEN, SP_WRITER_CLOSED, SP_WRITER_ABORTED };

typedef struct {
  PyObject_HEAD
  sluice_writer *w;
  int busy;
  int state;
  int started;         /* bytes written or a job started: no write_from */
} sp_writer;

extern PyTypeObject sp_operator_type, sp_reader_type, sp_writer_type, sp_job_type,
    sp_lister_type, sp_tree_type;
extern PyTypeObject *sp_metadata_type, *sp_entry_type, *sp_progress_type;
extern PyObject *sp_error_base;

/* errors.c: raises the Python exception for err and frees err; returns
 * NULL so that callers can `return sp_raise(err);`. */
PyObject *sp_raise(sluice_error *err);
/* The exception object (not raised) for those fields; NULL with an
 * exception set when Python runs out of memory. */
PyObject *sp_error_new(sluice_errkind kind, const char *message, int retryable, int http_status);
int sp_errors_init(PyObject *module);
/* Raises RuntimeError when the handle is busy; returns -1 then. */
int sp_claim(int *busy, const char *what);

/* options.c: builds options from keyword arguments (str, int, bool; None
 * skips a name).  *out is NULL when kwargs is NULL or empty.  Returns -1
 * with an exception set on a bad value. */
int sp_options_from_kwargs(PyObject *kwargs, sluice_options **out);

/* path.c: a PyArg "O&" converter for a path argument (str or an
 * os.PathLike giving str) into an sp_path, zeroed by the caller; utf8 lives
 * as long as str, which the caller releases with Py_XDECREF once the
 * call has returned. */
typedef struct {
  PyObject *str;
  const char *utf8;
} sp_path;
int sp_path_converter(PyObject *obj, void *out);

/* operator.c */
PyObject *sp_metadata_new(const sluice_metadata *m);
PyObject *sp_progress_new(const sluice_progress *p);
int sp_structseqs_init(PyObject *module);

/* writer.c: called by a job that has ended, with its outcome kind. */
void sp_writer_job_ended(sp_writer *w, int failed);

/* job.c: Job and TreeJob begin with this, so the methods that need only
 * the sluice_job are written once.  fileno, done, cancel and progress are
 * METH_NOARGS; wait(timeout=None) is METH_VARARGS: it polls the job's fd
 * with the GIL released, running signal handlers, True once it ended. */
typedef struct {
  PyObject_HEAD
  sluice_job *job;
} sp_jobhead;
PyObject *sp_job_fileno(PyObject *self, PyObject *unused);
PyObject *sp_job_done(PyObject *self, PyObject *unused);
PyObject *sp_job_cancel(PyObject *self, PyObject *unused);
PyObject *sp_job_progress(PyObject *self, PyObject *unused);
PyObject *sp_job_wait(PyObject *self, PyObject *args);

/* tree.c: Operator.start_tree(src_dir, dst, dst_dir, **options). */
PyObject *sp_tree_start(sp_operator *src, PyObject *args, PyObject *kwargs);

#endif
