/* SPDX-License-Identifier: MIT */
/* Operator internals shared with the reader and writer layers. */
#ifndef SLUICE_LIB_OPERATOR_H
#define SLUICE_LIB_OPERATOR_H

#include <stdatomic.h>

#include "service.h"

struct sluice_operator {
  const sluice__service_vt *vt;
  void *svc;
  /* The caller's handle plus one per reader, writer or lister opened on
   * it, so frees may come in any order. */
  atomic_int refs;
};

void sluice__operator_ref(sluice_operator *op);
void sluice__operator_unref(sluice_operator *op);

#endif
