/* SPDX-License-Identifier: MIT */
/* See criterion.h: the parameterized macros live there. */
#include "criterion.h"
