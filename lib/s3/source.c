/*
 * Reading an S3 object: ranged GETs pinned to the ETag the first HEAD saw,
 * so an object replaced mid-read fails with condition-not-match instead of
 * returning a mix of two versions.  pread() is one ranged GET straight into
 * the caller's buffer, safe from several threads: write_from's reader
 * threads are what run ranged GETs in parallel.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "s3/s3.h"

#define READ_AHEAD (8u << 20)

typedef struct s3_source {
  sluice__source base;
  sluice__s3 *s3;
  char *key;
  char *path;
  char etag[130];
  uint64_t start;          /* first byte of the range in the object */
  uint64_t cursor;         /* read(): next byte, relative to start */
  unsigned char *buf;      /* read(): one read-ahead block */
  uint64_t buf_off;
  size_t buf_len;
} s3_source;

static sluice_error *s3_pread(sluice__source *s, void *buf, size_t len, uint64_t off, size_t *n) {
  s3_source *ss = (s3_source *)s;
  *n = 0;
  if (off >= s->size || len == 0) return NULL;
  if (len > s->size - off) len = (size_t)(s->size - off);
  char range[64];
  snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, ss->start + off,
           ss->start + off + len - 1);
  sluice__s3_req r = {.op = "GetObject", .path = ss->path, .method = "GET", .key = ss->key,
                      .dst = buf, .dst_cap = len};
  sluice__s3_req_header(&r, "Range", range);
  if (ss->etag[0]) sluice__s3_req_header(&r, "If-Match", ss->etag);
  sluice_error *err = sluice__s3_perform(ss->s3, &r);
  if (err && sluice_error_kind(err) == SLUICE_ERR_CONDITION_NOT_MATCH)
    sluice__error_append(err, ": the object changed while it was being read");
  if (!err && r.dst_len != len)
    err = sluice__error(SLUICE_ERR_UNEXPECTED,
                        "s3: GetObject '%s': asked for %zu bytes at %" PRIu64 ", got %zu",
                        ss->path, len, off, r.dst_len);
  if (!err) *n = r.dst_len;
  sluice__s3_req_cleanup(&r);
  return err;
}

static sluice_error *s3_read(sluice__source *s, void *buf, size_t len, size_t *n) {
  s3_source *ss = (s3_source *)s;
  *n = 0;
  if (ss->cursor >= s->size || len == 0) return NULL;
  /* Large reads go straight to the caller's buffer; small ones are served
   * from one read-ahead block, so a 4 KiB read loop is not a GET each. */
  if (len >= READ_AHEAD) {
    sluice_error *err = s3_pread(s, buf, len, ss->cursor, n);
    if (!err) ss->cursor += *n;
    return err;
  }
  if (ss->cursor < ss->buf_off || ss->cursor >= ss->buf_off + ss->buf_len) {
    if (!ss->buf && !(ss->buf = malloc(READ_AHEAD))) return sluice__error_oom();
    size_t got;
    sluice_error *err = s3_pread(s, ss->buf, READ_AHEAD, ss->cursor, &got);
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

static void s3_source_free(sluice__source *s) {
  s3_source *ss = (s3_source *)s;
  free(ss->buf);
  free(ss->key);
  free(ss->path);
  free(ss);
}

static const struct sluice__source_vt s3_source_vt = {
    .read = s3_read, .pread = s3_pread, .free = s3_source_free};

sluice_error *sluice__s3_open_source(void *svc, const char *path, uint64_t offset,
                                     uint64_t length, sluice__source **out) {
  sluice__s3 *s3 = svc;
  sluice_metadata meta = {.mtime = -1};
  sluice_error *err = sluice__s3_head(s3, path, &meta);
  if (err) return err;
  uint64_t total = meta.size;
  if (offset > total && total > 0) {
    sluice__metadata_clear(&meta);
    return sluice__error(SLUICE_ERR_RANGE_NOT_SATISFIABLE,
                         "s3: read '%s': offset %" PRIu64 " is past the end (%" PRIu64 " bytes)",
                         path, offset, total);
  }
  s3_source *ss = calloc(1, sizeof(*ss));
  if (!ss || !(ss->key = sluice__s3_key(s3, path)) || !(ss->path = strdup(path))) {
    if (ss) s3_source_free(&ss->base);
    sluice__metadata_clear(&meta);
    return sluice__error_oom();
  }
  if (meta.etag) snprintf(ss->etag, sizeof(ss->etag), "%s", meta.etag);
  sluice__metadata_clear(&meta);
  ss->s3 = s3;
  ss->start = offset > total ? total : offset;
  uint64_t left = total - ss->start;
  ss->base.vt = &s3_source_vt;
  ss->base.size = length < left ? length : left;
  ss->base.path = ss->path;
  *out = &ss->base;
  return NULL;
}
