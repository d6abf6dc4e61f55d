/* SPDX-License-Identifier: MIT */
/* sluice ls / stat / rm / presign: one library call each, printed for a
 * shell user. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void fmt_time(int64_t t, char *buf, size_t len) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(buf, len, "%-20s", "-");
}

/* path as a directory: "" stays "", anything else ends in one '/'.
 * Owned by the caller. */
static char *as_dir(const char *path) {
  size_t n = strlen(path);
  char *dir = malloc(n + 2);
  if (!dir) cli_oom();
  snprintf(dir, n + 2, "%s%s", path, n && path[n - 1] != '/' ? "/" : "");
  return dir;
}

/* ls prints one line per entry, "SIZE  MTIME  PATH", sizes in bytes so
 * that awk and sort can use them; directories show "DIR" and end in '/'.
 * The path is escaped (a key may hold a newline); --json prints one JSON
 * object a line instead, with the path exact. */
int cmd_ls(const struct cli_settings *s, const char *uri) {
  struct cli_endpoint e;
  int rc = cli_endpoint_open(&e, uri, s, "ls");
  if (rc) return rc;
  sluice_options *o = sluice_options_new();
  sluice_lister *l = NULL;
  if (!o) cli_oom();
  char *dir = as_dir(e.path); /* "ls dir" lists the directory, as a shell user means it */
  sluice_error *err = sluice_options_set(o, "recursive", s->recursive ? "true" : "false");
  if (!err) err = sluice_list(e.op, dir, o, &l);
  const sluice_entry *ent;
  const char *skip = dir + strspn(dir, "/");
  size_t skip_len = strlen(skip);
  while (!err && !(err = sluice_lister_next(l, &ent)) && ent) {
    const sluice_metadata *m = sluice_entry_metadata(ent);
    const char *p = sluice_entry_path(ent);
    p += strspn(p, "/");
    if (!strncmp(p, skip, skip_len)) p += skip_len;
    if (s->json) {
      printf("{\"path\":");
      cli_json_string(stdout, p);
      printf(",\"size\":%" PRIu64 ",\"dir\":%s,\"mtime\":%" PRId64 "}\n", sluice_metadata_size(m),
             sluice_metadata_is_dir(m) ? "true" : "false", sluice_metadata_mtime(m));
      continue;
    }
    char when[32], size[24];
    fmt_time(sluice_metadata_mtime(m), when, sizeof when);
    if (sluice_metadata_is_dir(m))
      snprintf(size, sizeof size, "DIR");
    else
      snprintf(size, sizeof size, "%" PRIu64, sluice_metadata_size(m));
    printf("%12s  %s  ", size, when);
    cli_put_escaped(stdout, p);
    putchar('\n');
  }
  if (err) rc = cli_fail("ls", uri, err, 0);
  if (fflush(stdout)) rc = rc ? rc : CLI_FAILED;
  sluice_lister_free(l);
  sluice_options_free(o);
  free(dir);
  cli_endpoint_close(&e);
  return rc;
}

int cmd_stat(const struct cli_settings *s, const char *uri) {
  struct cli_endpoint e;
  int rc = cli_endpoint_open(&e, uri, s, "stat");
  if (rc) return rc;
  sluice_metadata *m = NULL;
  sluice_error *err = sluice_stat(e.op, e.path, &m);
  if (err) {
    rc = cli_fail("stat", uri, err, 0);
  } else if (s->json) {
    printf("{\"uri\":");
    cli_json_string(stdout, uri);
    printf(
        ",\"size\":%" PRIu64 ",\"dir\":%s,\"mtime\":%" PRId64 ",\"etag\":", sluice_metadata_size(m),
        sluice_metadata_is_dir(m) ? "true" : "false", sluice_metadata_mtime(m));
    cli_json_string(stdout, sluice_metadata_etag(m));
    printf(",\"content_type\":");
    cli_json_string(stdout, sluice_metadata_content_type(m));
    printf("}\n");
  } else {
    char when[32];
    fmt_time(sluice_metadata_mtime(m), when, sizeof when);
    const char *etag = sluice_metadata_etag(m), *ct = sluice_metadata_content_type(m);
    char *euri = cli_escape(uri), *eetag = etag ? cli_escape(etag) : NULL;
    char *ect = ct ? cli_escape(ct) : NULL;
    printf("uri:          %s\ntype:         %s\nsize:         %" PRIu64 "\nmodified:     %s\n",
           euri, sluice_metadata_is_dir(m) ? "directory" : "object", sluice_metadata_size(m), when);
    if (eetag) printf("etag:         %s\n", eetag);
    if (ect) printf("content-type: %s\n", ect);
    sluice_free(euri);
    sluice_free(eetag);
    sluice_free(ect);
  }
  sluice_metadata_free(m);
  cli_endpoint_close(&e);
  return rc;
}

/* rm deletes one object; rm -r everything under a directory or prefix.
 * As on S3, deleting what is not there succeeds. */
int cmd_rm(const struct cli_settings *s, const char *uri) {
  struct cli_endpoint e;
  int rc = cli_endpoint_open(&e, uri, s, "rm");
  if (rc) return rc;
  sluice_error *err;
  if (s->recursive) {
    char *dir = as_dir(e.path);
    err = sluice_delete_all(e.op, dir);
    free(dir);
  } else {
    err = sluice_delete(e.op, e.path);
  }
  if (err) rc = cli_fail("rm", uri, err, s->recursive);
  cli_endpoint_close(&e);
  return rc;
}

int cmd_presign(const struct cli_settings *s, const char *uri) {
  struct cli_endpoint e;
  int rc = cli_endpoint_open(&e, uri, s, "presign");
  if (rc) return rc;
  char *url = NULL;
  sluice_error *err = sluice_presign(e.op, s->method ? s->method : "GET", e.path, s->expires, &url);
  if (err)
    rc = cli_fail("presign", uri, err, 0);
  else
    printf("%s\n", url);
  sluice_free(url);
  cli_endpoint_close(&e);
  return rc;
}
