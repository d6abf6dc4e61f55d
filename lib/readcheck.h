/* SPDX-License-Identifier: MIT */
/*
 * Checking a whole-object read against what the store says the object is,
 * while its pieces arrive in any order on several threads (lib/readcheck.c).
 *
 * Three kinds of expectation, best first:
 *  - a full-object CRC the store keeps (x-amz-checksum-*): pieces are
 *    checksummed as they come and merged with the CRC combine, in any order;
 *  - an MD5 of the whole object (a single-part object's ETag): one digest,
 *    so the bytes are hashed in order;
 *  - a multipart ETag ("<hex>-N": the MD5 of the N parts' MD5s), with the
 *    part size known: each part is hashed in order, parts independently.
 * MD5 needs its bytes in order.  A read that arrives ahead of the bytes
 * before it waits for them only when the reading side promised to claim
 * every byte in ascending order on threads that each finish their read
 * (may_wait); otherwise the check stands down, and the read is reported
 * as unverified rather than blocked.
 */
#ifndef SLUICE_LIB_READCHECK_H
#define SLUICE_LIB_READCHECK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "checksum.h"

typedef enum {
  SLUICE__RC_NONE = 0, /* nothing to check against */
  SLUICE__RC_CRC,      /* a full-object CRC */
  SLUICE__RC_MD5,      /* the whole object's MD5 */
  SLUICE__RC_ETAG_MD5  /* a multipart ETag */
} sluice__rc_kind;

typedef struct sluice__readcheck {
  pthread_mutex_t lock;
  pthread_cond_t turn; /* an MD5 segment moved on, or the check stopped */
  uint64_t total;      /* the object's size */
  sluice__rc_kind kind;
  int state;       /* see readcheck.c */
  int started;     /* bytes arrived: the expectation is fixed */
  const char *why; /* why the check stood down (static), or NULL */
  sluice__ck_alg crc_alg;
  uint64_t crc_want;
  struct sluice__rc_piece *pieces; /* CRC: received ranges, merged */
  size_t npieces, cap_pieces;
  unsigned char md5_want[16];
  uint64_t part_size; /* MD5 segments: the whole object, or one part each */
  uint32_t nsegs, segs_done;
  struct sluice__rc_seg *segs;
  char want_text[64], got_text[64]; /* after a mismatch */
} sluice__readcheck;

/* An unarmed check of a read of total bytes (from byte 0). */
void sluice__readcheck_init(sluice__readcheck *rc, uint64_t total);
void sluice__readcheck_fini(sluice__readcheck *rc);

/* Arm the check, before the first byte (later calls are ignored, as is a
 * weaker expectation after a stronger one). */
void sluice__readcheck_expect_crc(sluice__readcheck *rc, sluice__ck_alg alg, uint64_t want);
/* An S3 ETag as the store sent it (quotes included): a plain MD5 arms an
 * MD5 check; "<md5>-N" arms a multipart check when part_size is the size
 * of every part but the last and agrees with N and the object's size.
 * Returns the kind armed (NONE: this ETag says nothing checkable). */
sluice__rc_kind sluice__readcheck_expect_etag(sluice__readcheck *rc, const char *etag,
                                              uint64_t part_size);
/* The whole object's MD5, from its base64 form (a checksum another tool
 * stored as metadata: rclone's md5chksum).  0, or -1 when b64 is no MD5. */
int sluice__readcheck_expect_md5_b64(sluice__readcheck *rc, const char *b64);
/* The N of an ETag "<hex>-N" (1..10000), or 0 when it is no multipart
 * ETag. */
uint32_t sluice__readcheck_etag_parts(const char *etag);

/* Bytes [off, off+len) of the object arrived.  Returns 0, or -1 when they
 * complete the object and it differs from the expectation (want_text and
 * got_text then say how).  may_wait: see above. */
int sluice__readcheck_received(sluice__readcheck *rc, const void *buf, size_t len, uint64_t off,
                               int may_wait);
/* The check stands down for good (a read failed or was canceled, the
 * store's reply showed the ETag is no MD5): why is static text for
 * messages.  Wakes any read waiting for its turn. */
void sluice__readcheck_stop(sluice__readcheck *rc, const char *why);
/* A reading side will claim every byte from off on, in order: the check
 * stands down unless the bytes before off are exactly those checked so
 * far (a read that started over, or jumped, cannot be checked). */
void sluice__readcheck_claims_from(sluice__readcheck *rc, uint64_t off);
/* Forgets what arrived, keeping the expectation: for a fetch of the whole
 * object again after a mismatch.  No read may be in progress. */
void sluice__readcheck_restart(sluice__readcheck *rc);

/* What the read was checked with once every byte matched: "crc64nvme",
 * "crc32c", "crc32", "md5", "etag-md5"; NULL while not (yet) verified. */
const char *sluice__readcheck_verified(sluice__readcheck *rc);
/* The kind armed and not stood down (NONE otherwise). */
sluice__rc_kind sluice__readcheck_armed(sluice__readcheck *rc);
/* Why the check stood down, or NULL. */
const char *sluice__readcheck_why(sluice__readcheck *rc);

#endif
