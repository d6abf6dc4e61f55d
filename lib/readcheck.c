/* SPDX-License-Identifier: MIT */
/* Checking a whole-object read as its pieces arrive; see readcheck.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readcheck.h"

enum { ACTIVE, STOPPED, VERIFIED, MISMATCH };

struct sluice__rc_piece {
  uint64_t off, len, crc;
};

/* One MD5 run: the whole object, or one part of a multipart object. */
struct sluice__rc_seg {
  uint64_t hashed; /* bytes of the segment hashed so far */
  int busy;        /* a thread is hashing it (outside the lock) */
  sluice__checksum md;
  unsigned char digest[16];
};

void sluice__readcheck_init(sluice__readcheck *rc, uint64_t total) {
  memset(rc, 0, sizeof(*rc));
  pthread_mutex_init(&rc->lock, NULL);
  pthread_cond_init(&rc->turn, NULL);
  rc->total = total;
}

void sluice__readcheck_fini(sluice__readcheck *rc) {
  for (uint32_t i = 0; rc->segs && i < rc->nsegs; i++) sluice__ck_cleanup(&rc->segs[i].md);
  free(rc->segs);
  free(rc->pieces);
  pthread_cond_destroy(&rc->turn);
  pthread_mutex_destroy(&rc->lock);
}

void sluice__readcheck_expect_crc(sluice__readcheck *rc, sluice__ck_alg alg, uint64_t want) {
  pthread_mutex_lock(&rc->lock);
  if (!rc->started && rc->state == ACTIVE && rc->total > 0 && sluice__ck_is_crc(alg)) {
    free(rc->segs);
    rc->segs = NULL;
    rc->nsegs = 0;
    rc->kind = SLUICE__RC_CRC;
    rc->crc_alg = alg;
    rc->crc_want = want;
  }
  pthread_mutex_unlock(&rc->lock);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* '"' 32 hex digits ['-' N] '"' -> raw and N (0 without a suffix); -1 for
 * anything else. */
static int parse_etag(const char *etag, unsigned char raw[16], uint32_t *nparts) {
  if (!etag || etag[0] != '"') return -1;
  const char *p = etag + 1;
  for (int i = 0; i < 16; i++) {
    int hi = hexval(p[2 * i]), lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    raw[i] = (unsigned char)(hi << 4 | lo);
  }
  p += 32;
  uint32_t n = 0;
  if (*p == '-') {
    p++;
    if (*p < '1' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9' && n <= 10000) n = n * 10 + (uint32_t)(*p++ - '0');
    if (n > 10000) return -1; /* S3 allows 10,000 parts */
  }
  if (p[0] != '"' || p[1] != '\0') return -1;
  *nparts = n;
  return 0;
}

uint32_t sluice__readcheck_etag_parts(const char *etag) {
  unsigned char raw[16];
  uint32_t n;
  return parse_etag(etag, raw, &n) == 0 ? n : 0;
}

/* Arms the MD5 check over nsegs segments of part_size bytes (lock held). */
static int arm_md5(sluice__readcheck *rc, sluice__rc_kind kind, const unsigned char want[16],
                   uint64_t part_size, uint32_t nsegs) {
  if (rc->started || rc->state != ACTIVE || rc->kind != SLUICE__RC_NONE || rc->total == 0)
    return -1;
  struct sluice__rc_seg *segs = calloc(nsegs, sizeof(*segs));
  if (!segs) return -1; /* no memory to check with: the read itself goes on */
  rc->segs = segs;
  rc->nsegs = nsegs;
  rc->part_size = part_size;
  rc->kind = kind;
  memcpy(rc->md5_want, want, 16);
  return 0;
}

sluice__rc_kind sluice__readcheck_expect_etag(sluice__readcheck *rc, const char *etag,
                                              uint64_t part_size) {
  unsigned char raw[16];
  uint32_t n;
  if (parse_etag(etag, raw, &n) != 0) return SLUICE__RC_NONE;
  sluice__rc_kind kind = n ? SLUICE__RC_ETAG_MD5 : SLUICE__RC_MD5;
  uint64_t total = rc->total;
  if (n == 1) part_size = total; /* one part: it is the object */
  if (!n) {
    part_size = total;
    n = 1;
  }
  /* Every part but the last holds part_size bytes, the last 1..part_size:
   * a layout that does not add up to the object cannot be checked. */
  if (!part_size || total > (uint64_t)n * part_size || (uint64_t)(n - 1) * part_size >= total)
    return SLUICE__RC_NONE;
  pthread_mutex_lock(&rc->lock);
  int ok = arm_md5(rc, kind, raw, part_size, n) == 0;
  pthread_mutex_unlock(&rc->lock);
  return ok ? kind : SLUICE__RC_NONE;
}

int sluice__readcheck_expect_md5_b64(sluice__readcheck *rc, const char *b64) {
  unsigned char raw[SLUICE__CK_MAX_RAW];
  if (!b64 || sluice__ck_raw_from_b64(SLUICE__CK_MD5, b64, raw) != 0) return -1;
  pthread_mutex_lock(&rc->lock);
  int r = arm_md5(rc, SLUICE__RC_MD5, raw, rc->total, 1);
  pthread_mutex_unlock(&rc->lock);
  return r;
}

void sluice__readcheck_stop(sluice__readcheck *rc, const char *why) {
  pthread_mutex_lock(&rc->lock);
  if (rc->state == ACTIVE) {
    rc->state = STOPPED;
    rc->why = why;
  }
  pthread_cond_broadcast(&rc->turn);
  pthread_mutex_unlock(&rc->lock);
}

void sluice__readcheck_claims_from(sluice__readcheck *rc, uint64_t off) {
  pthread_mutex_lock(&rc->lock);
  if (rc->state == ACTIVE && rc->nsegs) {
    /* MD5 segments finish in order under claims: every one before off's
     * done, off's hashed up to off, none after it begun. */
    uint32_t i = off >= rc->total ? rc->nsegs : (uint32_t)(off / rc->part_size);
    uint64_t rel = i < rc->nsegs ? off - (uint64_t)i * rc->part_size : 0;
    int ok = rc->segs_done == i && (i == rc->nsegs || rc->segs[i].hashed == rel);
    for (uint32_t j = i + 1; ok && j < rc->nsegs; j++) ok = rc->segs[j].hashed == 0;
    if (!ok) {
      rc->state = STOPPED;
      rc->why = "the object was not read in order";
      pthread_cond_broadcast(&rc->turn);
    }
  }
  pthread_mutex_unlock(&rc->lock);
}

void sluice__readcheck_restart(sluice__readcheck *rc) {
  pthread_mutex_lock(&rc->lock);
  rc->npieces = 0;
  for (uint32_t i = 0; i < rc->nsegs; i++) {
    sluice__ck_cleanup(&rc->segs[i].md);
    rc->segs[i] = (struct sluice__rc_seg){0};
  }
  rc->segs_done = 0;
  if (rc->state == MISMATCH || rc->state == VERIFIED) rc->state = ACTIVE;
  pthread_mutex_unlock(&rc->lock);
}

static void hex16(const unsigned char raw[16], char out[33]) {
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* ---- CRC: pieces in any order, merged as neighbours arrive ---- */

/* Adds [off, off+len) with its crc (lock held); -1 on a mismatch. */
static int crc_received(sluice__readcheck *rc, uint64_t off, uint64_t len, uint64_t crc) {
  size_t i = 0;
  while (i < rc->npieces && rc->pieces[i].off < off) i++;
  struct sluice__rc_piece *l = i ? &rc->pieces[i - 1] : NULL,
                          *r = i < rc->npieces ? &rc->pieces[i] : NULL;
  if ((l && l->off + l->len > off) || (r && off + len > r->off)) {
    rc->state = STOPPED;
    rc->why = "parts of the object were read twice";
    return 0;
  }
  if (l && l->off + l->len == off) {
    l->crc = sluice__ck_combine(rc->crc_alg, l->crc, crc, len);
    l->len += len;
    if (r && l->off + l->len == r->off) { /* the gap is closed: l absorbs r */
      l->crc = sluice__ck_combine(rc->crc_alg, l->crc, r->crc, r->len);
      l->len += r->len;
      memmove(r, r + 1, (rc->npieces - i - 1) * sizeof(*r));
      rc->npieces--;
    }
  } else if (r && off + len == r->off) {
    r->crc = sluice__ck_combine(rc->crc_alg, crc, r->crc, r->len);
    r->off = off;
    r->len += len;
  } else {
    if (rc->npieces == rc->cap_pieces) {
      size_t n = rc->cap_pieces ? 2 * rc->cap_pieces : 16;
      struct sluice__rc_piece *p = realloc(rc->pieces, n * sizeof(*p));
      if (!p) {
        rc->state = STOPPED;
        rc->why = "no memory to check with";
        return 0;
      }
      rc->pieces = p;
      rc->cap_pieces = n;
    }
    memmove(rc->pieces + i + 1, rc->pieces + i, (rc->npieces - i) * sizeof(*rc->pieces));
    rc->pieces[i] = (struct sluice__rc_piece){off, len, crc};
    rc->npieces++;
  }
  if (rc->npieces != 1 || rc->pieces[0].off != 0 || rc->pieces[0].len != rc->total) return 0;
  if (rc->pieces[0].crc == rc->crc_want) {
    rc->state = VERIFIED;
    return 0;
  }
  char want[SLUICE__CK_MAX_B64], got[SLUICE__CK_MAX_B64];
  sluice__ck_crc_b64(rc->crc_alg, rc->crc_want, want);
  sluice__ck_crc_b64(rc->crc_alg, rc->pieces[0].crc, got);
  snprintf(rc->want_text, sizeof(rc->want_text), "%s %s", sluice__ck_s3_name(rc->crc_alg), want);
  snprintf(rc->got_text, sizeof(rc->got_text), "%s", got);
  rc->state = MISMATCH;
  return -1;
}

/* ---- MD5: each segment hashed in order ---- */

/* Every segment is done (lock held): compare; -1 on a mismatch. */
static int md5_compare(sluice__readcheck *rc) {
  unsigned char got[SLUICE__CK_MAX_RAW];
  if (rc->kind == SLUICE__RC_MD5) {
    memcpy(got, rc->segs[0].digest, 16);
  } else {
    sluice__checksum outer;
    if (sluice__ck_init(&outer, SLUICE__CK_MD5)) {
      rc->state = STOPPED;
      rc->why = "no memory to check with";
      return 0;
    }
    for (uint32_t i = 0; i < rc->nsegs; i++) sluice__ck_update(&outer, rc->segs[i].digest, 16);
    sluice__ck_final(&outer, got);
  }
  if (!memcmp(got, rc->md5_want, 16)) {
    rc->state = VERIFIED;
    return 0;
  }
  char w[33], g[33];
  hex16(rc->md5_want, w);
  hex16(got, g);
  if (rc->kind == SLUICE__RC_MD5) {
    snprintf(rc->want_text, sizeof(rc->want_text), "MD5 %s", w);
    snprintf(rc->got_text, sizeof(rc->got_text), "%s", g);
  } else {
    snprintf(rc->want_text, sizeof(rc->want_text), "ETag %s-%u", w, (unsigned)rc->nsegs);
    snprintf(rc->got_text, sizeof(rc->got_text), "%s-%u", g, (unsigned)rc->nsegs);
  }
  rc->state = MISMATCH;
  return -1;
}

/* Hashes [off, off+len) into the segments it spans, each in its turn
 * (lock held on entry and exit; dropped while hashing). */
static int md5_received(sluice__readcheck *rc, const unsigned char *buf, uint64_t len, uint64_t off,
                        int may_wait) {
  uint64_t end = off + len;
  while (off < end && rc->state == ACTIVE) {
    uint32_t i = (uint32_t)(off / rc->part_size);
    struct sluice__rc_seg *seg = &rc->segs[i];
    uint64_t seg_start = (uint64_t)i * rc->part_size;
    uint64_t seg_len =
        rc->total - seg_start < rc->part_size ? rc->total - seg_start : rc->part_size;
    uint64_t rel = off - seg_start;
    uint64_t n = end - off < seg_len - rel ? end - off : seg_len - rel;
    while (rc->state == ACTIVE && (seg->busy || seg->hashed < rel)) {
      if (!may_wait) {
        rc->state = STOPPED;
        rc->why = "the object was not read in order";
        break;
      }
      pthread_cond_wait(&rc->turn, &rc->lock);
    }
    if (rc->state != ACTIVE) break;
    if (seg->hashed > rel) {
      rc->state = STOPPED;
      rc->why = "parts of the object were read twice";
      break;
    }
    seg->busy = 1;
    pthread_mutex_unlock(&rc->lock);
    /* Only the busy holder touches seg->md: hashed outside the lock, so
     * the parts of a multipart object are hashed in parallel. */
    int ok = seg->md.alg == SLUICE__CK_MD5 || sluice__ck_init(&seg->md, SLUICE__CK_MD5) == NULL;
    if (ok) sluice__ck_update(&seg->md, buf, (size_t)n);
    if (ok && rel + n == seg_len) {
      unsigned char raw[SLUICE__CK_MAX_RAW];
      sluice__ck_final(&seg->md, raw);
      memcpy(seg->digest, raw, 16);
    }
    pthread_mutex_lock(&rc->lock);
    seg->busy = 0;
    seg->hashed += n;
    pthread_cond_broadcast(&rc->turn);
    if (!ok) {
      if (rc->state == ACTIVE) {
        rc->state = STOPPED;
        rc->why = "no memory to check with";
      }
      break;
    }
    if (seg->hashed == seg_len) rc->segs_done++;
    buf += n;
    off += n;
  }
  if (rc->state == ACTIVE && rc->segs_done == rc->nsegs) return md5_compare(rc);
  return 0;
}

int sluice__readcheck_received(sluice__readcheck *rc, const void *buf, size_t len, uint64_t off,
                               int may_wait) {
  if (len == 0) return 0;
  pthread_mutex_lock(&rc->lock);
  rc->started = 1;
  int r = 0;
  if (rc->state != ACTIVE || rc->kind == SLUICE__RC_NONE || off + len > rc->total) {
    /* nothing to check, or not a piece of this object */
  } else if (rc->kind == SLUICE__RC_CRC) {
    /* The CRC of a piece needs no order: computed outside the lock. */
    sluice__ck_alg alg = rc->crc_alg;
    pthread_mutex_unlock(&rc->lock);
    uint64_t crc = sluice__ck_crc(alg, 0, buf, len);
    pthread_mutex_lock(&rc->lock);
    if (rc->state == ACTIVE) r = crc_received(rc, off, len, crc);
  } else {
    r = md5_received(rc, buf, len, off, may_wait);
  }
  pthread_mutex_unlock(&rc->lock);
  return r;
}

const char *sluice__readcheck_verified(sluice__readcheck *rc) {
  pthread_mutex_lock(&rc->lock);
  const char *name = NULL;
  if (rc->state == VERIFIED)
    name = rc->kind == SLUICE__RC_CRC   ? sluice__ck_name(rc->crc_alg)
           : rc->kind == SLUICE__RC_MD5 ? "md5"
                                        : "etag-md5";
  pthread_mutex_unlock(&rc->lock);
  return name;
}

sluice__rc_kind sluice__readcheck_armed(sluice__readcheck *rc) {
  pthread_mutex_lock(&rc->lock);
  sluice__rc_kind k = rc->state == STOPPED ? SLUICE__RC_NONE : rc->kind;
  pthread_mutex_unlock(&rc->lock);
  return k;
}

const char *sluice__readcheck_why(sluice__readcheck *rc) {
  pthread_mutex_lock(&rc->lock);
  const char *why = rc->why;
  pthread_mutex_unlock(&rc->lock);
  return why;
}
