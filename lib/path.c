/* SPDX-License-Identifier: MIT */
/* Path rules.  Keys reach services byte for byte; only services that map
 * them onto files add their own rules (sluice__path_file_rules). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "escape.h"
#include "path.h"

#define SLUICE__PATH_MAX 4096

sluice_error *sluice__path_check(const char *op, const char *path, int want) {
  if (!path) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is NULL", op);
  size_t len = strlen(path);
  if (len > SLUICE__PATH_MAX)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is longer than %d bytes", op,
                         SLUICE__PATH_MAX);
  for (const char *p = path; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path contains a control character",
                           op);
  int is_dir = len == 0 || path[len - 1] == '/';
  if (want == SLUICE__PATH_FILE && is_dir) {
    if (len == 0) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is empty", op);
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY,
                         "%s '%s': path names a directory, not an object", op, path);
  }
  if (want == SLUICE__PATH_DIR && !is_dir)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s '%s': a directory path must end in '/'",
                         op, path);
  return NULL;
}

sluice_error *sluice__path_file_rules(const char *op, const char *path) {
  const char *why = NULL;
  if (path[0] == '/') why = "a leading '/' (paths are relative to the root)";
  for (const char *p = path; !why && *p;) {
    size_t n = strcspn(p, "/");
    if (n == 0)
      why = "an empty component ('//'): a file name cannot be empty";
    else if (n == 1 && p[0] == '.')
      why = "a '.' component: it names its directory, not a file called '.'";
    else if (n == 2 && p[0] == '.' && p[1] == '.')
      why = "a '..' component (paths stay beneath the root)";
    p += n;
    if (*p == '/') p++; /* a trailing '/' ends the loop: a directory */
  }
  if (!why) return NULL;
  return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s '%s': not a file path: %s", op, path, why);
}

/* Refused rather than written under an escaped name (a documented,
 * reversible mapping such as "\233" for U+009B): a tree's relative paths
 * are its keys on every side, so a sync would list the escaped file as
 * another key than its source's (copied again at each run, or deleted by
 * --delete), and the escape character itself would have to be escaped in
 * every ordinary name that holds it.  Only names fs would make are
 * refused: what is already on the disk (a directory written into, a file
 * read, listed or removed) is used as it is. */
sluice_error *sluice__path_new_name(const char *op, const char *path, const char *name) {
  if (!sluice__text_needs_escape(name)) return NULL;
  return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                       "%s '%s': '%s' is not a name to create: it holds a C1 control character or "
                       "bytes that are not UTF-8 (terminals act on them wherever it is printed)",
                       op, path, name);
}

sluice_error *sluice__path_listed_under(const char *op, const char *dir, const char *path) {
  if (!strncmp(path, dir, strlen(dir))) return NULL;
  return sluice__error(SLUICE_ERR_UNEXPECTED,
                       "%s: the listing of '%s' holds '%s', which is not under it; the listing "
                       "is refused",
                       op, dir, path);
}

char *sluice__path_posix_clean(const char *path) {
  size_t len = strlen(path);
  char *res = malloc(len + 2);
  if (!res) return NULL;
  size_t n = 0;
  int is_dir = len > 0 && path[len - 1] == '/';
  for (const char *p = path; *p;) {
    while (*p == '/') p++;
    size_t clen = strcspn(p, "/");
    if (clen == 0) break;
    if (clen == 1 && p[0] == '.') {
      if (!p[1]) is_dir = 1; /* "a/." names the directory a */
    } else {
      if (n) res[n++] = '/';
      memcpy(res + n, p, clen);
      n += clen;
    }
    p += clen;
  }
  if (n && is_dir) res[n++] = '/';
  res[n] = '\0';
  return res;
}
