/* SPDX-License-Identifier: MIT */
/* The operator: one handle over any service, and its one-shot calls. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "http/http.h"
#include "operator.h"
#include "options.h"
#include "path.h"
#include "s3/s3.h"
#include "strbuf.h"

static const sluice__service_vt *const services[] = {
    &sluice__fs_service,
    &sluice__memory_service,
    &sluice__s3_service,
    &sluice__http_service,
};

static const sluice__service_vt *find_service(const char *scheme) {
  for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
    if (strcmp(services[i]->scheme, scheme) == 0) return services[i];
  return NULL;
}

sluice_error *sluice_operator_new(const char *scheme, const sluice_options *opts,
                                  sluice_operator **out) {
  if (out) *out = NULL;
  if (!scheme || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "operator_new: scheme and out must be non-NULL");
  const sluice__service_vt *vt = find_service(scheme);
  if (!vt)
    return sluice__error(SLUICE_ERR_UNSUPPORTED, "operator_new: unknown scheme '%s'", scheme);
  sluice_error *err = sluice__opt_check_known(opts, scheme, vt->config_keys, NULL);
  if (err) return err;
  sluice_operator *op = calloc(1, sizeof(*op));
  if (!op) return sluice__error_oom();
  op->vt = vt;
  atomic_init(&op->refs, 1);
  err = vt->open(opts, &op->svc);
  if (err) {
    free(op);
    return err;
  }
  *out = op;
  return NULL;
}

void sluice__operator_ref(sluice_operator *op) {
  /* Relaxed: taking a reference needs no ordering, only atomicity. */
  atomic_fetch_add_explicit(&op->refs, 1, memory_order_relaxed);
}

void sluice__operator_unref(sluice_operator *op) {
  /* acq_rel: the last owner must see every other owner's writes before it
   * frees the service. */
  if (atomic_fetch_sub_explicit(&op->refs, 1, memory_order_acq_rel) != 1) return;
  op->vt->close(op->svc);
  free(op);
}

void sluice_operator_free(sluice_operator *op) {
  if (op) sluice__operator_unref(op);
}

const char *sluice_operator_scheme(const sluice_operator *op) { return op ? op->vt->scheme : NULL; }

static int has_prefix(const char *s, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n) != 0) return 0;
  *rest = s + n;
  return 1;
}

/* A URL path with its %XX escapes decoded (malloc'd), or NULL with *bad
 * set for a malformed escape or %00. */
static char *percent_decode(const char *s, int *bad) {
  char *out = strdup(s);
  *bad = 0;
  if (out && sluice__uri_decode(out, 0) != 0) {
    free(out);
    out = NULL;
    *bad = 1;
  }
  return out;
}

sluice_error *sluice_operator_from_uri(const char *uri, const sluice_options *opts,
                                       sluice_operator **out, char **path_out) {
  if (out) *out = NULL;
  if (path_out) *path_out = NULL;
  if (!uri || !out || !path_out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "operator_from_uri: uri, out and path_out must be non-NULL");
  const char *rest;
  const char *scheme;
  sluice_options *own = NULL;
  char *decoded = NULL; /* http: the URL path, %-decoded; rest points to it */
  if (uri[0] == '/' || has_prefix(uri, "file://", &rest) || has_prefix(uri, "fs://", &rest)) {
    if (uri[0] == '/') rest = uri;
    if (rest[0] != '/')
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "operator_from_uri '%s': a file URI needs an absolute path", uri);
    scheme = "fs";
    if (sluice_options_get(opts, "root") == NULL) {
      own = sluice_options_new();
      if (!own) return sluice__error_oom();
      sluice_error *err = sluice_options_set(own, "root", "/");
      if (err) {
        sluice_options_free(own);
        return err;
      }
      /* Carry over the caller's other settings. */
      if (opts &&
          (err = sluice__opt_check_known(opts, "fs", sluice__fs_service.config_keys, NULL))) {
        sluice_options_free(own);
        return err;
      }
      const char *v = sluice_options_get(opts, "fsync");
      if (v && (err = sluice_options_set(own, "fsync", v))) {
        sluice_options_free(own);
        return err;
      }
    }
  } else if (has_prefix(uri, "memory://", &rest) || has_prefix(uri, "mem://", &rest)) {
    scheme = "memory";
  } else if (has_prefix(uri, "s3://", &rest)) {
    /* s3://bucket/key: the bucket becomes the operator's, the key its path. */
    scheme = "s3";
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (blen == 0)
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "operator_from_uri '%s': no bucket", uri);
    char *bucket = strndup(rest, blen), *what = NULL;
    if (!bucket || !(own = sluice__options_dup(opts)) ||
        asprintf(&what, "operator_from_uri '%s': the bucket", uri) < 0) {
      free(bucket);
      sluice_options_free(own);
      return sluice__error_oom();
    }
    /* The bucket is part of the URI: a bad one is a malformed URI (the
     * caller's argument), not a bad configuration. */
    sluice_error *err = sluice__s3_check_bucket(bucket, SLUICE_ERR_INVALID_ARGUMENT, what);
    free(what);
    if (!err) err = sluice_options_set(own, "bucket", bucket);
    free(bucket);
    if (err) {
      sluice_options_free(own);
      return err;
    }
    rest = slash ? slash + 1 : "";
  } else if (has_prefix(uri, "http://", &rest) || has_prefix(uri, "https://", &rest)) {
    /* http[s]://host[:port]/path: scheme and host are the endpoint, the
     * whole URL path (percent-decoded) is the file's path. */
    scheme = "http";
    if (strpbrk(rest, "?#"))
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "operator_from_uri '%s': query strings and fragments are not supported",
                           uri);
    size_t alen = strcspn(rest, "/");
    if (alen == 0)
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "operator_from_uri '%s': no host", uri);
    int bad = 0;
    const char *upath = rest + alen;
    while (*upath == '/') upath++;
    char *endpoint = strndup(uri, (size_t)(rest - uri) + alen);
    decoded = endpoint ? percent_decode(upath, &bad) : NULL;
    if (!decoded) {
      free(endpoint);
      if (!bad) return sluice__error_oom();
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "operator_from_uri '%s': malformed %%-escape in the path", uri);
    }
    if (!(own = sluice__options_dup(opts))) {
      free(endpoint);
      free(decoded);
      return sluice__error_oom();
    }
    /* The URL's endpoint replaces any the caller gave. */
    sluice_error *err = sluice_options_set(own, "endpoint", endpoint);
    free(endpoint);
    if (err) {
      free(decoded);
      sluice_options_free(own);
      return err;
    }
    rest = decoded;
  } else {
    const char *colon = strstr(uri, "://");
    if (colon)
      return sluice__error(SLUICE_ERR_UNSUPPORTED,
                           "operator_from_uri '%s': unsupported scheme '%.*s'", uri,
                           (int)(colon - uri), uri);
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "operator_from_uri '%s': not a URI nor an absolute path", uri);
  }
  /* A local path means what POSIX makes of it ("/tmp//x" is "/tmp/x");
   * every other scheme's path is a key, kept byte for byte. */
  char *path = !strcmp(scheme, "fs") ? sluice__path_posix_clean(rest) : strdup(rest);
  free(decoded);
  if (!path) {
    sluice_options_free(own);
    return sluice__error_oom();
  }
  sluice_error *err = sluice_operator_new(scheme, own ? own : opts, out);
  sluice_options_free(own);
  if (err) {
    free(path);
    return err;
  }
  *path_out = path;
  return NULL;
}

/* ---- one-shot calls ---- */

#define CHECK_OP(name)                                                                     \
  do {                                                                                     \
    if (!op) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, name ": operator is NULL"); \
  } while (0)

sluice_error *sluice_stat(sluice_operator *op, const char *path, sluice_metadata **out) {
  if (out) *out = NULL;
  CHECK_OP("stat");
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "stat: out is NULL");
  sluice_error *err = sluice__path_check("stat", path, SLUICE__PATH_ANY);
  if (err) return err;
  sluice_metadata *m = sluice__metadata_new();
  if (!m) return sluice__error_oom();
  err = op->vt->stat(op->svc, path, m);
  if (err) {
    sluice_metadata_free(m);
    return err;
  }
  *out = m;
  return NULL;
}

sluice_error *sluice_delete(sluice_operator *op, const char *path) {
  CHECK_OP("delete");
  sluice_error *err = sluice__path_check("delete", path, SLUICE__PATH_ANY);
  if (err) return err;
  if (!*path)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "delete: refusing to delete the root");
  return op->vt->remove(op->svc, path);
}

/* Without a native remove_all: list everything under dir and delete it
 * object by object. */
static sluice_error *remove_listed(sluice_operator *op, const char *dir) {
  sluice__list *l;
  sluice_error *err = op->vt->list(op->svc, dir, 1, &l);
  if (err)
    return sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND ? (sluice_error_free(err), NULL) : err;
  for (;;) {
    char *path;
    if ((err = sluice__list_next_path(l, &path)) || !path) break;
    err = op->vt->remove(op->svc, path);
    free(path);
    if (err) break;
  }
  l->vt->free(l);
  return err;
}

sluice_error *sluice_delete_all(sluice_operator *op, const char *path) {
  CHECK_OP("delete_all");
  sluice_error *err = sluice__path_check("delete_all", path, SLUICE__PATH_ANY);
  if (err) return err;
  size_t n = strlen(path);
  if (n == 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "delete_all: refusing to delete the root");
  /* "a" means the directory "a/": a prefix without its slash would also
   * take "ab". */
  char *p = malloc(n + 2);
  if (!p) return sluice__error_oom();
  memcpy(p, path, n + 1);
  if (p[n - 1] != '/') {
    p[n] = '/';
    p[n + 1] = '\0';
  }
  err = op->vt->remove_all ? op->vt->remove_all(op->svc, p) : remove_listed(op, p);
  free(p);
  return err;
}

sluice_error *sluice_create_dir(sluice_operator *op, const char *path) {
  CHECK_OP("create_dir");
  if (!op->vt->create_dir)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "create_dir '%s': the %s service has no directories",
                         path ? path : "(null)", op->vt->scheme);
  sluice_error *err = sluice__path_check("create_dir", path, SLUICE__PATH_DIR);
  if (err) return err;
  return *path ? op->vt->create_dir(op->svc, path) : NULL;
}

sluice_error *sluice_presign(sluice_operator *op, const char *method, const char *path,
                             uint64_t expires, char **url_out) {
  if (url_out) *url_out = NULL;
  CHECK_OP("presign");
  if (!method || !url_out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "presign: method and url_out must be non-NULL");
  /* Any case, as HTTP's own method names are often written ("get"); the
   * service signs the upper-case name, the one a client sends. */
  static const char *const methods[] = {"GET", "PUT", "HEAD", "DELETE"};
  const char *known = NULL;
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
    if (!strcasecmp(method, methods[i])) known = methods[i];
  if (!known)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "presign: method '%s' is not GET, PUT, HEAD or DELETE", method);
  if (expires < 1 || expires > 604800)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "presign: expires_seconds must be 1..604800 (7 days), not %llu",
                         (unsigned long long)expires);
  if (!op->vt->presign)
    return sluice__error(SLUICE_ERR_UNSUPPORTED, "presign '%s': the %s service has no signed URLs",
                         path ? path : "(null)", op->vt->scheme);
  sluice_error *err = sluice__path_check("presign", path, SLUICE__PATH_FILE);
  if (err) return err;
  return op->vt->presign(op->svc, known, path, expires, url_out);
}

sluice_error *sluice_read(sluice_operator *op, const char *path, uint64_t offset, uint64_t length,
                          void **buf_out, size_t *len_out) {
  if (buf_out) *buf_out = NULL;
  if (len_out) *len_out = 0;
  CHECK_OP("read");
  if (!buf_out || !len_out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "read: buf_out and len_out must be non-NULL");
  sluice_error *err = sluice__path_check("read", path, SLUICE__PATH_FILE);
  if (err) return err;
  sluice__source *src;
  err = op->vt->open_source(op->svc, path, offset, length, &src);
  if (err) return err;
  size_t cap = src->size != UINT64_MAX ? (size_t)src->size : 64 * 1024;
  if (src->size != UINT64_MAX && src->size > SIZE_MAX - 1) {
    src->vt->free(src);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "read '%s': object does not fit in memory",
                         path);
  }
  unsigned char *buf = malloc(cap ? cap : 1);
  size_t len = 0;
  if (!buf) err = sluice__error_oom();
  while (!err) {
    if (len == cap) {
      if (src->size != UINT64_MAX) break; /* the whole range is in */
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) {
        err = sluice__error_oom();
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n;
    err = src->vt->read(src, buf + len, cap - len, &n);
    if (!err && n == 0) break;
    len += err ? 0 : n;
  }
  src->vt->free(src);
  if (err) {
    free(buf);
    return err;
  }
  *buf_out = buf;
  *len_out = len;
  return NULL;
}
