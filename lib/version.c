/* SPDX-License-Identifier: MIT */
/* The version of the library that is loaded, as opposed to the header's. */
#include "sluice.h"

const char *sluice_version(void) { return PACKAGE_VERSION; }

unsigned int sluice_version_num(void) { return SLUICE_VERSION_NUM; }
