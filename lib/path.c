/* SPDX-License-Identifier: MIT */
/* Path normalisation: every service sees the same, already-safe form. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "path.h"

#define SLUICE__PATH_MAX 4096

sluice_error *sluice__path_normalize(const char *op, const char *path, int want, char **out) {
  *out = NULL;
  if (!path) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is NULL", op);
  size_t len = strlen(path);
  if (len > SLUICE__PATH_MAX)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is longer than %d bytes", op,
                         SLUICE__PATH_MAX);
  for (const char *p = path; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "%s: path contains a control character", op);
  char *res = malloc(len + 2);
  if (!res) return sluice__error_oom();
  size_t n = 0;
  int is_dir = len == 0 || path[len - 1] == '/';
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    const char *end = strchr(p, '/');
    size_t clen = end ? (size_t)(end - p) : strlen(p);
    if (clen == 0) break;
    if (clen == 2 && p[0] == '.' && p[1] == '.') {
      free(res);
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "%s '%s': '..' is not allowed (paths stay under the root)", op, path);
    }
    if (!(clen == 1 && p[0] == '.')) {
      if (n) res[n++] = '/';
      memcpy(res + n, p, clen);
      n += clen;
    } else if (!end) {
      is_dir = 1; /* "a/." names the directory a */
    }
    p += clen;
  }
  if (n && is_dir) res[n++] = '/';
  res[n] = '\0';
  if (n == 0) is_dir = 1;
  if (want == SLUICE__PATH_FILE && is_dir) {
    free(res);
    if (!*path) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: path is empty", op);
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY,
                         "%s '%s': path names a directory, not an object", op, path);
  }
  if (want == SLUICE__PATH_DIR && !is_dir) {
    free(res);
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s '%s': a directory path must end in '/'",
                         op, path);
  }
  *out = res;
  return NULL;
}
