/* SPDX-License-Identifier: MIT */
/* Keyword arguments -> sluice_options.  The library knows every option's
 * name and rejects unknown ones (InvalidArgument), so nothing is filtered
 * here: this only turns Python values into the strings/integers the setters
 * take.  bool is tested before int because True is an int in Python;
 * an os.PathLike counts as its str, and user_metadata may be a dict. */
#include "sluicemodule.h"

/* user_metadata={"name": "value", ...} -> the option's "name=value&..."
 * form.  The library checks names and values; only what that form cannot
 * carry ('&' anywhere, '=' in a name) and non-str items are refused here. */
static int user_metadata(sluice_options *o, PyObject *dict) {
  PyObject *parts = PyList_New(0), *key, *value;
  Py_ssize_t pos = 0;
  int rc = -1;
  while (parts && PyDict_Next(dict, &pos, &key, &value)) {
    if (!PyUnicode_Check(key) || !PyUnicode_Check(value)) {
      PyErr_Format(PyExc_TypeError, "user_metadata names and values must be str, not %.100s",
                   Py_TYPE(PyUnicode_Check(key) ? value : key)->tp_name);
      goto out;
    }
    if (PyUnicode_FindChar(key, '=', 0, PY_SSIZE_T_MAX, 1) != -1 ||
        PyUnicode_FindChar(key, '&', 0, PY_SSIZE_T_MAX, 1) != -1 ||
        PyUnicode_FindChar(value, '&', 0, PY_SSIZE_T_MAX, 1) != -1) {
      PyErr_Format(PyExc_ValueError,
                   "user_metadata %R: a name may not hold '=' or '&', nor a value '&'", key);
      goto out;
    }
    PyObject *pair = PyUnicode_FromFormat("%U=%U", key, value);
    if (!pair || PyList_Append(parts, pair) < 0) {
      Py_XDECREF(pair);
      goto out;
    }
    Py_DECREF(pair);
  }
  if (!parts)
    return -1;
  PyObject *amp = PyUnicode_FromString("&");
  PyObject *joined = amp ? PyUnicode_Join(amp, parts) : NULL;
  Py_XDECREF(amp);
  sp_path text = {0};
  if (joined && sp_path_converter(joined, &text)) { /* UTF-8 without NUL, as for a path */
    sluice_error *err = sluice_options_set(o, "user_metadata", text.utf8);
    Py_DECREF(text.str);
    rc = err ? (sp_raise(err), -1) : 0;
  } else if (joined && PyErr_ExceptionMatches(PyExc_ValueError)) {
    PyErr_Clear();
    PyErr_SetString(PyExc_ValueError, "user_metadata contains a NUL character");
  }
  Py_XDECREF(joined);
out:
  Py_XDECREF(parts);
  return rc;
}

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
    } else if (PyUnicode_Check(value) ||
               PyObject_HasAttrString((PyObject *)Py_TYPE(value), "__fspath__")) {
      /* str, or an os.PathLike such as root=pathlib.Path(...) */
      sp_path text = {0};
      if (!sp_path_converter(value, &text)) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
          PyErr_Clear();
          PyErr_Format(PyExc_ValueError, "option %s contains a NUL character", name);
        }
        goto fail;
      }
      err = sluice_options_set(o, name, text.utf8);
      Py_DECREF(text.str);
    } else if (PyDict_Check(value) && strcmp(name, "user_metadata") == 0) {
      if (user_metadata(o, value) < 0)
        goto fail;
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
