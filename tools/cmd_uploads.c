/* SPDX-License-Identifier: MIT */
/* sluice uploads ls / abort: the multipart uploads a killed process left
 * open on the server (sluice_uploads_list, sluice_upload_abort).  They
 * cost storage until aborted, and nothing else ever shows them. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static int usage(void) {
  fputs(
      "sluice: usage: sluice uploads ls URI | sluice uploads abort [--older-than AGE] URI "
      "[UPLOAD_ID...]; see 'sluice --help'\n",
      stderr);
  return CLI_USAGE;
}

/* One line per upload, "INITIATED  UPLOAD_ID  PATH" (the path escaped, as
 * ls does), or with --json one object a line, exact. */
static void print_upload(const struct cli_settings *s, const sluice_upload *u) {
  int64_t t = sluice_upload_initiated(u);
  if (s->json) {
    printf("{\"path\":");
    cli_json_string(stdout, sluice_upload_path(u));
    printf(",\"upload_id\":");
    cli_json_string(stdout, sluice_upload_id(u));
    printf(",\"initiated\":%" PRId64 "}\n", t);
    return;
  }
  char when[32] = "-";
  time_t tt = (time_t)t;
  struct tm tm;
  if (t >= 0 && gmtime_r(&tt, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char *id = cli_escape(sluice_upload_id(u)), *path = cli_escape(sluice_upload_path(u));
  printf("%-20s  %s  %s\n", when, id, path);
  sluice_free(id);
  sluice_free(path);
}

/* Whether abort should take u: named on the command line (when any are)
 * and old enough (when --older-than is given; an upload whose start the
 * server does not tell is never old enough, except for 0s). */
static int chosen(const struct cli_settings *s, const sluice_upload *u, int nids, char **ids,
                  int *seen, int64_t now) {
  if (nids) {
    int hit = 0;
    for (int i = 0; i < nids; i++)
      if (!strcmp(ids[i], sluice_upload_id(u))) seen[i] = hit = 1;
    if (!hit) return 0;
  }
  if (s->older_than <= 0) return 1;
  int64_t t = sluice_upload_initiated(u);
  return t >= 0 && now - t >= s->older_than;
}

int cmd_uploads(const struct cli_settings *s, int nargs, char **args) {
  if (nargs < 2) return usage();
  int abort_them = !strcmp(args[0], "abort");
  if (!abort_them && (strcmp(args[0], "ls") || nargs != 2)) return usage();
  const char *uri = args[1];
  const char *name = abort_them ? "uploads abort" : "uploads ls";
  int nids = nargs - 2;
  char **ids = args + 2;
  int *seen = calloc((size_t)nids + 1, sizeof *seen);
  if (!seen) cli_oom();
  struct cli_endpoint e;
  int rc = cli_endpoint_open(&e, uri, s, name);
  if (rc) {
    free(seen);
    return rc;
  }
  sluice_upload_lister *l = NULL;
  const sluice_upload *u;
  uint64_t aborted = 0;
  int first_rc = CLI_OK;
  int64_t now = (int64_t)time(NULL);
  /* Aborting while listing is safe: S3 pages by key marker, so an upload
   * gone from behind the marker does not shift the next page. */
  sluice_error *err = sluice_uploads_list(e.op, e.path, &l);
  while (!err && !(err = sluice_upload_lister_next(l, &u)) && u) {
    if (!abort_them) {
      print_upload(s, u);
      continue;
    }
    if (!chosen(s, u, nids, ids, seen, now)) continue;
    sluice_error *aerr = sluice_upload_abort(e.op, sluice_upload_path(u), sluice_upload_id(u));
    if (aerr) {
      int one = cli_fail(name, uri, aerr, 0);
      if (!first_rc) first_rc = one;
      continue;
    }
    aborted++;
    print_upload(s, u);
  }
  if (err) rc = cli_fail(name, uri, err, aborted > 0);
  for (int i = 0; !rc && i < nids; i++) {
    if (seen[i]) continue;
    char *id = cli_escape(ids[i]);
    fprintf(stderr, "sluice: %s %s: no upload '%s' in progress there\n", name, uri, id);
    sluice_free(id);
    if (!first_rc) first_rc = CLI_NOT_FOUND;
  }
  if (!rc && first_rc) rc = aborted ? CLI_PARTIAL : first_rc;
  if (fflush(stdout) && !rc) rc = CLI_FAILED;
  sluice_upload_lister_free(l);
  cli_endpoint_close(&e);
  free(seen);
  return rc;
}
