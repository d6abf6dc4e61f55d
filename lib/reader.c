/* SPDX-License-Identifier: MIT */
/* Readers: a cursor over a service's source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "operator.h"
#include "options.h"
#include "path.h"
#include "readahead.h"
#include "reader.h"

static const char *const reader_keys[] = {"offset",     "length", "chunk",
                                          "concurrent", "verify", NULL};

sluice_error *sluice__reader_verify_option(const sluice_options *o, const char *what,
                                           int *required) {
  const char *v = sluice_options_get(o, "verify");
  *required = v && !strcmp(v, "required");
  if (v && !*required && strcmp(v, "auto"))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s: option verify must be 'auto' or 'required', not '%s'", what, v);
  return NULL;
}

/* Why src's bytes are not (or cannot be) checked, for messages. */
static const char *unverified_why(const char *why) {
  return why ? why
             : "nothing to check it against (a ranged read, or a store that keeps no "
               "checksum and no MD5 ETag)";
}

/* Only network stores can be checked against a record of the object:
 * a source with no checkable entry is read straight from its origin (a
 * local file, memory, a descriptor), with nothing in between to check. */
static sluice_error *verify_at_open(sluice_reader *r) {
  const char *why = NULL;
  if (!r->verify_required || !r->src->vt->checkable || r->src->vt->checkable(r->src, &why))
    return NULL;
  return sluice__error(SLUICE_ERR_UNSUPPORTED,
                       "reader_open '%s': verify=required, but the object cannot be verified: %s",
                       r->src->path, unverified_why(why));
}

sluice_error *sluice__reader_check_verified(sluice_reader *r) {
  const char *why = NULL;
  if (!r->verify_required || !r->src->vt->checkable || r->src->vt->verified(r->src, &why))
    return NULL;
  return sluice__error(SLUICE_ERR_UNSUPPORTED,
                       "read '%s': verify=required, but the bytes could not be verified: %s",
                       r->src->path, unverified_why(why));
}

sluice_error *sluice__reader_wrap(sluice__source *src, sluice_reader **out) {
  sluice_reader *r = calloc(1, sizeof(*r));
  if (!r) {
    src->vt->free(src);
    return sluice__error_oom();
  }
  r->src = src;
  *out = r;
  return NULL;
}

/* The reader of src (taken even on failure), holding a reference on op. */
static sluice_error *reader_of(sluice_operator *op, sluice__source *src, sluice_reader **out) {
  sluice_error *err = sluice__reader_wrap(src, out);
  if (err) return err;
  (*out)->op = op;
  sluice__operator_ref(op);
  return NULL;
}

sluice_error *sluice_reader_open(sluice_operator *op, const char *path, const sluice_options *opts,
                                 sluice_reader **out) {
  if (out) *out = NULL;
  if (!op || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "reader_open: operator and out must be non-NULL");
  uint64_t offset, length, chunk, concurrent;
  sluice_error *err = sluice__opt_check_known(opts, "reader_open", reader_keys, NULL);
  if (!err) err = sluice__opt_size(opts, "offset", 0, 0, UINT64_MAX, "reader_open", &offset);
  if (!err)
    err = sluice__opt_size(opts, "length", UINT64_MAX, 0, UINT64_MAX, "reader_open", &length);
  if (!err)
    err = sluice__opt_size(opts, "chunk", 8u << 20, 64u << 10, 1ull << 30, "reader_open", &chunk);
  if (!err) err = sluice__opt_count(opts, "concurrent", 1, 1, 256, "reader_open", &concurrent);
  int verify_required = 0;
  if (!err) err = sluice__reader_verify_option(opts, "reader_open", &verify_required);
  if (err) return err;
  if ((err = sluice__path_check("reader_open", path, SLUICE__PATH_FILE))) return err;
  sluice__source *src;
  err = op->vt->open_source(op->svc, path, offset, length, &src);
  if (!err) err = reader_of(op, src, out);
  if (err) return err;
  (*out)->verify_required = verify_required;
  if ((err = verify_at_open(*out))) {
    sluice_reader_free(*out);
    *out = NULL;
    return err;
  }
  /* Read-ahead pays off only for a positional source of known size read
   * by more than one fetcher. */
  if (concurrent > 1 && src->vt->pread && src->size != UINT64_MAX) {
    (*out)->ra_chunk = (size_t)chunk;
    (*out)->ra_concurrent = (unsigned)concurrent;
  }
  return NULL;
}

sluice_error *sluice__reader_open_listed(sluice_operator *op, const char *path,
                                         const sluice_metadata *listed, sluice_reader **out) {
  *out = NULL;
  if (!op->vt->open_source_listed) return sluice_reader_open(op, path, NULL, out);
  sluice_error *err = sluice__path_check("reader_open", path, SLUICE__PATH_FILE);
  sluice__source *src;
  if (!err) err = op->vt->open_source_listed(op->svc, path, listed, &src);
  return err ? err : reader_of(op, src, out);
}

sluice_error *sluice_reader_read(sluice_reader *r, void *buf, size_t len, size_t *n_out) {
  if (n_out) *n_out = 0;
  if (!r || !n_out || (!buf && len))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "reader_read: reader, buf and n_out must be non-NULL");
  if (r->eof || len == 0) return NULL;
  if (r->seeked && r->pos >= r->src->size) { /* sought to or past the end */
    r->eof = 1;
    return NULL;
  }
  size_t n;
  sluice_error *err = NULL;
  if (r->ra_concurrent && !r->ra)
    err = sluice__readahead_start(r->src, r->pos, r->ra_chunk, r->ra_concurrent, &r->ra);
  if (!err && r->ra) {
    err = sluice__readahead_read(r->ra, buf, len, &n);
  } else if (!err && r->seeked) {
    /* A positioned read fails when asked past the end: ask up to it. */
    uint64_t left = r->src->size - r->pos;
    err = r->src->vt->pread(r->src, buf, len < left ? len : (size_t)left, r->pos, &n);
  } else if (!err) {
    err = r->src->vt->read(r->src, buf, len, &n);
  }
  if (!err && n == 0 && !r->eof) err = sluice__reader_check_verified(r);
  if (err) return err;
  if (n == 0) r->eof = 1;
  r->pos += n;
  *n_out = n;
  return NULL;
}

uint64_t sluice_reader_size(const sluice_reader *r) {
  if (!r || r->src->size == UINT64_MAX) return UINT64_MAX;
  return r->src->size > r->pos ? r->src->size - r->pos : 0;
}

const char *sluice_reader_verified(const sluice_reader *r) {
  const char *name = r && r->src->vt->verified ? r->src->vt->verified(r->src, NULL) : NULL;
  return name ? name : "none";
}

sluice_error *sluice_reader_seek(sluice_reader *r, int64_t offset, int whence, uint64_t *pos_out) {
  if (!r) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "reader_seek: reader must be non-NULL");
  const char *path = r->src->path ? r->src->path : "(stream)";
  if (!r->src->vt->pread || r->src->size == UINT64_MAX)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "reader_seek '%s': the reader is over a stream, which cannot seek", path);
  uint64_t base;
  if (whence == SEEK_SET)
    base = 0;
  else if (whence == SEEK_CUR)
    base = r->pos;
  else if (whence == SEEK_END)
    base = r->src->size;
  else
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "reader_seek '%s': whence %d is none of SEEK_SET, SEEK_CUR, SEEK_END",
                         path, whence);
  /* In unsigned arithmetic, where wrapping is defined: a negative offset
   * that goes below 0 wraps past INT64_MAX and is refused with it. */
  uint64_t pos = base + (uint64_t)offset;
  if (base > INT64_MAX || (offset < 0 ? pos > base : pos < base) || pos > INT64_MAX)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "reader_seek '%s': the position would be %s",
                         path, offset < 0 ? "before the start" : "past INT64_MAX");
  if (pos != r->pos) {
    sluice__readahead_free(r->ra);
    r->ra = NULL;
    r->pos = pos;
    r->eof = 0;
    r->seeked = 1;
  }
  if (pos_out) *pos_out = pos;
  return NULL;
}

void sluice_reader_free(sluice_reader *r) {
  if (!r) return;
  sluice__readahead_free(r->ra);
  r->src->vt->free(r->src);
  if (r->op) sluice__operator_unref(r->op);
  free(r);
}
