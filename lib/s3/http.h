/* SPDX-License-Identifier: MIT */
/*
 * One S3 request over libcurl: URL and signature, body in and out,
 * response headers, classification of the outcome, and retries.  Used
 * synchronously (sluice__s3_perform, from the caller's thread) and
 * asynchronously (the multipart sink adds the easy handle to a worker's
 * multi handle and calls setup/finish itself).
 */
#ifndef SLUICE_LIB_S3_HTTP_H
#define SLUICE_LIB_S3_HTTP_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "s3/config.h"
#include "s3/sigv4.h"
#include "sluice.h"

/* The S3 service instance (lib/s3/s3.c): configuration and the connection
 * state shared by every request. */
typedef struct sluice__s3 {
  sluice__s3_config cfg;
  char *scheme_host;  /* "http://127.0.0.1:9010" or "https://bucket.s3...": no path */
  char *host;         /* Host header value, exactly as signed */
  char *base_path;    /* "" (virtual host) or "/bucket" (path style) */
  /* DNS cache and TLS sessions shared by every handle (curl requires a lock
   * per data kind when handles live on several threads). */
  CURLSH *share;
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  /* Easy handles kept between synchronous requests so their connections
   * are reused (keep-alive); room for a tree job's default 16 transfers
   * each holding one, and then some. */
  pthread_mutex_t pool_lock;
  CURL *pool[32];
  unsigned npool;
  /* The store answered 501 to If-None-Match: fall back to HEAD checks. */
  atomic_int no_conditional_writes;
  /* The store answered 501 to DeleteObjects: delete key by key. */
  atomic_int no_multi_delete;
  /* Set by a service that runs on this engine without being S3 (the http
   * service, lib/http/http.c): svc_name prefixes every message ("s3" when
   * NULL), and plain_http says error bodies are not S3 XML <Error>
   * documents, so they are not parsed. */
  const char *svc_name;
  int plain_http;
} sluice__s3;

/* The message prefix of s3's service: "s3", "http". */
static inline const char *sluice__s3_svc(const sluice__s3 *s3) {
  return s3->svc_name ? s3->svc_name : "s3";
}

#define SLUICE__S3_MAX_QUERY 8
#define SLUICE__S3_MAX_HEADERS 16

typedef struct sluice__s3_buf {
  char *data;
  size_t len, cap;
} sluice__s3_buf;

typedef struct sluice__s3_req {
  /* ---- what to send, set by the caller ---- */
  const char *op;      /* "UploadPart": for messages */
  const char *path;    /* the user's path: for messages */
  const char *method;  /* "GET", "PUT", ... */
  const char *key;     /* full object key (root included); NULL: the bucket */
  sluice__sigv4_pair query[SLUICE__S3_MAX_QUERY];
  size_t nquery;
  sluice__sigv4_pair headers[SLUICE__S3_MAX_HEADERS];
  size_t nheaders;
  const unsigned char *body; /* request body (PUT/POST), or NULL */
  size_t body_len;
  int content_md5;           /* send Content-MD5 of the body (integrity) */
  unsigned char *dst;        /* GET: the body goes here ... */
  size_t dst_cap;            /* ... up to this many bytes */
  int head;                  /* HEAD: no body expected */
  /* When set and non-zero, the transfer and any backoff stop soon with a
   * canceled error (a job's cancel reaching a synchronous request). */
  atomic_int *cancel;
  /* A ranged GET for less than the whole object: a 200 reply (the server
   * ignored Range and sends the whole object) is refused with UNSUPPORTED
   * as soon as it starts, rather than read into dst. */
  int range_required;

  /* ---- what came back ---- */
  long status;
  size_t dst_len;
  char etag[130];
  char content_type[128];
  uint64_t content_length;   /* UINT64_MAX when absent */
  uint64_t range_total;      /* from Content-Range ".../TOTAL", UINT64_MAX when absent */
  int64_t last_modified;     /* -1 when absent */
  sluice__s3_buf resp;       /* error or XML body */
  unsigned attempts;
  int range_ignored;         /* range_required and the server answered 200 */

  /* ---- internal ---- */
  CURL *easy;
  struct curl_slist *hdrs;
  char *url;
  char md5_b64[32];
  char payload_hash[65];
  size_t body_off;
  int64_t retry_at_ms;       /* async: when to send again */
  char errbuf[CURL_ERROR_SIZE];
} sluice__s3_req;

/* Adds a header / query parameter; values must outlive the request. */
void sluice__s3_req_header(sluice__s3_req *r, const char *name, const char *value);
void sluice__s3_req_query(sluice__s3_req *r, const char *name, const char *value);

/* Prepares r->easy (which the caller has set, or NULL: one is created) for
 * the next attempt: resets the response, builds URL and headers, signs. */
sluice_error *sluice__s3_req_setup(sluice__s3 *s3, sluice__s3_req *r);
/* Classifies a finished attempt.  NULL: success (2xx, or 304/412 left to the
 * caller via r->status when accept_status matches).  Otherwise an error,
 * and *retry says whether another attempt may help. */
sluice_error *sluice__s3_req_finish(sluice__s3 *s3, sluice__s3_req *r, CURLcode rc, int *retry);
/* Frees what the request owns (not the easy handle when keep_easy). */
void sluice__s3_req_cleanup(sluice__s3_req *r);

/* Runs r on the calling thread with the configured retries. */
sluice_error *sluice__s3_perform(sluice__s3 *s3, sluice__s3_req *r);

/* Full-jitter exponential backoff before attempt n+1 (n >= 1), in ms. */
int64_t sluice__s3_backoff_ms(unsigned attempt);
/* Sleeps that backoff for r's next attempt in short naps; returns a
 * canceled error as soon as r->cancel is set, else NULL. */
sluice_error *sluice__s3_backoff_sleep(sluice__s3 *s3, const sluice__s3_req *r);
int64_t sluice__s3_now_ms(void);

/* Service setup/teardown of the shared connection state. */
sluice_error *sluice__s3_http_init(sluice__s3 *s3);
void sluice__s3_http_cleanup(sluice__s3 *s3);

#endif
