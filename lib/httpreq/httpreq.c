/* SPDX-License-Identifier: MIT */
/* HTTP requests over libcurl: URL, bodies, response headers, retries. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "error.h"
#include "httpreq/httpreq.h"

/* ---- shared connection state ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *u) {
  (void)h;
  (void)a;
  pthread_mutex_lock(&((sluice__httpreq *)u)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u) {
  (void)h;
  pthread_mutex_unlock(&((sluice__httpreq *)u)->share_locks[data]);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

sluice_error *sluice__httpreq_init(sluice__httpreq *e) {
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return sluice__error_set_curl_code(sluice__error(SLUICE_ERR_UNEXPECTED,
                                                     "%s: curl_global_init failed: %s", e->svc,
                                                     curl_easy_strerror(curl_init_rc)),
                                       curl_init_rc);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&e->share_locks[i], NULL);
  pthread_mutex_init(&e->pool_lock, NULL);
  e->share = curl_share_init();
  if (!e->share) return sluice__error_oom();
  curl_share_setopt(e->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(e->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(e->share, CURLSHOPT_USERDATA, e);
  curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return NULL;
}

void sluice__httpreq_cleanup(sluice__httpreq *e) {
  if (e->share) {
    for (unsigned i = 0; i < e->npool; i++) curl_easy_cleanup(e->pool[i]);
    e->npool = 0;
    curl_share_cleanup(e->share);
    e->share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&e->share_locks[i]);
    pthread_mutex_destroy(&e->pool_lock);
  }
  free(e->scheme_host);
  free(e->host);
  free(e->base_path);
  e->scheme_host = e->host = e->base_path = NULL;
}

/* Options every attempt needs; curl_easy_reset() clears them between uses. */
static void common_options(sluice__httpreq *e, CURL *h) {
  curl_easy_setopt(h, CURLOPT_SHARE, e->share);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->set->connect_timeout_ms);
  /* A stalled connection is detected by speed, never by a total timeout that
   * would kill a large healthy part. */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, e->set->low_speed_limit);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, e->set->low_speed_time);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (e->set->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, e->set->ca_file);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  /* The path is sent as signed: a key such as "a/../d" or "a/./b" is a key
   * of its own, which curl's dot-segment squashing would turn into another. */
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
}

/* ---- time and backoff ---- */

int64_t sluice__httpreq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sluice__httpreq_backoff_ms(unsigned attempt) {
  /* Full jitter (uniform in [0, min(cap, base * 2^n)]): retries from many
   * parts spread out instead of hitting a throttled server together. */
  int64_t cap = 20000, base = 100;
  int64_t ceiling = attempt >= 8 ? cap : base << attempt;
  if (ceiling > cap) ceiling = cap;
  unsigned seed =
      (unsigned)(sluice__httpreq_now_ms() ^ (uintptr_t)&attempt ^ attempt * 2654435761u);
  return (int64_t)(rand_r(&seed) % (ceiling + 1));
}

/* ---- building a request ---- */

void sluice__httpreq_header(sluice__httpreq_req *r, const char *name, const char *value) {
  if (r->nheaders < SLUICE__HTTPREQ_MAX_HEADERS)
    r->headers[r->nheaders++] = (sluice__httpreq_pair){name, value};
}

void sluice__httpreq_query(sluice__httpreq_req *r, const char *name, const char *value) {
  if (r->nquery < SLUICE__HTTPREQ_MAX_QUERY)
    r->query[r->nquery++] = (sluice__httpreq_pair){name, value};
}

static size_t on_body(char *data, size_t size, size_t n, void *u) {
  sluice__httpreq_req *r = u;
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
  /* Error and XML bodies only: bounded so a misbehaving server cannot make
   * us hold an object in memory. */
  if (r->resp.len + len <= (64u << 20)) sluice__strbuf_putn(&r->resp, data, len);
  return len;
}

/* Bodies under this go out with their headers (setup below). */
#define SMALL_BODY (64 * 1024)

/* A GET into a buffer of at least BIG_DST bytes (a part, a chunk) reads
 * the socket BIG_RECV bytes at a time.  libcurl's default, 16 KiB, cost a
 * 1 GiB download 65,536 recv() and as many poll() calls, six times curl's
 * (whose tool reads 100 KiB), and about 0.4 of its 0.9 CPU-s (issue 22,
 * BENCHMARKS.md).  Smaller bodies keep the default, so that many small
 * transfers in flight do not each hold a big buffer.  512 KiB is the most
 * libcurl accepted before 7.88. */
#define BIG_DST (1024 * 1024)
#define BIG_RECV (512L * 1024)

static int has_header(const sluice__httpreq_pair *h, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(h[i].name, name)) return 1;
  return 0;
}

static size_t on_upload(char *out, size_t size, size_t n, void *u) {
  sluice__httpreq_req *r = u;
  size_t want = size * n, left = r->body_len - r->body_off;
  if (want > left) want = left;
  memcpy(out, r->body + r->body_off, want);
  r->body_off += want;
  return want;
}

/* A retry must resend the body from its start (curl asks after a redirect
 * or a reused connection that died). */
static int on_seek(void *u, curl_off_t off, int origin) {
  sluice__httpreq_req *r = u;
  if (origin != SEEK_SET || off < 0 || (size_t)off > r->body_len) return CURL_SEEKFUNC_FAIL;
  r->body_off = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

/* How far past r->swallowed a resend must get to count: a new connection's
 * buffers take a little more or less each time. */
#define SWALLOW_SLACK ((curl_off_t)4 << 20)

/* Polled by curl about once a second and on every progress: a cancel stops
 * a stalled transfer without waiting for the low-speed limit, and the stall
 * budget (stall_timeout) ends an attempt once nothing has moved for that
 * long since the request's last byte, whichever attempt moved it.  A byte
 * received moves the clock; a byte sent does only past where an earlier
 * attempt's peer stopped reading (r->swallowed), and some slack: a frozen
 * server's kernel accepts about that much again on each new connection,
 * which would otherwise restart the budget on every attempt (five
 * low-speed windows instead of one budget). */
static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)ut;
  sluice__httpreq_req *r = u;
  if (r->cancel && atomic_load(r->cancel)) return 1;
  int64_t now = sluice__httpreq_now_ms();
  curl_off_t past = r->swallowed ? r->swallowed + SWALLOW_SLACK : 0;
  int moved = dn != r->seen_down || (un != r->seen_up && un > past);
  r->seen_down = dn;
  r->seen_up = un;
  if (moved) {
    r->moved_ms = now;
  } else if (r->stall_ms > 0 && now - r->moved_ms >= r->stall_ms) {
    r->stalled = 1;
    return 1;
  }
  return 0;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
  if (n >= cap) n = cap - 1;
  memcpy(dst, v, n);
  dst[n] = '\0';
}

static void reset_reply_headers(sluice__httpreq_req *r) {
  r->etag[0] = r->content_type[0] = '\0';
  r->checksum_name[0] = r->checksum[0] = r->checksum_type[0] = r->checksum_algorithm[0] = '\0';
  r->content_length = r->range_total = UINT64_MAX;
  r->last_modified = -1;
  r->etag_not_md5 = 0;
  r->parts_count = 0;
  r->meta_part_size = 0;
  r->meta_md5[0] = '\0';
  if (r->user_meta) r->user_meta->len = 0;
}

static int header_is(const char *data, size_t nlen, const char *name) {
  return nlen == strlen(name) && strncasecmp(data, name, nlen) == 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *u) {
  sluice__httpreq_req *r = u;
  size_t len = size * n;
  if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
    /* The server answers: alive, whatever its bytes counts say. */
    r->answered = 1;
    r->moved_ms = sluice__httpreq_now_ms();
    /* A new response (after 100 Continue or a redirect): forget the last. */
    reset_reply_headers(r);
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
  } else if (nlen > 15 && strncasecmp(data, "x-amz-checksum-", 15) == 0) {
    const char *sub = data + 15;
    size_t slen = nlen - 15;
    if (slen == 4 && strncasecmp(sub, "type", 4) == 0)
      copy_value(r->checksum_type, sizeof(r->checksum_type), v, vlen);
    else if (slen == 9 && strncasecmp(sub, "algorithm", 9) == 0)
      copy_value(r->checksum_algorithm, sizeof(r->checksum_algorithm), v, vlen);
    else if (slen < sizeof(r->checksum_name)) {
      copy_value(r->checksum_name, sizeof(r->checksum_name), sub, slen);
      copy_value(r->checksum, sizeof(r->checksum), v, vlen);
    }
  } else if (header_is(data, nlen, "x-amz-server-side-encryption")) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    if (!strncasecmp(tmp, "aws:kms", 7)) r->etag_not_md5 = 1;
  } else if (header_is(data, nlen, "x-amz-server-side-encryption-customer-algorithm")) {
    r->etag_not_md5 = 1;
  } else if (header_is(data, nlen, "x-amz-mp-parts-count")) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    unsigned long long c = strtoull(tmp, NULL, 10);
    r->parts_count = c <= 10000 ? (uint32_t)c : 0;
  } else if (header_is(data, nlen, "x-amz-meta-sluice-part-size")) {
    copy_value(tmp, sizeof(tmp), v, vlen);
    r->meta_part_size = strtoull(tmp, NULL, 10);
  } else if (header_is(data, nlen, "x-amz-meta-md5chksum")) {
    copy_value(r->meta_md5, sizeof(r->meta_md5), v, vlen);
  } else if (r->user_meta && nlen > 11 && strncasecmp(data, "x-amz-meta-", 11) == 0) {
    /* Not through tmp: S3 allows 2 KiB of user metadata. */
    while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) vlen--;
    sluice__strbuf_putn(r->user_meta, data + 11, nlen - 11);
    sluice__strbuf_putc(r->user_meta, '\0');
    sluice__strbuf_putn(r->user_meta, v, vlen);
    sluice__strbuf_putc(r->user_meta, '\0');
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

static sluice_error *content_md5(sluice__httpreq *e, sluice__httpreq_req *r) {
  pthread_once(&md5_once, md5_fetch);
  unsigned char raw[16];
  unsigned int n = 0;
  if (!md5_md || EVP_Digest(r->body, r->body_len, raw, &n, md5_md, NULL) != 1)
    return sluice__error(SLUICE_ERR_UNEXPECTED, "%s: %s '%s': MD5 unavailable", e->svc, r->op,
                         r->path);
  EVP_EncodeBlock((unsigned char *)r->md5_b64, raw, 16);
  return NULL;
}

/* r->url, and *path_out the URL path as sent (malloc'd) for the signer. */
static sluice_error *build_url(sluice__httpreq *e, sluice__httpreq_req *r, char **path_out) {
  sluice__strbuf path = {0}, url = {0};
  sluice__strbuf_puts(&path, e->base_path);
  sluice__strbuf_putc(&path, '/');
  if (r->key) sluice__strbuf_put_uri(&path, r->key, strlen(r->key), 1);
  sluice__strbuf_puts(&url, e->scheme_host);
  if (path.data) sluice__strbuf_puts(&url, path.data);
  /* The query as sent; the signer canonicalises its own copy. */
  for (size_t i = 0; i < r->nquery; i++) {
    const char *name = r->query[i].name, *val = r->query[i].value ? r->query[i].value : "";
    sluice__strbuf_putc(&url, i ? '&' : '?');
    sluice__strbuf_put_uri(&url, name, strlen(name), 0);
    sluice__strbuf_putc(&url, '=');
    sluice__strbuf_put_uri(&url, val, strlen(val), 0);
  }
  free(r->url);
  r->url = sluice__strbuf_take(&url);
  *path_out = sluice__strbuf_take(&path);
  if (!r->url || !*path_out) {
    free(*path_out);
    *path_out = NULL;
    return sluice__error_oom();
  }
  return NULL;
}

sluice_error *sluice__httpreq_add_header(sluice__httpreq_req *r, const char *name,
                                         const char *value) {
  /* curl_slist_append copies the line, so it is put together on the stack
   * when it fits: a small PUT adds eight headers, and asprintf for each was
   * 4 % of its instructions. */
  size_t nl = strlen(name), vl = strlen(value);
  char small[512], *line = nl + vl + 3 <= sizeof small ? small : malloc(nl + vl + 3);
  if (!line) return sluice__error_oom();
  memcpy(line, name, nl);
  memcpy(line + nl, ": ", 2);
  memcpy(line + nl + 2, value, vl + 1);
  struct curl_slist *l = curl_slist_append(r->hdrs, line);
  if (line != small) free(line);
  if (!l) return sluice__error_oom();
  r->hdrs = l;
  return NULL;
}

sluice_error *sluice__httpreq_setup(sluice__httpreq *e, sluice__httpreq_req *r) {
  if (!r->easy && !(r->easy = curl_easy_init())) return sluice__error_oom();
  curl_easy_reset(r->easy);
  common_options(e, r->easy);
  curl_slist_free_all(r->hdrs);
  r->hdrs = NULL;
  r->status = 0;
  r->dst_len = 0;
  r->body_off = 0;
  r->resp.len = 0;
  reset_reply_headers(r);
  r->errbuf[0] = '\0';
  r->range_ignored = 0;
  r->seen_down = r->seen_up = 0;
  r->stalled = r->answered = 0;
  r->stall_ms = (int64_t)e->set->stall_timeout * 1000;
  if (r->attempts == 0) {
    r->moved_ms = sluice__httpreq_now_ms();
    r->swallowed = 0;
  }
  /* Relaxed: a statistic, read for progress only. */
  if (r->attempts > 0 && r->retries) atomic_fetch_add_explicit(r->retries, 1, memory_order_relaxed);

  if (r->attempts == 0 && r->content_md5 && r->body) {
    /* Once per request, not per attempt. */
    sluice_error *err = content_md5(e, r);
    if (err) return err;
  }

  char *path = NULL;
  sluice_error *err = build_url(e, r, &path);
  if (err) return err;
  sluice__httpreq_pair hdrs[SLUICE__HTTPREQ_MAX_HEADERS + 2];
  size_t nh = 0;
  hdrs[nh++] = (sluice__httpreq_pair){"Host", e->host};
  for (size_t i = 0; i < r->nheaders; i++) hdrs[nh++] = r->headers[i];
  if (r->content_md5 && r->body) hdrs[nh++] = (sluice__httpreq_pair){"Content-MD5", r->md5_b64};

  for (size_t i = 0; i < nh && !err; i++)
    err = sluice__httpreq_add_header(r, hdrs[i].name, hdrs[i].value ? hdrs[i].value : "");
  if (!err && e->hooks.sign) {
    err = e->hooks.sign(e->hooks.ctx, r, path, hdrs, nh);
    /* The signer names no request: say which one could not be signed. */
    if (err) {
      sluice_error *named = sluice__error(sluice_error_kind(err), "%s: %s '%s': %s", e->svc, r->op,
                                          r->path, sluice_error_message(err));
      sluice_error_free(err);
      err = named;
    }
  }
  free(path);
  /* No "Expect: 100-continue": it costs a round trip per part. */
  if (!err) err = sluice__httpreq_add_header(r, "Expect", "");
  int sends_body = !r->head && (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST"));
  if (!err && sends_body && r->body_len < SMALL_BODY && !has_header(hdrs, nh, "Content-Type"))
    err = sluice__httpreq_add_header(r, "Content-Type", "");
  if (err) return err;

  CURL *h = r->easy;
  curl_easy_setopt(h, CURLOPT_URL, r->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  /* Set every time: the handle is reused for other requests. */
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE,
                   r->dst && r->dst_cap >= BIG_DST ? BIG_RECV : (long)CURL_MAX_WRITE_SIZE);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(h, CURLOPT_PRIVATE, r);
  if (r->cancel || r->stall_ms > 0) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  if (r->head) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (sends_body && r->body_len < SMALL_BODY) {
    /* A body given as POSTFIELDS goes out in the same send as the headers
     * (curl does that below 64 KiB): one syscall and segment fewer per
     * small object.  curl would add a form Content-Type; none is sent,
     * as with the upload below, unless the request names one. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
  } else if (sends_body) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, r);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    if (strcmp(r->method, "POST") == 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (strcmp(r->method, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
  }
  return NULL;
}

/* Sets *retry from err, except when the request has moved nothing for its
 * whole stall budget: then it is not tried again, and err says why. */
static sluice_error *no_retry_past_budget(sluice__httpreq *e, const sluice__httpreq_req *r,
                                          sluice_error *err, int *retry) {
  *retry = sluice_error_retryable(err);
  if (*retry && r->stall_ms > 0 && sluice__httpreq_now_ms() - r->moved_ms >= r->stall_ms) {
    *retry = 0;
    sluice__error_append(err, "; no byte moved for %ld s, giving up (stall_timeout)",
                         e->set->stall_timeout);
  }
  return err;
}

static sluice_error *stall_error(sluice__httpreq *e, const sluice__httpreq_req *r) {
  char after[48] = "";
  if (r->attempts > 1) snprintf(after, sizeof(after), " (%u attempts)", r->attempts);
  return sluice__error(SLUICE_ERR_TIMEOUT,
                       "%s: %s '%s': no byte moved for %ld s%s, giving up (stall_timeout): the "
                       "server accepts connections but does not answer",
                       e->svc, r->op, r->path, e->set->stall_timeout, after);
}

sluice_error *sluice__httpreq_finish(sluice__httpreq *e, sluice__httpreq_req *r, CURLcode rc,
                                     int *retry) {
  const char *svc = e->svc;
  r->attempts++;
  *retry = 0;
  /* Timed out with no reply and the body not all sent: the peer stopped
   * reading, and what went out may sit in a frozen peer's socket buffers
   * (on_progress).  A body sent whole is left out (the peer read it all
   * and may still be working on it: a DeleteObjects of 1,000 keys on a busy
   * store), and so is a reset connection (a peer that resets is alive). */
  if (rc == CURLE_OPERATION_TIMEDOUT && !r->answered && r->seen_up > r->swallowed &&
      (uint64_t)r->seen_up < r->body_len)
    r->swallowed = r->seen_up;
  if (rc == CURLE_ABORTED_BY_CALLBACK && r->cancel && atomic_load(r->cancel))
    return sluice__error(SLUICE_ERR_CANCELED, "%s: %s '%s': canceled", svc, r->op, r->path);
  if (rc == CURLE_ABORTED_BY_CALLBACK && r->stalled) return stall_error(e, r);
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
    sluice_error *err = sluice__httpreq_error_from_transport(
        svc, (int)rc, r->errbuf[0] ? r->errbuf : NULL, r->op, r->path, (int)r->attempts);
    return no_retry_past_budget(e, r, err, retry);
  }
  if (r->status >= 200 && r->status < 300) return NULL;
  sluice_error *err = e->hooks.reply_error
                          ? e->hooks.reply_error(e->hooks.ctx, r)
                          : sluice__httpreq_error_from_status(svc, (int)r->status, r->op, r->path);
  return no_retry_past_budget(e, r, err, retry);
}

void sluice__httpreq_req_cleanup(sluice__httpreq_req *r) {
  curl_slist_free_all(r->hdrs);
  r->hdrs = NULL;
  free(r->url);
  r->url = NULL;
  sluice__strbuf_free(&r->resp);
}

static CURL *pool_take(sluice__httpreq *e) {
  CURL *h = NULL;
  pthread_mutex_lock(&e->pool_lock);
  if (e->npool) h = e->pool[--e->npool];
  pthread_mutex_unlock(&e->pool_lock);
  return h;
}

static void pool_give(sluice__httpreq *e, CURL *h) {
  pthread_mutex_lock(&e->pool_lock);
  if (e->npool < sizeof(e->pool) / sizeof(e->pool[0])) {
    e->pool[e->npool++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&e->pool_lock);
  if (h) curl_easy_cleanup(h);
}

sluice_error *sluice__httpreq_backoff_sleep(sluice__httpreq *e, const sluice__httpreq_req *r) {
  /* Short naps, so that a cancel is noticed. */
  for (int64_t left = sluice__httpreq_backoff_ms(r->attempts); left > 0; left -= 50) {
    if (r->cancel && atomic_load(r->cancel)) break;
    int64_t ms = left < 50 ? left : 50;
    struct timespec ts = {0, ms * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  }
  if (r->cancel && atomic_load(r->cancel))
    return sluice__error(SLUICE_ERR_CANCELED, "%s: %s '%s': canceled", e->svc, r->op, r->path);
  return NULL;
}

sluice_error *sluice__httpreq_perform(sluice__httpreq *e, sluice__httpreq_req *r) {
  r->easy = pool_take(e);
  sluice_error *err = NULL;
  for (;;) {
    if ((err = sluice__httpreq_setup(e, r))) break;
    int retry;
    err = sluice__httpreq_finish(e, r, curl_easy_perform(r->easy), &retry);
    if (!err || !retry || r->attempts >= e->set->max_attempts) break;
    sluice_error_free(err);
    err = NULL;
    if ((err = sluice__httpreq_backoff_sleep(e, r))) break;
  }
  if (r->easy) pool_give(e, r->easy);
  r->easy = NULL;
  /* Transport errors name their attempts already (from_transport). */
  if (err && sluice_error_retryable(err) && sluice_error_http_status(err))
    err = sluice__httpreq_error_note_attempts(err, (int)r->attempts);
  return err;
}
