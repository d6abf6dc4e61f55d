/* SPDX-License-Identifier: MIT */
/* From a URI on the command line to an operator and a path.  The library
 * parses URIs (sluice_operator_from_uri); the command adds what a shell
 * user expects of it: relative paths, "-" for stdin/stdout, and the
 * settings that concern each scheme (the library rejects option names a
 * service does not know, so an s3 setting must not reach an fs operator). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *scheme_of(const char *uri) {
  if (starts(uri, "s3://")) return "s3";
  if (starts(uri, "http://") || starts(uri, "https://")) return "http";
  if (starts(uri, "mem://") || starts(uri, "memory://")) return "memory";
  if (uri[0] == '/' || starts(uri, "file://") || starts(uri, "fs://")) return "fs";
  if (strstr(uri, "://")) return "?"; /* the library names the unknown scheme */
  return "fs";                        /* a relative path */
}

static int set(sluice_options *o, const char *name, const char *value) {
  if (!value) return 0;
  sluice_error *err = sluice_options_set(o, name, value);
  sluice_error_free(err);
  return err ? -1 : 0;
}

/* Operator options for scheme from the settings. */
static sluice_options *operator_options(const char *scheme, const struct cli_settings *s) {
  sluice_options *o = sluice_options_new();
  if (!o) cli_oom();
  char attempts[16] = "";
  if (s->retries >= 0) snprintf(attempts, sizeof attempts, "%d", s->retries + 1);
  int rc = 0;
  if (!strcmp(scheme, "s3")) {
    rc |= set(o, "endpoint", s->endpoint);
    rc |= set(o, "region", s->region);
    rc |= set(o, "profile", s->profile);
    rc |= set(o, "ca_file", s->ca_file);
    if (s->no_sign_request >= 0) rc |= set(o, "anonymous", s->no_sign_request ? "true" : "false");
  }
  if (!strcmp(scheme, "s3") || !strcmp(scheme, "http")) {
    if (*attempts) rc |= set(o, "max_attempts", attempts);
    if (!strcmp(scheme, "http")) rc |= set(o, "ca_file", s->ca_file);
  }
  if (rc) cli_oom(); /* the names are known ones: only memory can fail */
  return o;
}

/* A relative local path made absolute against the working directory; a
 * copy of uri otherwise.  NULL on failure. */
static char *absolute(const char *uri) {
  if (strcmp(scheme_of(uri), "fs") || uri[0] == '/' || strstr(uri, "://")) return strdup(uri);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return NULL;
  const char *rel = uri;
  while (rel[0] == '.' && rel[1] == '/') rel += 2;
  if (!strcmp(rel, ".")) rel = "";
  size_t n = strlen(cwd) + strlen(rel) + 3;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s/%s", cwd, rel);
  return out;
}

int cli_endpoint_open(struct cli_endpoint *e, const char *uri, const struct cli_settings *s,
                      const char *op_name) {
  memset(e, 0, sizeof *e);
  e->uri = uri;
  if (!strcmp(uri, "-")) {
    e->is_stdio = 1;
    strcpy(e->scheme, "-");
    return 0;
  }
  if (!*uri) {
    fprintf(stderr, "sluice: %s: empty URI\n", op_name);
    return CLI_USAGE;
  }
  const char *scheme = scheme_of(uri);
  snprintf(e->scheme, sizeof e->scheme, "%s", scheme);
  char *abs = absolute(uri);
  sluice_options *o = operator_options(scheme, s);
  if (!abs) {
    fprintf(stderr, "sluice: %s %s: cannot make the path absolute: %s\n", op_name, uri,
            strerror(errno));
    sluice_options_free(o);
    return CLI_FAILED;
  }
  sluice_error *err = sluice_operator_from_uri(abs, o, &e->op, &e->path);
  free(abs);
  sluice_options_free(o);
  if (!err) return 0;
  /* A URI the library cannot take is the user's to fix, like a bad option. */
  sluice_errkind kind = sluice_error_kind(err);
  int rc = cli_fail(op_name, uri, err, 0);
  return kind == SLUICE_ERR_UNSUPPORTED ? CLI_USAGE : rc;
}

/* The bucket part of s3://bucket/key, as a length. */
static size_t bucket_len(const char *uri) { return strcspn(uri + 5, "/"); }

static int same_store(const char *a, const char *b) {
  const char *sa = scheme_of(a), *sb = scheme_of(b);
  if (strcmp(sa, sb)) return 0;
  if (!strcmp(sa, "memory")) return 1;
  if (!strcmp(sa, "s3")) return bucket_len(a) == bucket_len(b) && !strncmp(a, b, 5 + bucket_len(a));
  return 0;
}

int cli_endpoint_open_peer(struct cli_endpoint *e, const char *uri, const struct cli_endpoint *peer,
                           const struct cli_settings *s, const char *op_name) {
  int rc = cli_endpoint_open(e, uri, s, op_name);
  if (rc || e->is_stdio || !peer->op || !same_store(uri, peer->uri)) return rc;
  /* Keep the path the library worked out; use the peer's operator. */
  sluice_operator_free(e->op);
  e->op = peer->op;
  e->shared = 1;
  return 0;
}

void cli_endpoint_close(struct cli_endpoint *e) {
  if (!e->shared) sluice_operator_free(e->op);
  sluice_free(e->path);
  e->op = NULL;
  e->path = NULL;
}

sluice_options *cli_writer_options(const struct cli_settings *s) {
  sluice_options *o = sluice_options_new();
  if (!o) cli_oom();
  int rc = set(o, "chunk", s->chunk) | set(o, "concurrent", s->concurrent) |
           set(o, "queue_depth", s->queue_depth);
  rc |= set(o, "content_type", s->content_type);
  if (s->if_not_exists) rc |= set(o, "if_not_exists", "true");
  if (rc) cli_oom();
  return o;
}
