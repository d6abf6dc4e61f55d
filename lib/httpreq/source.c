/* SPDX-License-Identifier: MIT */
/*
 * Reading one object over the request engine: ranged GETs pinned to the
 * version the first HEAD saw, so an object replaced mid-read fails with
 * condition-not-match instead of returning a mix of two versions.  Shared by
 * the s3 service and the http service (lib/http/http.c), which differ only
 * in how they HEAD the object and what they call a GET in messages.
 * pread() is one ranged GET straight into the caller's buffer, safe from
 * several threads: write_from's reader threads are what run ranged GETs in
 * parallel.
 *
 * The pin, from the validators of the HEAD reply:
 *  - a strong ETag: If-Match (S3 always; nginx for static files, whose ETag
 *    is "<mtime hex>-<size hex>");
 *  - a weak ETag (W/"...") or none, with a Last-Modified: If-Unmodified-Since
 *    with that date.  If-Match compares strongly (RFC 9110 13.1.1), so a
 *    weak ETag never matches and every GET would fail with 412.  Dates have
 *    one-second resolution: a replacement stamped with the same second goes
 *    unnoticed;
 *  - neither: no pin.
 * In every case the object size in each reply's Content-Range must still be
 * the one the HEAD saw.  A 200 reply to a ranged GET (a server that ignores
 * Range) is refused by the engine (range_required): unsupported.
 *
 * A read of the whole object is checked against what the store says the
 * object is (lib/readcheck.h): a full-object CRC the store keeps, else the
 * MD5 its ETag is (a single-part object, or a multipart one whose part
 * size is known), as the bytes arrive on the reading threads.  The GET
 * that completes the object fails when they differ, so the copy fails and
 * its destination is aborted; a GET that fetched the whole object at once
 * is sent once more first (a flip in transit does not repeat).  Reads of
 * part of an object are not checked: S3 keeps no checksum of a range.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checksum.h"
#include "error.h"
#include "httpreq/httpreq.h"
#include "readcheck.h"

#define READ_AHEAD (8u << 20)

typedef struct http_source {
  sluice__source base;
  sluice__httpreq *engine;
  char *key;
  char *path;
  const char *get_op;   /* "GetObject", "GET": static */
  const char *pin_name; /* "If-Match", "If-Unmodified-Since" or NULL */
  char pin_value[130];
  uint64_t total;     /* the object's size at the HEAD */
  uint64_t start;     /* first byte of the range in the object */
  uint64_t cursor;    /* read(): next byte, relative to start */
  unsigned char *buf; /* read(): one read-ahead block */
  uint64_t buf_off;
  size_t buf_len;
  atomic_int interrupted;  /* sticky: every request from now on stops */
  sluice__readcheck check; /* armed only for a read of the whole object */
  atomic_int may_wait;     /* a reading side claims in order (service.h claims) */
  int crc_from_get;        /* no HEAD: the whole-object GET brings the stored CRC */
} http_source;

/* The error for bytes that do not match what the store says the object is. */
static sluice_error *mismatch(const http_source *ss) {
  const sluice__readcheck *rc = &ss->check;
  sluice_error *err = sluice__error(
      SLUICE_ERR_IO,
      "%s: %s '%s': the data received does not match the object's %s (%s, received %s): "
      "corrupted in transit or in the store",
      ss->engine->svc, ss->get_op, ss->path,
      rc->kind == SLUICE__RC_CRC ? "stored checksum" : "ETag", rc->want_text, rc->got_text);
  /* Another read may get the right bytes: a caller may start over. */
  return sluice__error_set_retryable(err, 1);
}

/* One ranged GET of [off, off+len) into buf, checked as it arrives. */
static sluice_error *get_range(http_source *ss, void *buf, size_t len, uint64_t off, int *bad) {
  sluice__source *s = &ss->base;
  const char *svc = ss->engine->svc;
  char range[64];
  snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, ss->start + off,
           ss->start + off + len - 1);
  sluice__httpreq_req r = {.op = ss->get_op,
                           .path = ss->path,
                           .method = "GET",
                           .key = ss->key,
                           .cancel = &ss->interrupted,
                           .retries = s->retries,
                           .dst = buf,
                           .dst_cap = len};
  /* Asking for the whole object, a 200 is the right answer too. */
  int whole = ss->start + off == 0 && len == ss->total;
  r.range_required = !whole;
  sluice__httpreq_header(&r, "Range", range);
  int crc_here = whole && ss->crc_from_get;
  if (crc_here) sluice__httpreq_header(&r, "x-amz-checksum-mode", "ENABLED");
  if (ss->pin_name) sluice__httpreq_header(&r, ss->pin_name, ss->pin_value);
  sluice_error *err = sluice__httpreq_perform(ss->engine, &r);
  if (err && sluice_error_kind(err) == SLUICE_ERR_CONDITION_NOT_MATCH)
    sluice__error_append(err, ": the object changed while it was being read");
  if (!err && r.range_total != UINT64_MAX && r.range_total != ss->total)
    err = sluice__error(SLUICE_ERR_CONDITION_NOT_MATCH,
                        "%s: %s '%s': the object changed while it was being read (%" PRIu64
                        " bytes when opened, now %" PRIu64 ")",
                        svc, ss->get_op, ss->path, ss->total, r.range_total);
  if (!err && r.dst_len != len)
    err = sluice__error(SLUICE_ERR_UNEXPECTED,
                        "%s: %s '%s': asked for %zu bytes at %" PRIu64 ", got %zu", svc, ss->get_op,
                        ss->path, len, off, r.dst_len);
  if (!err && r.etag_not_md5)
    sluice__readcheck_stop(&ss->check,
                           "the object is encrypted with SSE-KMS or SSE-C, so its "
                           "ETag is no MD5 of its bytes");
  /* This GET is the only read of the object: what it reports is checked
   * as a value a HEAD reported would be. */
  if (!err && crc_here)
    sluice__httpreq_source_expect_stored(s, r.checksum_name, r.checksum, r.checksum_type);
  /* A failed read leaves a hole no later read of this copy fills: the check
   * stands down, and any read waiting for its turn goes on. */
  if (err) sluice__readcheck_stop(&ss->check, "a read of the object failed");
  *bad = !err && sluice__readcheck_received(&ss->check, buf, len, ss->start + off,
                                            atomic_load(&ss->may_wait)) != 0;
  sluice__httpreq_req_cleanup(&r);
  return err;
}

static sluice_error *source_pread(sluice__source *s, void *buf, size_t len, uint64_t off,
                                  size_t *n) {
  http_source *ss = (http_source *)s;
  *n = 0;
  if (off >= s->size || len == 0) return NULL;
  if (len > s->size - off) len = (size_t)(s->size - off);
  int bad = 0;
  sluice_error *err = get_range(ss, buf, len, off, &bad);
  /* The whole object in one GET: fetched once more before giving up. */
  if (!err && bad && ss->start + off == 0 && len == ss->total) {
    sluice__readcheck_restart(&ss->check);
    if (s->retries) atomic_fetch_add_explicit(s->retries, 1, memory_order_relaxed);
    err = get_range(ss, buf, len, off, &bad);
  }
  if (!err && bad) err = mismatch(ss);
  if (!err) *n = len;
  return err;
}

static sluice_error *source_read(sluice__source *s, void *buf, size_t len, size_t *n) {
  http_source *ss = (http_source *)s;
  *n = 0;
  if (ss->cursor >= s->size || len == 0) return NULL;
  /* Large reads go straight to the caller's buffer; small ones are served
   * from one read-ahead block, so a 4 KiB read loop is not a GET each. */
  if (len >= READ_AHEAD) {
    sluice_error *err = source_pread(s, buf, len, ss->cursor, n);
    if (!err) ss->cursor += *n;
    return err;
  }
  if (ss->cursor < ss->buf_off || ss->cursor >= ss->buf_off + ss->buf_len) {
    if (!ss->buf && !(ss->buf = malloc(READ_AHEAD))) return sluice__error_oom();
    size_t got;
    sluice_error *err = source_pread(s, ss->buf, READ_AHEAD, ss->cursor, &got);
    if (err) return err;
    ss->buf_off = ss->cursor;
    ss->buf_len = got;
  }
  size_t avail = (size_t)(ss->buf_off + ss->buf_len - ss->cursor);
  size_t k = len < avail ? len : avail;
  memcpy(buf, ss->buf + (ss->cursor - ss->buf_off), k);
  ss->cursor += k;
  *n = k;
  return NULL;
}

static void source_free(sluice__source *s) {
  http_source *ss = (http_source *)s;
  sluice__readcheck_fini(&ss->check);
  free(ss->buf);
  free(ss->key);
  free(ss->path);
  free(ss);
}

static void source_interrupt(sluice__source *s) {
  http_source *ss = (http_source *)s;
  atomic_store(&ss->interrupted, 1);
  sluice__readcheck_stop(&ss->check, "the read was canceled");
}

static const char *source_verified(sluice__source *s, const char **why);
static int source_checkable(sluice__source *s, const char **why);

static void source_claims(sluice__source *s, uint64_t from, int on) {
  http_source *ss = (http_source *)s;
  if (on) sluice__readcheck_claims_from(&ss->check, ss->start + from);
  atomic_store(&ss->may_wait, on);
}

static const struct sluice__source_vt source_vt = {.read = source_read,
                                                   .pread = source_pread,
                                                   .free = source_free,
                                                   .interrupt = source_interrupt,
                                                   .verified = source_verified,
                                                   .checkable = source_checkable,
                                                   .claims = source_claims};

/* IMF-fixdate (RFC 9110 5.6.7), without strftime's locale. */
static void http_date(int64_t t, char *out, size_t cap) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm)) {
    out[0] = '\0';
    return;
  }
  snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

sluice_error *sluice__httpreq_source_new(sluice__httpreq *e, const char *key, const char *path,
                                         const sluice_metadata *meta, uint64_t offset,
                                         uint64_t length, const char *get_op,
                                         sluice__source **out) {
  uint64_t total = meta->size;
  if (offset > total && total > 0)
    return sluice__error(SLUICE_ERR_RANGE_NOT_SATISFIABLE,
                         "%s: read '%s': offset %" PRIu64 " is past the end (%" PRIu64 " bytes)",
                         e->svc, path, offset, total);
  http_source *ss = calloc(1, sizeof(*ss));
  /* Only a read of the whole object can be checked against the store's
   * record of it: a ranged read stays unarmed. */
  if (ss) sluice__readcheck_init(&ss->check, offset == 0 && length >= total ? total : 0);
  if (!ss || !(ss->key = strdup(key)) || !(ss->path = strdup(path))) {
    if (ss) source_free(&ss->base);
    return sluice__error_oom();
  }
  if (meta->etag && strncmp(meta->etag, "W/", 2) != 0) {
    ss->pin_name = "If-Match";
    snprintf(ss->pin_value, sizeof(ss->pin_value), "%s", meta->etag);
  } else if (meta->mtime >= 0) {
    http_date(meta->mtime, ss->pin_value, sizeof(ss->pin_value));
    if (ss->pin_value[0]) ss->pin_name = "If-Unmodified-Since";
  }
  ss->engine = e;
  ss->get_op = get_op;
  ss->total = total;
  ss->start = offset > total ? total : offset;
  uint64_t left = total - ss->start;
  ss->base.vt = &source_vt;
  ss->base.size = length < left ? length : left;
  ss->base.path = ss->path;
  *out = &ss->base;
  return NULL;
}

void sluice__httpreq_source_crc_from_get(sluice__source *s) {
  ((http_source *)s)->crc_from_get = 1;
}

void sluice__httpreq_source_expect_stored(sluice__source *s, const char *name, const char *value,
                                          const char *type) {
  http_source *ss = (http_source *)s;
  sluice__ck_alg alg;
  uint64_t crc;
  if (sluice__ck_stored_full_crc(name, value, type, &alg, &crc) == 0)
    sluice__readcheck_expect_crc(&ss->check, alg, crc);
}

sluice__readcheck *sluice__httpreq_source_check(sluice__source *s) {
  return &((http_source *)s)->check;
}

static const char *source_verified(sluice__source *s, const char **why) {
  http_source *ss = (http_source *)s;
  const char *name = sluice__readcheck_verified(&ss->check);
  if (why) *why = name ? NULL : sluice__readcheck_why(&ss->check);
  return name;
}

static int source_checkable(sluice__source *s, const char **why) {
  http_source *ss = (http_source *)s;
  int armed = sluice__readcheck_armed(&ss->check) != SLUICE__RC_NONE;
  if (why) *why = armed ? NULL : sluice__readcheck_why(&ss->check);
  return armed;
}
