/* SPDX-License-Identifier: MIT */
/* Paths as Python takes them: str or any os.PathLike whose __fspath__ gives
 * a str (pathlib.PurePosixPath("dir/a.txt")), never bytes, which name no
 * key.  As the "s" format did before: a NUL character is a ValueError, a
 * lone surrogate a UnicodeEncodeError (a ValueError too). */
#include "sluicemodule.h"

int sp_path_converter(PyObject *obj, void *out) {
  sp_path *p = out;
  if (!obj) { /* a later argument failed: release (Py_CLEANUP_SUPPORTED) */
    Py_CLEAR(p->str);
    return 1;
  }
  PyObject *s;
  if (PyUnicode_Check(obj)) {
    s = Py_NewRef(obj);
  } else if (!PyBytes_Check(obj) &&
             PyObject_HasAttrString((PyObject *)Py_TYPE(obj), "__fspath__")) {
    s = PyOS_FSPath(obj);
    if (!s)
      return 0;
  } else {
    PyErr_Format(PyExc_TypeError, "path must be str or os.PathLike, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return 0;
  }
  if (!PyUnicode_Check(s)) {
    PyErr_Format(PyExc_TypeError, "path: %.100s.__fspath__() gave %.100s, not str",
                 Py_TYPE(obj)->tp_name, Py_TYPE(s)->tp_name);
    Py_DECREF(s);
    return 0;
  }
  Py_ssize_t n;
  const char *utf8 = PyUnicode_AsUTF8AndSize(s, &n);
  if (utf8 && (size_t)n != strlen(utf8)) {
    PyErr_SetString(PyExc_ValueError, "path contains a NUL character");
    utf8 = NULL;
  }
  if (!utf8) {
    Py_DECREF(s);
    return 0;
  }
  p->str = s;
  p->utf8 = utf8;
  return Py_CLEANUP_SUPPORTED;
}
