/* SPDX-License-Identifier: MIT */
/*
 * One interface over the object checksums S3 knows (x-amz-checksum-*):
 * CRC64NVME, CRC32C, CRC32, MD5 and SHA-256.  A sluice__checksum is
 * owned by one thread at a time; the functions without a state are pure
 * and safe from any thread.
 */
#ifndef SLUICE_LIB_CHECKSUM_H
#define SLUICE_LIB_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

typedef enum {
  SLUICE__CK_NONE = 0,
  SLUICE__CK_CRC64NVME,
  SLUICE__CK_CRC32C,
  SLUICE__CK_CRC32,
  SLUICE__CK_MD5,
  SLUICE__CK_SHA256
} sluice__ck_alg;

#define SLUICE__CK_MAX_RAW 32 /* SHA-256 */
#define SLUICE__CK_MAX_B64 48 /* base64 of 32 bytes, with its NUL */

typedef struct sluice__checksum {
  sluice__ck_alg alg;
  uint64_t crc; /* the CRCs: the value so far, as the CRC's own function returns it */
  void *md;     /* MD5, SHA-256: an EVP_MD_CTX, owned */
} sluice__checksum;

/* "crc64nvme", "crc32c", "crc32", "md5", "sha256", "none" (case-insensitive)
 * -> *alg; returns 0, or -1 for another name. */
int sluice__ck_parse(const char *name, sluice__ck_alg *alg);
/* Lower-case name ("crc64nvme"), the S3 algorithm name ("CRC64NVME"), the
 * header ("x-amz-checksum-crc64nvme") and the XML element of
 * CompleteMultipartUpload ("ChecksumCRC64NVME"); NULL for NONE (and
 * header/xml NULL for MD5, which S3 carries as Content-MD5). */
const char *sluice__ck_name(sluice__ck_alg alg);
const char *sluice__ck_s3_name(sluice__ck_alg alg);
const char *sluice__ck_header(sluice__ck_alg alg);
const char *sluice__ck_xml(sluice__ck_alg alg);
/* 1 for the CRCs (which combine), else 0. */
int sluice__ck_is_crc(sluice__ck_alg alg);
/* Bytes of the raw value: 8, 4, 4, 16, 32; 0 for NONE. */
size_t sluice__ck_size(sluice__ck_alg alg);

/* Starts a checksum.  Returns NULL, or an error (out of memory, digest
 * unavailable) with nothing to clean up. */
sluice_error *sluice__ck_init(sluice__checksum *ck, sluice__ck_alg alg);
void sluice__ck_update(sluice__checksum *ck, const void *buf, size_t len);
/* The value, big-endian as S3 sends it, into raw; returns its length.
 * Releases the state (no cleanup needed after). */
size_t sluice__ck_final(sluice__checksum *ck, unsigned char raw[SLUICE__CK_MAX_RAW]);
/* Releases a state that will not reach final (failure paths). */
void sluice__ck_cleanup(sluice__checksum *ck);

/* One-shot: the base64 of the big-endian value of buf, as
 * x-amz-checksum-<alg> carries it, into b64.  Returns NULL or an error. */
sluice_error *sluice__ck_b64_of(sluice__ck_alg alg, const void *buf, size_t len,
                                char b64[SLUICE__CK_MAX_B64]);
/* base64 of raw[0..n) into b64 (n <= 32). */
void sluice__ck_b64(const unsigned char *raw, size_t n, char b64[SLUICE__CK_MAX_B64]);
/* A CRC value (crc32 in the low bits) <-> its base64 form; decode returns
 * 0, or -1 when b64 is not a value of alg's size. */
void sluice__ck_crc_b64(sluice__ck_alg alg, uint64_t crc, char b64[SLUICE__CK_MAX_B64]);
int sluice__ck_crc_from_b64(sluice__ck_alg alg, const char *b64, uint64_t *crc);
/* The raw value of any algorithm from its base64 form; 0, or -1 when b64
 * is not a value of alg's size. */
int sluice__ck_raw_from_b64(sluice__ck_alg alg, const char *b64,
                            unsigned char raw[SLUICE__CK_MAX_RAW]);

/* What a store reported (x-amz-checksum-<name>: value, x-amz-checksum-type)
 * as a CRC of the whole object that can be checked: 0 and *alg, *crc; -1
 * for anything else.  A COMPOSITE value (type COMPOSITE, or "...-N" from
 * stores that name no type) depends on the uploader's parts: -1. */
int sluice__ck_stored_full_crc(const char *name, const char *value, const char *type,
                               sluice__ck_alg *alg, uint64_t *crc);

/* CRC of the next len bytes continuing from crc (0 to start). */
uint64_t sluice__ck_crc(sluice__ck_alg alg, uint64_t crc, const void *buf, size_t len);
/* CRC of A followed by B, from their CRCs and B's length. */
uint64_t sluice__ck_combine(sluice__ck_alg alg, uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

#endif
