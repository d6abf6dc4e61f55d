/* SPDX-License-Identifier: MIT */
/*
 * Sources and sinks written by the caller, behind the same service
 * interface as every other (lib/service.h), so that readers, writers,
 * write_from and jobs take them unchanged.  What a callback returns is
 * checked: 0, or a positive errno value that becomes the error's cause;
 * anything else, or more bytes than the buffer holds, is a bug in the
 * caller's code and fails the copy with UNEXPECTED rather than being
 * believed.
 */
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "error.h"
#include "reader.h"

/* The error for a callback's return value rc (non-zero). */
static sluice_error *callback_failed(const char *kind, const char *name, const char *cb, int rc) {
  if (rc > 0) return sluice__error_errno(rc, "%s '%s': %s failed", kind, name, cb);
  return sluice__error(SLUICE_ERR_UNEXPECTED,
                       "%s '%s': %s returned %d, which is neither 0 nor an errno value", kind, name,
                       cb, rc);
}

static sluice_error *too_many(const char *kind, const char *name, const char *cb, size_t n,
                              size_t len) {
  return sluice__error(SLUICE_ERR_UNEXPECTED, "%s '%s': %s reported %zu bytes for a buffer of %zu",
                       kind, name, cb, n, len);
}

/* The ops as this library knows them, from a caller built against this
 * header or a newer one (struct_size larger: the extra fields are not
 * ours to read) or an older one (the fields it lacks stay zero). */
static void copy_ops(void *copy, size_t size, const void *ops, size_t caller_size) {
  memset(copy, 0, size);
  memcpy(copy, ops, caller_size < size ? caller_size : size);
}

/* ---- sources ---- */

typedef struct caller_source {
  sluice__source base;
  sluice_source_ops ops;
  void *ctx;
  char *name;
} caller_source;

static sluice_error *src_read(sluice__source *s, void *buf, size_t len, size_t *n) {
  caller_source *cs = (caller_source *)s;
  size_t got = 0;
  int rc = cs->ops.read(cs->ctx, buf, len, &got);
  *n = 0;
  if (rc) return callback_failed("source", cs->name, "read", rc);
  if (got > len) return too_many("source", cs->name, "read", got, len);
  *n = got;
  return NULL;
}

static sluice_error *src_pread(sluice__source *s, void *buf, size_t len, uint64_t off, size_t *n) {
  caller_source *cs = (caller_source *)s;
  size_t got = 0;
  *n = 0;
  if (off >= s->size || len == 0) return NULL;
  if (len > s->size - off) len = (size_t)(s->size - off);
  int rc = cs->ops.pread(cs->ctx, buf, len, off, &got);
  if (rc) return callback_failed("source", cs->name, "pread", rc);
  if (got > len) return too_many("source", cs->name, "pread", got, len);
  *n = got;
  return NULL;
}

static void src_interrupt(sluice__source *s) {
  caller_source *cs = (caller_source *)s;
  if (cs->ops.interrupt) cs->ops.interrupt(cs->ctx);
}

static void src_free(sluice__source *s) {
  caller_source *cs = (caller_source *)s;
  if (cs->ops.release) cs->ops.release(cs->ctx);
  free(cs->name);
  free(cs);
}

static const struct sluice__source_vt src_vt = {
    .read = src_read, .pread = src_pread, .free = src_free, .interrupt = src_interrupt};
static const struct sluice__source_vt stream_vt = {
    .read = src_read, .free = src_free, .interrupt = src_interrupt};

sluice_error *sluice_reader_from_source(const sluice_source_ops *ops, void *ctx, uint64_t size,
                                        const char *name, sluice_reader **out) {
  if (out) *out = NULL;
  int valid = ops && ops->struct_size >= sizeof(sluice_source_ops);
  if (!valid || !ops->read || !out) {
    /* ctx is the library's from the call on: released on every path. */
    if (valid && ops->release) ops->release(ctx);
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "sluice_reader_from_source: ops (with struct_size and read) and out must "
                         "be given");
  }
  caller_source *cs = calloc(1, sizeof(*cs));
  if (!cs || !(cs->name = strdup(name ? name : "source"))) {
    free(cs);
    if (ops->release) ops->release(ctx);
    return sluice__error_oom();
  }
  copy_ops(&cs->ops, sizeof(cs->ops), ops, ops->struct_size);
  cs->ctx = ctx;
  cs->base.vt = cs->ops.pread && size != UINT64_MAX ? &src_vt : &stream_vt;
  cs->base.size = size;
  cs->base.path = cs->name;
  return sluice__reader_wrap(&cs->base, out);
}

/* ---- sinks ---- */

typedef struct caller_sink {
  sluice__sink base;
  sluice_sink_ops ops;
  void *ctx;
  char *name;
  int ended; /* committed or aborted: neither happens again */
} caller_sink;

static sluice_error *sink_write_part(sluice__sink *s, const sluice__chunk *c) {
  caller_sink *k = (caller_sink *)s;
  int rc = k->ops.write_part(k->ctx, c->index, c->offset, c->buf, c->len);
  return rc ? callback_failed("sink", k->name, "write_part", rc) : NULL;
}

static sluice_error *sink_commit(sluice__sink *s, uint64_t total_size, uint64_t nparts) {
  caller_sink *k = (caller_sink *)s;
  if (k->ended)
    return sluice__error(SLUICE_ERR_UNEXPECTED, "sink '%s': committed after it ended", k->name);
  int rc = k->ops.commit(k->ctx, total_size, nparts);
  if (rc) return callback_failed("sink", k->name, "commit", rc);
  k->ended = 1;
  return NULL;
}

static void sink_abort(sluice__sink *s) {
  caller_sink *k = (caller_sink *)s;
  if (k->ended) return;
  k->ended = 1;
  k->ops.abort(k->ctx);
}

static void sink_interrupt(sluice__sink *s) {
  caller_sink *k = (caller_sink *)s;
  if (k->ops.interrupt) k->ops.interrupt(k->ctx);
}

static void sink_free(sluice__sink *s) {
  caller_sink *k = (caller_sink *)s;
  if (k->ops.release) k->ops.release(k->ctx);
  free(k->name);
  free(k);
}

static const struct sluice__sink_vt sink_vt = {.write_part = sink_write_part,
                                               .commit = sink_commit,
                                               .interrupt = sink_interrupt,
                                               .abort = sink_abort,
                                               .free = sink_free};

sluice_error *sluice__caller_sink_check(const sluice_sink_ops *ops, const char *what,
                                        sluice_sink_ops *copy) {
  if (!ops || ops->struct_size < sizeof(sluice_sink_ops) || !ops->write_part || !ops->commit ||
      !ops->abort)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: ops must be given with struct_size, write_part, commit and abort",
                         what);
  if (ops->flags & ~SLUICE_SINK_ORDERED)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", what,
                         ops->flags & ~SLUICE_SINK_ORDERED);
  copy_ops(copy, sizeof(*copy), ops, ops->struct_size);
  return NULL;
}

sluice_error *sluice__caller_sink_new(const sluice_sink_ops *ops, void *ctx, const char *name,
                                      size_t chunk, sluice__sink **out) {
  caller_sink *k = calloc(1, sizeof(*k));
  if (!k || !(k->name = strdup(name ? name : "sink"))) {
    free(k);
    if (ops->release) ops->release(ctx);
    return sluice__error_oom();
  }
  k->ops = *ops;
  k->ctx = ctx;
  k->base.vt = &sink_vt;
  k->base.chunk = chunk;
  k->base.per_worker = 1;
  k->base.ordered = (ops->flags & SLUICE_SINK_ORDERED) != 0;
  k->base.max_in_flight = k->base.ordered ? 1 : ops->max_in_flight;
  k->base.path = k->name;
  *out = &k->base;
  return NULL;
}
