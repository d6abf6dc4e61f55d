/* SPDX-License-Identifier: MIT */
/* One exception class per sluice_errkind, all under sluice.Error, each also
 * deriving from the built-in exception a Python user already catches for
 * that situation (a missing object is a FileNotFoundError, a bad argument a
 * ValueError), so `except FileNotFoundError` works on any service.
 * Hand-written because the second base differs per kind and the instance
 * carries the library's retryable flag, HTTP status and kind.  The
 * OSError subclasses carry an errno as Python's own do: the system call's
 * when one failed, else the one the kind means (ENOENT for NotFound). */
#include "sluicemodule.h"

#include <errno.h>

PyObject *sp_error_base;

static struct {
  sluice_errkind kind;
  const char *cls;      /* class name in the module */
  const char *name;     /* the `kind` attribute */
  PyObject **base;      /* built-in second base, or NULL */
  int errnum;           /* `errno` of an OSError subclass (0: None) */
  PyObject *type;
} kinds[] = {
    {SLUICE_ERR_NOT_FOUND, "NotFound", "not_found", &PyExc_FileNotFoundError, ENOENT, NULL},
    {SLUICE_ERR_PERMISSION_DENIED, "PermissionDenied", "permission_denied",
     &PyExc_PermissionError, EACCES, NULL},
    {SLUICE_ERR_ALREADY_EXISTS, "AlreadyExists", "already_exists", &PyExc_FileExistsError, EEXIST,
     NULL},
    {SLUICE_ERR_IS_A_DIRECTORY, "IsADirectory", "is_a_directory", &PyExc_IsADirectoryError,
     EISDIR, NULL},
    {SLUICE_ERR_INVALID_ARGUMENT, "InvalidArgument", "invalid_argument", &PyExc_ValueError, 0,
     NULL},
    {SLUICE_ERR_CONFIG_INVALID, "ConfigInvalid", "config_invalid", &PyExc_ValueError, 0, NULL},
    {SLUICE_ERR_UNSUPPORTED, "Unsupported", "unsupported", &PyExc_NotImplementedError, 0, NULL},
    {SLUICE_ERR_RATE_LIMITED, "RateLimited", "rate_limited", NULL, 0, NULL},
    {SLUICE_ERR_CONDITION_NOT_MATCH, "ConditionNotMatch", "condition_not_match", NULL, 0, NULL},
    {SLUICE_ERR_RANGE_NOT_SATISFIABLE, "RangeNotSatisfiable", "range_not_satisfiable", NULL, 0,
     NULL},
    {SLUICE_ERR_IO, "IOFailure", "io", &PyExc_OSError, EIO, NULL},
    /* A network failure has no one errno: only its cause's, when it has one. */
    {SLUICE_ERR_NETWORK, "NetworkError", "network", &PyExc_ConnectionError, 0, NULL},
    {SLUICE_ERR_TIMEOUT, "Timeout", "timeout", &PyExc_TimeoutError, ETIMEDOUT, NULL},
    {SLUICE_ERR_CANCELED, "Canceled", "canceled", NULL, 0, NULL},
    {SLUICE_ERR_OUT_OF_MEMORY, "OutOfMemory", "out_of_memory", &PyExc_MemoryError, 0, NULL},
    {SLUICE_ERR_UNEXPECTED, "Unexpected", "unexpected", NULL, 0, NULL},
    {SLUICE_ERR_PARTIAL, "Partial", "partial", NULL, 0, NULL},
    {SLUICE_ERR_REJECTED, "Rejected", "rejected", NULL, 0, NULL},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

int sp_claim(int *busy, const char *what) {
  if (*busy) {
    PyErr_Format(PyExc_RuntimeError,
                 "this %s is in use by another call (a thread or a running write_from)", what);
    return -1;
  }
  *busy = 1;
  return 0;
}

/* Sets exc.errno (an OSError's attribute, None until set) to errnum; only
 * the attribute, not the (errno, strerror) arguments, so str(exc) stays the
 * library's message. */
static int set_errno(PyObject *exc, int errnum) {
  if (!errnum || !PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError))
    return 0;
  PyObject *v = PyLong_FromLong(errnum);
  int rc = v ? PyObject_SetAttrString(exc, "errno", v) : -1;
  Py_XDECREF(v);
  return rc;
}

PyObject *sp_error_new(sluice_errkind kind, const char *text, int retryable, int http_status) {
  PyObject *type = sp_error_base;
  const char *name = "unexpected";
  int errnum = 0;
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i].kind == kind) {
      type = kinds[i].type;
      name = kinds[i].name;
      errnum = kinds[i].errnum;
    }
  /* The message may quote a server's bytes: never fail on bad UTF-8. */
  PyObject *msg = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "backslashreplace");
  PyObject *exc = msg ? PyObject_CallOneArg(type, msg) : NULL;
  if (exc) {
    PyObject *retry = PyBool_FromLong(retryable);
    PyObject *status = PyLong_FromLong(http_status);
    PyObject *kname = PyUnicode_FromString(name);
    PyObject *code = PyLong_FromLong((long)kind);
    if (!(retry && status && kname && code &&
          PyObject_SetAttrString(exc, "retryable", retry) == 0 &&
          PyObject_SetAttrString(exc, "http_status", status) == 0 &&
          PyObject_SetAttrString(exc, "kind", kname) == 0 &&
          PyObject_SetAttrString(exc, "code", code) == 0 &&
          PyObject_SetAttrString(exc, "message", msg) == 0 && set_errno(exc, errnum) == 0))
      Py_CLEAR(exc);
    Py_XDECREF(retry);
    Py_XDECREF(status);
    Py_XDECREF(kname);
    Py_XDECREF(code);
  }
  Py_XDECREF(msg);
  return exc;
}

PyObject *sp_raise(sluice_error *err) {
  PyObject *exc = sp_error_new(sluice_error_kind(err), sluice_error_message(err),
                               sluice_error_retryable(err), sluice_error_http_status(err));
  /* The system call's own errno, when one failed (ENOSPC is an IOFailure). */
  if (exc && sluice_error_cause_type(err) == SLUICE_CAUSE_ERRNO &&
      set_errno(exc, sluice_error_errno(err)) < 0)
    Py_CLEAR(exc);
  if (exc) {
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
  }
  sluice_error_free(err);
  return NULL;
}

int sp_errors_init(PyObject *module) {
  sp_error_base = PyErr_NewExceptionWithDoc(
      "sluice.Error",
      "Base class of every libsluice error.  Attributes: kind (e.g. 'not_found'), code (the "
      "sluice_errkind number), retryable, http_status (0 when none) and message.",
      PyExc_Exception, NULL);
  if (!sp_error_base || PyModule_AddObjectRef(module, "Error", sp_error_base) < 0)
    return -1;
  for (size_t i = 0; i < NKINDS; i++) {
    char qual[64];
    PyOS_snprintf(qual, sizeof qual, "sluice.%s", kinds[i].cls);
    PyObject *bases = kinds[i].base ? PyTuple_Pack(2, sp_error_base, *kinds[i].base)
                                    : PyTuple_Pack(1, sp_error_base);
    if (!bases)
      return -1;
    kinds[i].type = PyErr_NewException(qual, bases, NULL);
    Py_DECREF(bases);
    if (!kinds[i].type || PyModule_AddObjectRef(module, kinds[i].cls, kinds[i].type) < 0)
      return -1;
  }
  return 0;
}
