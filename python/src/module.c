/* SPDX-License-Identifier: MIT */
/* Module init of sluice._sluice: registers the types, the structseqs and
 * the exception classes. */
#include "sluicemodule.h"

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sluice._sluice",
    .m_doc = "libsluice's C API for Python (use the `sluice` package).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__sluice(void) {
  PyTypeObject *types[] = {&sp_operator_type, &sp_reader_type, &sp_writer_type, &sp_job_type,
                           &sp_lister_type, &sp_tree_type};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (PyType_Ready(types[i]) < 0)
      return NULL;
  PyObject *m = PyModule_Create(&moduledef);
  if (!m)
    return NULL;
  if (PyModule_AddObjectRef(m, "Operator", (PyObject *)&sp_operator_type) < 0 ||
      PyModule_AddObjectRef(m, "Reader", (PyObject *)&sp_reader_type) < 0 ||
      PyModule_AddObjectRef(m, "Writer", (PyObject *)&sp_writer_type) < 0 ||
      PyModule_AddObjectRef(m, "Job", (PyObject *)&sp_job_type) < 0 ||
      PyModule_AddObjectRef(m, "Lister", (PyObject *)&sp_lister_type) < 0 ||
      PyModule_AddObjectRef(m, "TreeJob", (PyObject *)&sp_tree_type) < 0 ||
      PyModule_AddStringConstant(m, "library_version", sluice_version()) < 0 ||
      sp_structseqs_init(m) < 0 || sp_errors_init(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
