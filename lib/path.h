/* SPDX-License-Identifier: MIT */
/* Path rules: the checks every path meets, and those of services that map
 * paths onto files (see lib/service.h). */
#ifndef SLUICE_LIB_PATH_H
#define SLUICE_LIB_PATH_H

#include "sluice.h"

enum {
  SLUICE__PATH_FILE = 1, /* must name an object: not "" and no trailing '/' */
  SLUICE__PATH_DIR = 2,  /* must name a directory: "" or trailing '/' */
  SLUICE__PATH_ANY = 3
};

/* What every service requires of a path, checked before the service sees
 * it: not NULL, at most 4096 bytes, no control character (they would reach
 * messages and terminals), and the shape `want` asks for.  The path itself
 * is never rewritten: an object store's key is used exactly as given.
 * `op` names the operation for messages; NULL when the path is fine. */
sluice_error *sluice__path_check(const char *op, const char *path, int want);

/* The rules of a service that maps paths onto files (fs, http): a file
 * path is a run of names joined by single '/', so a leading '/', an empty
 * component ("a//b"), "." and ".." are refused (INVALID_ARGUMENT naming op,
 * the path and why) rather than mapped onto another name.  A trailing '/'
 * (a directory) and "" (the root) are fine. */
sluice_error *sluice__path_file_rules(const char *op, const char *path);

/* A local path as POSIX resolves it, for file URIs: repeated '/' become
 * one, "." components go ("a/." is the directory "a/"), and the leading
 * '/' goes (the path is relative to the root "/").  ".." is kept: only the
 * file system can resolve it (through symlinks), and the fs service
 * refuses it.  malloc'd; NULL when out of memory. */
char *sluice__path_posix_clean(const char *path);

#endif
