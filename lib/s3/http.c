/* SPDX-License-Identifier: MIT */
/* S3 requests over libcurl: signing, bodies, response headers, retries. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "s3/http.h"
#include "s3/s3_error.h"
#include "s3/xml.h"

/* ---- shared connection state ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *u) {
  (void)h;
  (void)a;
  pthread_mutex_lock(&((sluice__s3 *)u)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u) {
  (void)h;
  pthread_mutex_unlock(&((sluice__s3 *)u)->share_locks[data]);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

sluice_error *sluice__s3_http_init(sluice__s3 *s3) {
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return sluice__error(SLUICE_ERR_UNEXPECTED, "%s: curl_global_init failed: %s",
                         sluice__s3_svc(s3), curl_easy_strerror(curl_init_rc));
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&s3->share_locks[i], NULL);
  pthread_mutex_init(&s3->pool_lock, NULL);
  s3->share = curl_share_init();
  if (!s3->share) return sluice__error_oom();
  curl_share_setopt(s3->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(s3->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(s3->share, CURLSHOPT_USERDATA, s3);
  curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return NULL;
}

void sluice__s3_http_cleanup(sluice__s3 *s3) {
  for (unsigned i = 0; i < s3->npool; i++) curl_easy_cleanup(s3->pool[i]);
  s3->npool = 0;
  if (s3->share) curl_share_cleanup(s3->share);
  s3->share = NULL;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&s3->share_locks[i]);
  pthread_mutex_destroy(&s3->pool_lock);
}

/* Options every attempt needs; curl_easy_reset() clears them between uses. */
static void common_options(sluice__s3 *s3, CURL *e) {
  curl_easy_setopt(e, CURLOPT_SHARE, s3->share);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s3->cfg.connect_timeout_ms);
  /* A stalled connection is detected by speed, never by a total timeout that
   * would kill a large healthy part. */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, s3->cfg.low_speed_limit);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, s3->cfg.low_speed_time);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (s3->cfg.ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, s3->cfg.ca_file);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* The path is sent as signed: a key such as "a/../d" or "a/./b" is a key
   * of its own, which curl's dot-segment squashing would turn into another. */
  curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
}

/* ---- time and backoff ---- */

int64_t sluice__s3_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sluice__s3_backoff_ms(unsigned attempt) {
  /* Full jitter (uniform in [0, min(cap, base * 2^n)]): retries from many
   * parts spread out instead of hitting a throttled server together. */
  int64_t cap = 20000, base = 100;
  int64_t ceiling = attempt >= 8 ? cap : base << attempt;
  if (ceiling > cap) ceiling = cap;
  unsigned seed = (unsigned)(sluice__s3_now_ms() ^ (uintptr_t)&attempt ^ attempt * 2654435761u);
  return (int64_t)(rand_r(&seed) % (ceiling + 1));
}

/* ---- building a request ---- */

void sluice__s3_req_header(sluice__s3_req *r, const char *name, const char *value) {
  if (r->nheaders < SLUICE__S3_MAX_HEADERS) r->headers[r->nheaders++] = (sluice__sigv4_pair){name, value};
}

void sluice__s3_req_query(sluice__s3_req *r, const char *name, const char *value) {
  if (r->nquery < SLUICE__S3_MAX_QUERY) r->query[r->nquery++] = (sluice__sigv4_pair){name, value};
}

static void buf_append(sluice__s3_buf *b, const char *data, size_t n) {
  /* Error and XML bodies only: bounded so a misbehaving server cannot make
   * us hold an object in memory. */
  if (b->len + n > (64u << 20)) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static size_t on_body(char *data, size_t size, size_t n, void *u) {
  sluice__s3_req *r = u;
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (r->range_required && status == 200) {
    /* The server ignored Range: do not download the whole object. */
    r->range_ignored = 1;
    return 0;
  }
  if (r->dst && status >= 200 && status < 300) {
    if (len > r->dst_cap - r->dst_len) return 0; /* more than asked: abort the transfer */
    memcpy(r->dst + r->dst_len, data, len);
    r->dst_len += len;
    return len;
  }
  buf_append(&r->resp, data, len);
  return len;
}

static size_t on_upload(char *out, size_t size, size_t n, void *u) {
  sluice__s3_req *r = u;
  size_t want = size * n, left = r->body_len - r->body_off;
  if (want > left) want = left;
  memcpy(out, r->body + r->body_off, want);
  r->body_off += want;
  return want;
}

/* A retry must resend the body from its start (curl asks after a redirect
 * or a reused connection that died). */
static int on_seek(void *u, curl_off_t off, int origin) {
  sluice__s3_req *r = u;
  if (origin != SEEK_SET || off < 0 || (size_t)off > r->body_len) return CURL_SEEKFUNC_FAIL;
  r->body_off = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

/* Polled by curl about once a second and on every progress: a cancel stops
 * a stalled transfer without waiting for the low-speed limit. */
static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  sluice__s3_req *r = u;
  return atomic_load(r->cancel) ? 1 : 0;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
  if (n >= cap) n = cap - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *u) {
  sluice__s3_req *r = u;
  size_t len = size * n;
  if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
    /* A new response (after 100 Continue or a redirect): forget the last. */
    r->etag[0] = r->content_type[0] = '\0';
    r->content_length = r->range_total = UINT64_MAX;
    r->last_modified = -1;
    return len;
  }
  const char *colon = memchr(data, ':', len);
  if (!colon) return len;
  size_t nlen = (size_t)(colon - data);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  char tmp[160];
  if (nlen == 4 && strncasecmp(data, "ETag", 4) == 0) {
    copy_value(r->etag, sizeof(r->etag), v, vlen);
  } else if (nlen == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
    copy_value(r->content_type, sizeof(r->content_type), v, vlen);
  } else if (nlen == 14 && strncasecmp(data, "Content-Length", 14) == 0) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    r->content_length = strtoull(tmp, NULL, 10);
  } else if (nlen == 13 && strncasecmp(data, "Content-Range", 13) == 0) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    const char *slash = strrchr(tmp, '/');
    if (slash && slash[1] != '*') r->range_total = strtoull(slash + 1, NULL, 10);
  } else if (nlen == 13 && strncasecmp(data, "Last-Modified", 13) == 0) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    time_t t = curl_getdate(tmp, NULL);
    r->last_modified = t == (time_t)-1 ? -1 : (int64_t)t;
  }
  return len;
}

static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static EVP_MD *md5_md;
/* Fetched once: OpenSSL 3 is slow when every digest re-fetches it. */
static void md5_fetch(void) { md5_md = EVP_MD_fetch(NULL, "MD5", NULL); }

static sluice_error *content_md5(sluice__s3 *s3, sluice__s3_req *r) {
  pthread_once(&md5_once, md5_fetch);
  unsigned char raw[16];
  unsigned int n = 0;
  if (!md5_md || EVP_Digest(r->body, r->body_len, raw, &n, md5_md, NULL) != 1)
    return sluice__error(SLUICE_ERR_UNEXPECTED, "%s: %s '%s': MD5 unavailable", sluice__s3_svc(s3),
                         r->op, r->path);
  EVP_EncodeBlock((unsigned char *)r->md5_b64, raw, 16);
  return NULL;
}

static sluice_error *build_url(sluice__s3 *s3, sluice__s3_req *r, char **path_out) {
  char *key = NULL;
  if (r->key) {
    sluice_error *err = sluice__sigv4_uri_encode(r->key, strlen(r->key), 1, &key);
    if (err) return err;
  }
  char *path = NULL;
  if (asprintf(&path, "%s/%s", s3->base_path, key ? key : "") < 0) path = NULL;
  free(key);
  if (!path) return sluice__error_oom();
  /* The query as sent; the signer canonicalises its own copy. */
  sluice__s3_buf q = {0};
  for (size_t i = 0; i < r->nquery; i++) {
    char *n = NULL, *v = NULL;
    const char *val = r->query[i].value ? r->query[i].value : "";
    if (sluice__sigv4_uri_encode(r->query[i].name, strlen(r->query[i].name), 0, &n) ||
        sluice__sigv4_uri_encode(val, strlen(val), 0, &v)) {
      free(n);
      free(v);
      free(q.data);
      free(path);
      return sluice__error_oom();
    }
    buf_append(&q, i ? "&" : "?", 1);
    buf_append(&q, n, strlen(n));
    buf_append(&q, "=", 1);
    buf_append(&q, v, strlen(v));
    free(n);
    free(v);
  }
  free(r->url);
  if (asprintf(&r->url, "%s%s%s", s3->scheme_host, path, q.data ? q.data : "") < 0) r->url = NULL;
  free(q.data);
  if (!r->url) {
    free(path);
    return sluice__error_oom();
  }
  *path_out = path;
  return NULL;
}

static sluice_error *add_header(sluice__s3_req *r, const char *name, const char *value) {
  char *line = NULL;
  if (asprintf(&line, "%s: %s", name, value) < 0) return sluice__error_oom();
  struct curl_slist *l = curl_slist_append(r->hdrs, line);
  free(line);
  if (!l) return sluice__error_oom();
  r->hdrs = l;
  return NULL;
}

sluice_error *sluice__s3_req_setup(sluice__s3 *s3, sluice__s3_req *r) {
  if (!r->easy && !(r->easy = curl_easy_init())) return sluice__error_oom();
  curl_easy_reset(r->easy);
  common_options(s3, r->easy);
  curl_slist_free_all(r->hdrs);
  r->hdrs = NULL;
  r->status = 0;
  r->dst_len = 0;
  r->body_off = 0;
  r->resp.len = 0;
  r->etag[0] = r->content_type[0] = '\0';
  r->content_length = r->range_total = UINT64_MAX;
  r->last_modified = -1;
  r->errbuf[0] = '\0';
  r->range_ignored = 0;

  if (r->attempts == 0) {
    /* Hashes are computed once per request, not per attempt. */
    sluice_error *err = NULL;
    if (r->content_md5 && r->body) err = content_md5(s3, r);
    if (!err && (s3->cfg.sign_payload || !r->body || r->body_len < 65536))
      err = sluice__sha256_hex(r->body, r->body ? r->body_len : 0, r->payload_hash);
    else if (!err)
      strcpy(r->payload_hash, SLUICE__SIGV4_UNSIGNED_PAYLOAD);
    if (err) return err;
  }

  char *path = NULL;
  sluice_error *err = build_url(s3, r, &path);
  if (err) return err;
  sluice__sigv4_pair hdrs[SLUICE__S3_MAX_HEADERS + 2];
  size_t nh = 0;
  hdrs[nh++] = (sluice__sigv4_pair){"Host", s3->host};
  for (size_t i = 0; i < r->nheaders; i++) hdrs[nh++] = r->headers[i];
  if (r->content_md5 && r->body) hdrs[nh++] = (sluice__sigv4_pair){"Content-MD5", r->md5_b64};

  for (size_t i = 0; i < nh && !err; i++) err = add_header(r, hdrs[i].name, hdrs[i].value ? hdrs[i].value : "");
  if (!err && !s3->cfg.anonymous) {
    sluice__sigv4_request sreq = {
        .form = SLUICE__SIGV4_HEADER,
        .method = r->method,
        .path = path,
        .query = r->query,
        .n_query = r->nquery,
        .headers = hdrs,
        .n_headers = nh,
        .payload_hash = r->payload_hash,
        .add_content_sha256 = 1,
        .access_key_id = s3->cfg.access_key_id,
        .secret_access_key = s3->cfg.secret_access_key,
        .session_token = s3->cfg.session_token,
        .region = s3->cfg.region,
        .service = "s3",
        .when = time(NULL),
        .path_encoding = SLUICE__SIGV4_ENCODE_PATH_ONCE,
    };
    sluice__sigv4_result res = {0};
    err = sluice__sigv4_sign(&sreq, &res);
    /* The signer names no request: say which one could not be signed. */
    if (err) {
      sluice_error *named = sluice__error(sluice_error_kind(err), "%s: %s '%s': %s", sluice__s3_svc(s3),
                                          r->op, r->path, sluice_error_message(err));
      sluice_error_free(err);
      err = named;
    }
    for (size_t i = 0; !err && i < res.n_headers; i++)
      err = add_header(r, res.headers[i].name, res.headers[i].value);
    sluice__sigv4_result_free(&res);
  }
  free(path);
  /* No "Expect: 100-continue": it costs a round trip per part. */
  if (!err) err = add_header(r, "Expect", "");
  if (err) return err;

  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  if (r->cancel) {
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }
  if (r->head) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    if (strcmp(r->method, "POST") == 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (strcmp(r->method, "GET") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
  return NULL;
}

sluice_error *sluice__s3_req_finish(sluice__s3 *s3, sluice__s3_req *r, CURLcode rc, int *retry) {
  const char *svc = sluice__s3_svc(s3);
  r->attempts++;
  *retry = 0;
  if (rc == CURLE_ABORTED_BY_CALLBACK && r->cancel && atomic_load(r->cancel))
    return sluice__error(SLUICE_ERR_CANCELED, "%s: %s '%s': canceled", svc, r->op, r->path);
  if (rc == CURLE_OK || r->range_ignored)
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  if (r->range_required && r->status == 200) {
    /* Also when the whole object fitted (a ranged GET that reached past a
     * shrunk object): those bytes are not the range asked for. */
    return sluice__error_set_http_status(
        sluice__error(SLUICE_ERR_UNSUPPORTED,
                      "%s: %s '%s': the server does not support ranges (it answered a ranged "
                      "request with the whole object, HTTP 200)",
                      svc, r->op, r->path),
        200);
  }
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR && r->dst && r->dst_len == r->dst_cap)
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "%s: %s '%s': the server sent more bytes than asked", svc, r->op,
                           r->path);
    sluice_error *err = sluice__s3_error_from_transport_svc(
        s3->svc_name, (int)rc, r->errbuf[0] ? r->errbuf : NULL, r->op, r->path, (int)r->attempts);
    *retry = sluice_error_retryable(err);
    return err;
  }
  if (r->status >= 200 && r->status < 300) return NULL;
  char *code = NULL, *message = NULL;
  /* A plain HTTP server's error body is an HTML page, not an <Error>. */
  if (r->resp.len && !s3->plain_http)
    sluice__s3_xml_error(r->resp.data, r->resp.len, &code, &message);
  sluice_error *err =
      sluice__s3_error_from_reply_svc(s3->svc_name, (int)r->status, code, message, r->op, r->path);
  free(code);
  free(message);
  *retry = sluice_error_retryable(err);
  return err;
}

void sluice__s3_req_cleanup(sluice__s3_req *r) {
  curl_slist_free_all(r->hdrs);
  r->hdrs = NULL;
  free(r->url);
  r->url = NULL;
  free(r->resp.data);
  r->resp = (sluice__s3_buf){0};
}

static CURL *pool_take(sluice__s3 *s3) {
  CURL *e = NULL;
  pthread_mutex_lock(&s3->pool_lock);
  if (s3->npool) e = s3->pool[--s3->npool];
  pthread_mutex_unlock(&s3->pool_lock);
  return e;
}

static void pool_give(sluice__s3 *s3, CURL *e) {
  pthread_mutex_lock(&s3->pool_lock);
  if (s3->npool < sizeof(s3->pool) / sizeof(s3->pool[0])) {
    s3->pool[s3->npool++] = e;
    e = NULL;
  }
  pthread_mutex_unlock(&s3->pool_lock);
  if (e) curl_easy_cleanup(e);
}

sluice_error *sluice__s3_backoff_sleep(sluice__s3 *s3, const sluice__s3_req *r) {
  /* Short naps, so that a cancel is noticed. */
  for (int64_t left = sluice__s3_backoff_ms(r->attempts); left > 0; left -= 50) {
    if (r->cancel && atomic_load(r->cancel)) break;
    int64_t ms = left < 50 ? left : 50;
    struct timespec ts = {0, ms * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  }
  if (r->cancel && atomic_load(r->cancel))
    return sluice__error(SLUICE_ERR_CANCELED, "%s: %s '%s': canceled", sluice__s3_svc(s3), r->op,
                         r->path);
  return NULL;
}

sluice_error *sluice__s3_perform(sluice__s3 *s3, sluice__s3_req *r) {
  r->easy = pool_take(s3);
  sluice_error *err = NULL;
  for (;;) {
    if ((err = sluice__s3_req_setup(s3, r))) break;
    int retry;
    err = sluice__s3_req_finish(s3, r, curl_easy_perform(r->easy), &retry);
    if (!err || !retry || r->attempts >= s3->cfg.max_attempts) break;
    sluice_error_free(err);
    err = NULL;
    if ((err = sluice__s3_backoff_sleep(s3, r))) break;
  }
  if (r->easy) pool_give(s3, r->easy);
  r->easy = NULL;
  /* Transport errors name their attempts already (from_transport). */
  if (err && sluice_error_retryable(err) && sluice_error_http_status(err))
    err = sluice__s3_error_note_attempts(err, (int)r->attempts);
  return err;
}
