/* SPDX-License-Identifier: MIT */
/* Path normalisation shared by every service (see lib/service.h). */
#ifndef SLUICE_LIB_PATH_H
#define SLUICE_LIB_PATH_H

#include "sluice.h"

enum {
  SLUICE__PATH_FILE = 1,  /* must name an object: not "" and no trailing '/' */
  SLUICE__PATH_DIR = 2,   /* must name a directory: "" or trailing '/' */
  SLUICE__PATH_ANY = 3
};

/* Normalises path into a new string (*out, free()): drops the leading '/',
 * empty and "." components; refuses ".." (a path never leaves the root),
 * NUL-free control characters and paths over 4096 bytes.  A directory
 * keeps one trailing '/'.  `op` names the operation for messages. */
sluice_error *sluice__path_normalize(const char *op, const char *path, int want, char **out);

#endif
