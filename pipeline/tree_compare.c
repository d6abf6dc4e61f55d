/* SPDX-License-Identifier: MIT */
/*
 * sync --checksum, where the listings alone cannot tell (tree_plan.c,
 * sluice__tree_same): a worker reads the side that lists no checksum (a
 * local file) and hashes it, or asks the stores for the full-object CRCs
 * they keep (a HEAD each; a multipart ETag is no MD5), or between two file
 * trees reads both.  An object store's bytes are never downloaded for
 * this.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "checksum.h"
#include "error.h"
#include "operator.h"
#include "tree.h"

/* The alg digest of the object at op:path, read through with one buffer
 * from the budget, into raw (its length in *n). */
static sluice_error *digest_of(sluice__tree *t, sluice_operator *op, const char *path,
                               sluice__ck_alg alg, unsigned char raw[SLUICE__CK_MAX_RAW],
                               size_t *n) {
  enum { BUF = 256 * 1024 };
  if (sluice__budget_take(&t->budget, BUF) != 0)
    return sluice__error(SLUICE_ERR_CANCELED, "%s '%s': canceled", t->verb, path);
  unsigned char *buf = malloc(BUF);
  sluice_reader *r = NULL;
  sluice__checksum ck;
  int ck_open = 0;
  sluice_error *err = buf ? sluice_reader_open(op, path, NULL, &r) : sluice__error_oom();
  if (!err) err = sluice__ck_init(&ck, alg);
  ck_open = err == NULL;
  for (size_t got = 1; !err && got > 0;) {
    if (atomic_load(&t->stop))
      err = sluice__error(SLUICE_ERR_CANCELED, "%s '%s': canceled", t->verb, path);
    if (!err) err = sluice_reader_read(r, buf, BUF, &got);
    if (!err) sluice__ck_update(&ck, buf, got);
  }
  if (!err) {
    *n = sluice__ck_final(&ck, raw);
    ck_open = 0;
  }
  if (ck_open) sluice__ck_cleanup(&ck);
  sluice_reader_free(r);
  free(buf);
  sluice__budget_give(&t->budget, BUF);
  return err;
}

/* The listed MD5 (hex) against the other side's bytes. */
static sluice_error *md5_check(sluice__tree *t, sluice_operator *op, const char *path,
                               const char *want, int *same) {
  unsigned char raw[SLUICE__CK_MAX_RAW];
  size_t n = 0;
  sluice_error *err = digest_of(t, op, path, SLUICE__CK_MD5, raw, &n);
  if (err) return err;
  char hex[33];
  for (size_t i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  *same = n == 16 && !strcmp(hex, want);
  return NULL;
}

/* What a side's store keeps (sluice_metadata's crc_alg and crc, from a
 * stat); a side without an ETag (a file) keeps nothing but can be read. */
static sluice_error *crc_check(sluice__tree *t, const char *spath, const char *dpath, int *same) {
  sluice_metadata *sm = NULL, *dm = NULL;
  sluice_error *err = sluice_stat(t->src, spath, &sm);
  if (!err) err = sluice_stat(t->dst, dpath, &dm);
  if (!err && sm->size == dm->size) {
    if (sm->crc_alg && sm->crc_alg == dm->crc_alg) {
      *same = sm->crc == dm->crc;
    } else if (sm->crc_alg || dm->crc_alg) {
      /* One store keeps a CRC; the other side is read if it is a file. */
      const sluice_metadata *kept = sm->crc_alg ? sm : dm, *other = sm->crc_alg ? dm : sm;
      sluice_operator *op = sm->crc_alg ? t->dst : t->src;
      const char *path = sm->crc_alg ? dpath : spath;
      if (!other->etag) {
        unsigned char raw[SLUICE__CK_MAX_RAW];
        size_t n = 0;
        err = digest_of(t, op, path, (sluice__ck_alg)kept->crc_alg, raw, &n);
        uint64_t crc = 0; /* the digest is the CRC, big-endian */
        for (size_t i = 0; i < n; i++) crc = crc << 8 | raw[i];
        *same = !err && crc == kept->crc;
      }
    }
  }
  sluice_metadata_free(sm);
  sluice_metadata_free(dm);
  return err;
}

/* Two sides that list no checksum at all (file trees): both are read.
 * CRC64NVME, as the cheapest digest here (a tenth of MD5's CPU), since
 * nothing outside this compare ever sees it. */
static sluice_error *both_check(sluice__tree *t, const char *spath, const char *dpath, int *same) {
  unsigned char a[SLUICE__CK_MAX_RAW], b[SLUICE__CK_MAX_RAW];
  size_t na = 0, nb = 0;
  sluice_error *err = digest_of(t, t->src, spath, SLUICE__CK_CRC64NVME, a, &na);
  if (!err) err = digest_of(t, t->dst, dpath, SLUICE__CK_CRC64NVME, b, &nb);
  *same = !err && na == nb && !memcmp(a, b, na);
  return err;
}

sluice_error *sluice__tree_check_same(sluice__tree *t, const struct sluice__item *it, int *same) {
  *same = 0;
  char *dpath = sluice__tree_dst_path(t, it);
  if (!dpath) return sluice__error_oom();
  sluice_error *err = NULL;
  switch (it->hash) {
  case SLUICE__TREE_HASH_SRC: err = md5_check(t, t->src, it->path, it->md5, same); break;
  case SLUICE__TREE_HASH_DST: err = md5_check(t, t->dst, dpath, it->md5, same); break;
  case SLUICE__TREE_CRC: err = crc_check(t, it->path, dpath, same); break;
  case SLUICE__TREE_HASH_BOTH: err = both_check(t, it->path, dpath, same); break;
  default: break;
  }
  free(dpath);
  return err;
}
