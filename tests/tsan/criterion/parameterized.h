/* See criterion.h: the parameterized macros live there. */
#include "criterion.h"
