/* SPDX-License-Identifier: MIT */
/*
 * The http service: files on an HTTP(S) server, read-only.
 *
 * Operator options:
 *   endpoint         required: http://host[:port][/base/path] or https://...;
 *                    path P is fetched as <endpoint>/<P, percent-encoded>
 *                    (the base path is used as written, already encoded)
 *   ca_file          CA bundle for https (default: the system's)
 *   max_attempts     tries per request, 1..20, default 5
 *   connect_timeout  milliseconds, 1..600000, default 10000
 *   low_speed_limit  bytes/s, 0..1 GiB, default 1024 (0: no stall detection)
 *   low_speed_time   seconds, 1..3600, default 30
 *   stall_timeout    seconds, 0..86400, default 50 (0: none): a request
 *                    that moves no byte that long, over all its attempts,
 *                    fails with TIMEOUT
 * (the request engine's settings, lib/httpreq/settings.h, as for s3).
 *
 * stat is a HEAD: size from Content-Length, mtime from Last-Modified, ETag
 * and Content-Type as sent.  Reads HEAD the file once, then fetch ranged
 * GETs (Range: bytes=a-b) pinned to what the HEAD saw, exactly as the s3
 * service does (lib/httpreq/source.c: If-Match on a strong ETag, else
 * If-Unmodified-Since on Last-Modified), positioned reads from several
 * threads at once included.  A server that answers a ranged GET with the
 * whole object (200, Range ignored) is refused with UNSUPPORTED, except
 * when the whole object was asked for.  A HEAD without Content-Length
 * (a generated page) cannot be read: UNSUPPORTED.
 *
 * HTTP has no listing and no writes: write, delete and list return
 * UNSUPPORTED; a path ending in '/' cannot be stat'ed.  Redirects are not
 * followed (a 3xx is a configuration error naming the status).  No
 * authentication, no query strings.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "error.h"
#include "http/http.h"
#include "httpreq/httpreq.h"
#include "options.h"
#include "path.h"

#define BAD(...) sluice__error(SLUICE_ERR_CONFIG_INVALID, __VA_ARGS__)

static const char *const http_config_keys[] = {"endpoint", SLUICE__HTTPREQ_SETTINGS_KEYS, NULL};

static const char *const http_writer_keys[] = {NULL};

/* An http service instance: requests unsigned, error bodies not parsed (an
 * HTTP server's error body is an HTML page). */
typedef struct http_svc {
  sluice__httpreq_settings set;
  sluice__httpreq net;
} http_svc;

/* ---- configuration ---- */

/* "http[s]://authority[/base]" into the engine's scheme_host
 * ("http://authority", scheme in lower case), host (the authority, for the
 * Host header) and base_path ("" or "/base" without trailing '/'). */
static sluice_error *load_endpoint(const sluice_options *o, sluice__httpreq *net) {
  const char *ep = sluice_options_get(o, "endpoint");
  if (!ep || !*ep)
    return BAD(
        "http: option 'endpoint' is required (http://host[:port][/base/path] or "
        "https://...)");
  const char *scheme;
  size_t skip;
  if (strncasecmp(ep, "http://", 7) == 0)
    scheme = "http", skip = 7;
  else if (strncasecmp(ep, "https://", 8) == 0)
    scheme = "https", skip = 8;
  else
    return BAD("http: endpoint '%s' must start with http:// or https://", ep);
  for (const char *c = ep; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
      return BAD(
          "http: endpoint '%s' must not contain spaces, control characters, '?' or '#' "
          "(no query string nor fragment)",
          ep);
  const char *auth = ep + skip;
  size_t alen = strcspn(auth, "/");
  if (alen == 0) return BAD("http: endpoint '%s' has no host", ep);
  if (memchr(auth, '@', alen))
    return BAD("http: endpoint '%s': user names and passwords in the URL are not supported", ep);
  /* host, [v6 address], then an optional :port */
  const char *port = NULL;
  size_t hostlen;
  if (auth[0] == '[') {
    const char *close = memchr(auth, ']', alen);
    if (!close) return BAD("http: endpoint '%s': unterminated '[' in the host", ep);
    hostlen = (size_t)(close - auth) + 1;
    if (hostlen < alen && auth[hostlen] != ':')
      return BAD("http: endpoint '%s': unexpected text after the ']' of the host", ep);
  } else {
    const char *colon = memchr(auth, ':', alen);
    hostlen = colon ? (size_t)(colon - auth) : alen;
  }
  if (hostlen == 0 || (auth[0] == '[' && hostlen <= 2))
    return BAD("http: endpoint '%s' has no host", ep);
  if (hostlen < alen) {
    port = auth + hostlen + 1;
    size_t plen = alen - hostlen - 1;
    long v = 0;
    int ok = plen > 0 && plen <= 5;
    for (size_t i = 0; ok && i < plen; i++) {
      if (!isdigit((unsigned char)port[i]))
        ok = 0;
      else
        v = v * 10 + (port[i] - '0');
    }
    if (!ok || v < 1 || v > 65535)
      return BAD("http: endpoint '%s': the port must be a number from 1 to 65535", ep);
  }
  const char *base = auth + alen;
  size_t blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/') blen--;
  if (asprintf(&net->scheme_host, "%s://%.*s", scheme, (int)alen, auth) < 0)
    net->scheme_host = NULL;
  net->host = strndup(auth, alen);
  net->base_path = strndup(base, blen);
  if (!net->scheme_host || !net->host || !net->base_path) return sluice__error_oom();
  return NULL;
}

static void http_close(void *svc) {
  http_svc *h = svc;
  sluice__httpreq_cleanup(&h->net);
  sluice__httpreq_settings_clear(&h->set);
  free(h);
}

static sluice_error *http_open(const sluice_options *config, void **svc) {
  http_svc *h = calloc(1, sizeof(*h));
  if (!h) return sluice__error_oom();
  h->net.svc = "http";
  h->net.set = &h->set;
  /* Object keys are the paths themselves: no root prefix. */
  sluice_error *err = load_endpoint(config, &h->net);
  if (!err) err = sluice__httpreq_settings_load(config, "http", &h->set);
  if (!err) err = sluice__httpreq_init(&h->net);
  if (err) {
    http_close(h);
    return err;
  }
  *svc = h;
  return NULL;
}

/* ---- reading ---- */

/* HEAD path into out; *sized says whether the reply had a Content-Length. */
static sluice_error *http_head(http_svc *h, const char *path, sluice_metadata *out, int *sized) {
  sluice__httpreq_req r = {.op = "HEAD", .path = path, .method = "HEAD", .key = path, .head = 1};
  sluice_error *err = sluice__httpreq_perform(&h->net, &r);
  if (err) {
    int status = sluice_error_http_status(err);
    if (status >= 300 && status < 400)
      sluice__error_append(err, ": redirects are not followed; use the URL it points to");
  } else {
    *sized = r.content_length != UINT64_MAX;
    out->size = *sized ? r.content_length : 0;
    out->mtime = r.last_modified;
    out->etag = r.etag[0] ? strdup(r.etag) : NULL;
    out->content_type = r.content_type[0] ? strdup(r.content_type) : NULL;
    if ((r.etag[0] && !out->etag) || (r.content_type[0] && !out->content_type))
      err = sluice__error_oom();
  }
  sluice__httpreq_req_cleanup(&r);
  return err;
}

/* path as the URL's path under the endpoint, in *rel: a leading '/' is
 * ignored (the join adds the one '/'), and otherwise the file rules apply:
 * a server resolves "." and ".." (out of the base path, even), so they
 * would fetch another file than the one named. */
static sluice_error *url_path(const char *op, const char *path, const char **rel) {
  while (*path == '/') path++;
  *rel = path;
  return sluice__path_file_rules(op, path);
}

static sluice_error *http_stat(void *svc, const char *path, sluice_metadata *out) {
  sluice_error *err = url_path("http: stat", path, &path);
  if (err) return err;
  size_t n = strlen(path);
  if (n == 0 || path[n - 1] == '/')
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "http: stat '%s': HTTP has no directories (only files can be looked "
                         "up)",
                         path);
  int sized;
  return http_head(svc, path, out, &sized);
}

static sluice_error *http_open_source(void *svc, const char *path, uint64_t offset, uint64_t length,
                                      sluice__source **out) {
  http_svc *h = svc;
  sluice_metadata meta = {.mtime = -1};
  int sized = 0;
  sluice_error *err = url_path("http: read", path, &path);
  if (err) return err;
  err = http_head(h, path, &meta, &sized);
  if (!err && !sized)
    err = sluice__error(SLUICE_ERR_UNSUPPORTED,
                        "http: read '%s': the server gave no Content-Length for it, and only "
                        "files of a known size can be read",
                        path);
  if (!err)
    err = sluice__httpreq_source_new(&h->net, path, path, &meta, offset, length, "GET", out);
  sluice__metadata_clear(&meta);
  return err;
}

/* ---- everything else: read-only ---- */

static sluice_error *read_only(const char *op, const char *path) {
  return sluice__error(SLUICE_ERR_UNSUPPORTED, "http: %s '%s': the http service is read-only", op,
                       path);
}

static sluice_error *http_remove(void *svc, const char *path) {
  (void)svc;
  return read_only("delete", path);
}

static sluice_error *http_list(void *svc, const char *dir, int recursive, sluice__list **out) {
  (void)svc;
  (void)recursive;
  *out = NULL;
  return read_only("list", dir);
}

static sluice_error *http_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                    sluice__sink **out) {
  (void)svc;
  (void)p;
  *out = NULL;
  return read_only("write", path);
}

const sluice__service_vt sluice__http_service = {
    .scheme = "http",
    .writer_keys = http_writer_keys,
    .config_keys = http_config_keys,
    .open = http_open,
    .close = http_close,
    .stat = http_stat,
    .remove = http_remove,
    .create_dir = NULL,
    .list = http_list,
    .open_source = http_open_source,
    .open_sink = http_open_sink,
    .presign = NULL,
};
