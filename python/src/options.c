/* SPDX-License-Identifier: MIT */
/* Keyword arguments -> sluice_options.  The library knows every option's
 * name and rejects unknown ones (InvalidArgument), so nothing is filtered
 * here: this only turns Python values into the strings/integers the setters
 * take.  bool is tested before int because True is an int in Python. */
#include "sluicemodule.h"

int sp_options_from_kwargs(PyObject *kwargs, sluice_options **out) {
  *out = NULL;
  if (!kwargs || PyDict_Size(kwargs) == 0)
    return 0;
  sluice_options *o = sluice_options_new();
  if (!o) {
    PyErr_NoMemory();
    return -1;
  }
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(kwargs, &pos, &key, &value)) {
    const char *name = PyUnicode_AsUTF8(key);
    if (!name)
      goto fail;
    sluice_error *err = NULL;
    if (value == Py_None) {
      continue;
    } else if (PyBool_Check(value)) {
      err = sluice_options_set(o, name, value == Py_True ? "true" : "false");
    } else if (PyLong_Check(value)) {
      unsigned long long v = PyLong_AsUnsignedLongLong(value);
      if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "option %s must be a non-negative integer", name);
        goto fail;
      }
      err = sluice_options_set_uint(o, name, (uint64_t)v);
    } else if (PyUnicode_Check(value)) {
      Py_ssize_t n;
      const char *s = PyUnicode_AsUTF8AndSize(value, &n);
      if (!s)
        goto fail;
      if ((size_t)n != strlen(s)) {
        PyErr_Format(PyExc_ValueError, "option %s contains a NUL character", name);
        goto fail;
      }
      err = sluice_options_set(o, name, s);
    } else {
      PyErr_Format(PyExc_TypeError, "option %s must be str, int or bool, not %.100s", name,
                   Py_TYPE(value)->tp_name);
      goto fail;
    }
    if (err) {
      sp_raise(err);
      goto fail;
    }
  }
  *out = o;
  return 0;
fail:
  sluice_options_free(o);
  return -1;
}
