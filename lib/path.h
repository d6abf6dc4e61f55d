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

/* What fs asks more of a name it creates (the file a write makes, each
 * directory it makes on the way): nothing sluice_escape() would have to
 * escape, so no C1 control (U+0080..U+009F) and no byte that is not UTF-8
 * (C0 and DEL sluice__path_check() refuses everywhere).  name is one
 * component of path.  NULL when name is fine; else INVALID_ARGUMENT naming
 * op, path and name (escaped) and why.  Refused, not mapped onto another
 * name: see the comment in path.c. */
sluice_error *sluice__path_new_name(const char *op, const char *path, const char *name);

/* A listing is input from the network: a path a lister yielded for dir
 * ("" or ending in '/') must lie under dir.  NULL when it does; else
 * UNEXPECTED naming op, dir and the path, so that no key outside the
 * prefix asked for is ever taken for one inside it (copied under a name
 * nobody asked for, deleted, shown as a child of dir). */
sluice_error *sluice__path_listed_under(const char *op, const char *dir, const char *path);

/* A local path as POSIX resolves it, for file URIs: repeated '/' become
 * one, "." components go ("a/." is the directory "a/"), and the leading
 * '/' goes (the path is relative to the root "/").  ".." is kept: only the
 * file system can resolve it (through symlinks), and the fs service
 * refuses it.  malloc'd; NULL when out of memory. */
char *sluice__path_posix_clean(const char *path);

#endif
