/* SPDX-License-Identifier: MIT */
/*
 * The HTTP request engine (internal): one request over libcurl, with its
 * URL, headers and body, the response headers and body, classification of
 * the outcome into a sluice_error, and retries with backoff.  Services
 * (lib/s3, lib/http) run their requests here; what differs between them
 * comes in through hooks: a signer that adds authentication headers, and a
 * parser that turns an error reply's body into an error.
 *
 * Used synchronously (sluice__httpreq_perform, from the caller's thread,
 * on keep-alive handles pooled by the engine) and asynchronously (a sink
 * adds r->easy to its own multi handle and calls setup/finish itself).
 * An engine may be used from any number of threads at once once init has
 * returned; a request belongs to one thread at a time.
 *
 * Messages start with the engine's service name: "s3: PutObject 'a/b':".
 */
#ifndef SLUICE_LIB_HTTPREQ_HTTPREQ_H
#define SLUICE_LIB_HTTPREQ_HTTPREQ_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "httpreq/settings.h"
#include "service.h"
#include "sluice.h"
#include "strbuf.h"

#define SLUICE__HTTPREQ_MAX_QUERY 8
#define SLUICE__HTTPREQ_MAX_HEADERS 16

typedef struct sluice__httpreq_pair {
  const char *name;
  const char *value; /* NULL means "" */
} sluice__httpreq_pair;

typedef struct sluice__httpreq_req sluice__httpreq_req;

/* What a service plugs into the engine.  Hooks run on the request's thread
 * and may be called from several threads at once. */
typedef struct sluice__httpreq_hooks {
  /* Called for every attempt once the URL and the headers are built: adds
   * authentication headers with sluice__httpreq_add_header.  path is the
   * URL path as sent (percent-encoded, without the query), headers the
   * request's headers as sent (Host first).  NULL: requests are not
   * signed.  An error is named after the request by the engine. */
  sluice_error *(*sign)(void *ctx, sluice__httpreq_req *r, const char *path,
                        const sluice__httpreq_pair *headers, size_t nheaders);
  /* The error for a completed reply outside 2xx (r->status, body in
   * r->resp).  NULL: sluice__httpreq_error_from_status. */
  sluice_error *(*reply_error)(void *ctx, const sluice__httpreq_req *r);
  void *ctx;
} sluice__httpreq_hooks;

/* One engine per service instance: where requests go, how they are sent,
 * and the connection state they share. */
typedef struct sluice__httpreq {
  /* ---- set by the service before sluice__httpreq_init ---- */
  const char *svc;                     /* message prefix: "s3", "http" (static) */
  const sluice__httpreq_settings *set; /* the service's; outlives the engine */
  char *scheme_host; /* "http://127.0.0.1:9010" or "https://bucket.s3...": no path */
  char *host;        /* Host header value */
  char *base_path;   /* prepended to every key: "" or "/bucket" */
  sluice__httpreq_hooks hooks;
  /* ---- internal ---- */
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
} sluice__httpreq;

struct sluice__httpreq_req {
  /* ---- what to send, set by the caller ---- */
  const char *op;     /* "UploadPart": for messages */
  const char *path;   /* the user's path: for messages */
  const char *method; /* "GET", "PUT", ... */
  const char *key;    /* appended to base_path, percent-encoded; NULL: base_path alone */
  sluice__httpreq_pair query[SLUICE__HTTPREQ_MAX_QUERY];
  size_t nquery;
  sluice__httpreq_pair headers[SLUICE__HTTPREQ_MAX_HEADERS];
  size_t nheaders;
  const unsigned char *body; /* request body (PUT/POST), or NULL */
  size_t body_len;
  int content_md5;    /* send Content-MD5 of the body (integrity) */
  unsigned char *dst; /* GET: the body goes here ... */
  size_t dst_cap;     /* ... up to this many bytes */
  int head;           /* HEAD: no body expected */
  /* When set and non-zero, the transfer and any backoff stop soon with a
   * canceled error (a job's cancel reaching a synchronous request). */
  atomic_int *cancel;
  /* A ranged GET for less than the whole object: a 200 reply (the server
   * ignored Range and sends the whole object) is refused with UNSUPPORTED
   * as soon as it starts, rather than read into dst. */
  int range_required;
  /* When set, every attempt after the first adds one here (a copy's
   * sluice_progress.retries). */
  atomic_uint_fast64_t *retries;

  /* ---- what came back ---- */
  long status;
  size_t dst_len;
  char etag[130];
  char content_type[128];
  uint64_t content_length; /* UINT64_MAX when absent */
  uint64_t range_total;    /* from Content-Range ".../TOTAL", UINT64_MAX when absent */
  int64_t last_modified;   /* -1 when absent */
  sluice__strbuf resp;     /* error or XML body (at most 64 MiB kept) */
  unsigned attempts;
  int range_ignored; /* range_required and the server answered 200 */
  /* x-amz-checksum-<name>: <value> (the last such header other than
   * -type, -algorithm), x-amz-checksum-type and -algorithm; "" when absent. */
  char checksum_name[16], checksum[64], checksum_type[24], checksum_algorithm[16];
  /* What says whether the ETag is an MD5 of the bytes (lib/readcheck.h):
   * x-amz-server-side-encryption aws:kms* or an SSE-C algorithm (it is
   * not); x-amz-mp-parts-count (0 when absent); x-amz-meta-sluice-part-size
   * (the part size sluice uploaded with, 0 when absent); rclone's
   * x-amz-meta-md5chksum ("" when absent). */
  int etag_not_md5;
  uint32_t parts_count;
  uint64_t meta_part_size;
  char meta_md5[32];
  /* When the caller sets it: every x-amz-meta-<name>: <value> header, as
   * "<name>" NUL "<value>" NUL (sluice__metadata_set_user's form). */
  sluice__strbuf *user_meta;

  /* ---- for the signer: kept across attempts, zero before the first ---- */
  char payload_hash[65];

  /* ---- internal ---- */
  CURL *easy;
  struct curl_slist *hdrs;
  char *url;
  char md5_b64[32];
  size_t body_off;
  int64_t retry_at_ms;           /* async: when to send again */
  int64_t moved_ms;              /* when a byte last moved (or the request started) */
  curl_off_t seen_down, seen_up; /* this attempt's byte counts at the last look */
  int64_t stall_ms;              /* the stall budget (settings), 0: none */
  int stalled;                   /* this attempt was ended by the stall budget */
  int answered;                  /* this attempt got a reply (its status line) */
  /* The most bytes an earlier attempt sent before it timed out unanswered
   * with its body not all sent (its peer stopped reading): a stopped
   * server's kernel takes a socket buffer's worth on every new connection,
   * so sending those again is no sign of life. */
  curl_off_t swallowed;
  char errbuf[CURL_ERROR_SIZE];
};

/* Sets up the connection state; the fields above "internal" must be set.
 * Errors: UNEXPECTED when libcurl cannot start, OUT_OF_MEMORY.  On error
 * sluice__httpreq_cleanup must still be called. */
sluice_error *sluice__httpreq_init(sluice__httpreq *e);
/* Frees the connection state and scheme_host/host/base_path (not set);
 * a zeroed engine is a no-op. */
void sluice__httpreq_cleanup(sluice__httpreq *e);

/* Adds a header / query parameter; values must outlive the request.  At
 * most SLUICE__HTTPREQ_MAX_HEADERS / _MAX_QUERY: further ones are dropped. */
void sluice__httpreq_header(sluice__httpreq_req *r, const char *name, const char *value);
void sluice__httpreq_query(sluice__httpreq_req *r, const char *name, const char *value);
/* For signers: adds a header line to the attempt being set up (copied). */
sluice_error *sluice__httpreq_add_header(sluice__httpreq_req *r, const char *name,
                                         const char *value);

/* Prepares r->easy (which the caller has set, or NULL: one is created) for
 * the next attempt: resets the response, builds URL and headers, signs. */
sluice_error *sluice__httpreq_setup(sluice__httpreq *e, sluice__httpreq_req *r);
/* Classifies a finished attempt.  NULL: success (2xx).  Otherwise an
 * error, and *retry says whether another attempt may help. */
sluice_error *sluice__httpreq_finish(sluice__httpreq *e, sluice__httpreq_req *r, CURLcode rc,
                                     int *retry);
/* Frees what the request owns, except r->easy. */
void sluice__httpreq_req_cleanup(sluice__httpreq_req *r);

/* Runs r on the calling thread with the configured retries. */
sluice_error *sluice__httpreq_perform(sluice__httpreq *e, sluice__httpreq_req *r);

/* Full-jitter exponential backoff before attempt n+1 (n >= 1), in ms. */
int64_t sluice__httpreq_backoff_ms(unsigned attempt);
/* Sleeps that backoff for r's next attempt in short naps; returns a
 * canceled error as soon as r->cancel is set, else NULL. */
sluice_error *sluice__httpreq_backoff_sleep(sluice__httpreq *e, const sluice__httpreq_req *r);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t sluice__httpreq_now_ms(void);

/* ---- reading one file (lib/httpreq/source.c) ----
 * A source over bytes [offset, offset+length) of the file at key, read with
 * ranged GETs (named get_op in messages: "GetObject", "GET"; static
 * storage) pinned to the version meta describes (meta->size, etag, mtime
 * from the caller's HEAD; only read here); path names it in messages.  The
 * source keeps e, which must outlive it.  Errors: range not satisfiable
 * when offset is past the end of a non-empty file. */
sluice_error *sluice__httpreq_source_new(sluice__httpreq *e, const char *key, const char *path,
                                         const sluice_metadata *meta, uint64_t offset,
                                         uint64_t length, const char *get_op, sluice__source **out);
/* Makes a source from sluice__httpreq_source_new, before its first read,
 * check the whole object it reads against the checksum the store reported
 * (x-amz-checksum-<name>: value, x-amz-checksum-type: type; see
 * sluice__ck_stored_full_crc), instead of any MD5 armed before: the read
 * that completes the object fails with IO when it differs.  Does nothing
 * when the value is no full-object CRC, or for a source of part of the
 * object. */
void sluice__httpreq_source_expect_stored(sluice__source *s, const char *name, const char *value,
                                          const char *type);
/* The check of a source from sluice__httpreq_source_new, for its service
 * to arm before the first read (lib/readcheck.h); owned by the source. */
struct sluice__readcheck *sluice__httpreq_source_check(sluice__source *s);
/* For a source opened without a HEAD (from a listing): a GET of the whole
 * object asks for the stored checksum (x-amz-checksum-mode) and, when the
 * reply carries a full-object CRC, fails with IO if the bytes differ. */
void sluice__httpreq_source_crc_from_get(sluice__source *s);

/* ---- errors (lib/httpreq/errors.c) ----
 * Pure functions, any thread.  Each returns a new error owned by the caller;
 * on allocation failure the static out-of-memory error, never NULL.  op and
 * path may be NULL: the message then says "request" and leaves the path
 * out. */

/* The kind and retryable flag an HTTP status means:
 *   304, 412                       CONDITION_NOT_MATCH no
 *   400 411 413 414                INVALID_ARGUMENT    no
 *   401 403                        PERMISSION_DENIED   no
 *   404                            NOT_FOUND           no
 *   405 501                        UNSUPPORTED         no
 *   408                            TIMEOUT             yes
 *   409                            ALREADY_EXISTS      no
 *   416                            RANGE_NOT_SATISFIABLE no
 *   429 503                        RATE_LIMITED        yes
 *   502 504 (a gateway failed)     NETWORK             yes
 *   other 3xx (wrong endpoint)     CONFIG_INVALID      no
 *   other 5xx                      UNEXPECTED          yes
 *   anything else                  UNEXPECTED          no */
void sluice__httpreq_status_kind(int status, sluice_errkind *kind, int *retryable);

/* "<svc>: <op> '<path>': HTTP <status>", classified by status. */
sluice_error *sluice__httpreq_error_from_status(const char *svc, int status, const char *op,
                                                const char *path);

/* The error for a libcurl failure: curl_code is the CURLcode, detail the
 * text of CURLOPT_ERRORBUFFER (may be NULL or ""), attempts how many times
 * the request was tried (0 counts as 1).  Message:
 *   "<svc>: <op> '<path>': <what>: <detail> (curl error <n>)[ after <N> attempts]"
 * where <what> is curl_easy_strerror(), or "TLS verification failed" for a
 * rejected certificate.  HTTP status 0.  Mapping:
 *   COULDNT_CONNECT SEND_ERROR RECV_ERROR GOT_NOTHING PARTIAL_FILE
 *     WEIRD_SERVER_REPLY HTTP2 HTTP2_STREAM                NETWORK   yes
 *   COULDNT_RESOLVE_HOST/_PROXY                           NETWORK   only when attempts <= 1
 *     (a DNS hiccup is worth one more try; a name that failed repeatedly is
 *     most likely misspelt)
 *   OPERATION_TIMEDOUT                                    TIMEOUT   yes
 *   SSL_* and PEER_FAILED_VERIFICATION                    NETWORK   no
 *   ABORTED_BY_CALLBACK                                   CANCELED  no
 *   URL_MALFORMAT UNSUPPORTED_PROTOCOL                    CONFIG_INVALID no
 *   OUT_OF_MEMORY                                         OUT_OF_MEMORY no
 *   anything else                                         UNEXPECTED no */
sluice_error *sluice__httpreq_error_from_transport(const char *svc, int curl_code,
                                                   const char *detail, const char *op,
                                                   const char *path, int attempts);

/* err with " after <attempts> attempts" appended (kind, retryable flag and
 * HTTP status kept); err itself when attempts <= 1, err is NULL or the
 * static out-of-memory error. */
sluice_error *sluice__httpreq_error_note_attempts(sluice_error *err, int attempts);

#endif
