/* SPDX-License-Identifier: MIT */
/*
 * The checksum interface: CRC64NVME from crc64nvme.c, CRC32C and CRC32
 * from ISA-L (run-time dispatched to the CPU's CRC32 and carry-less
 * instructions), MD5 and SHA-256 from OpenSSL's EVP.  The combine of the
 * CRCs is crc_math.c's for all three, so one tested piece serves them.
 */
#include <isa-l/crc.h>
#include <limits.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "checksum.h"
#include "crc64nvme.h"
#include "crc_math.h"
#include "error.h"

static const struct {
  const char *name, *s3, *header, *xml;
  uint64_t poly;
  unsigned width;
  size_t size;
} algs[] = {
    [SLUICE__CK_NONE] = {"none", NULL, NULL, NULL, 0, 0, 0},
    [SLUICE__CK_CRC64NVME] = {"crc64nvme", "CRC64NVME", "x-amz-checksum-crc64nvme",
                              "ChecksumCRC64NVME", UINT64_C(0xAD93D23594C93659), 64, 8},
    [SLUICE__CK_CRC32C] = {"crc32c", "CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C",
                           0x1EDC6F41, 32, 4},
    [SLUICE__CK_CRC32] = {"crc32", "CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 0x04C11DB7, 32,
                          4},
    [SLUICE__CK_MD5] = {"md5", "MD5", NULL, NULL, 0, 0, 16},
    [SLUICE__CK_SHA256] = {"sha256", "SHA256", "x-amz-checksum-sha256", "ChecksumSHA256", 0, 0, 32},
};

static int valid(sluice__ck_alg alg) { return alg >= SLUICE__CK_NONE && alg <= SLUICE__CK_SHA256; }

int sluice__ck_parse(const char *name, sluice__ck_alg *alg) {
  for (int a = SLUICE__CK_NONE; name && a <= SLUICE__CK_SHA256; a++)
    if (!strcasecmp(name, algs[a].name)) {
      *alg = (sluice__ck_alg)a;
      return 0;
    }
  return -1;
}

const char *sluice__ck_name(sluice__ck_alg alg) {
  return valid(alg) && alg ? algs[alg].name : NULL;
}
const char *sluice__ck_s3_name(sluice__ck_alg alg) { return valid(alg) ? algs[alg].s3 : NULL; }
const char *sluice__ck_header(sluice__ck_alg alg) { return valid(alg) ? algs[alg].header : NULL; }
const char *sluice__ck_xml(sluice__ck_alg alg) { return valid(alg) ? algs[alg].xml : NULL; }
int sluice__ck_is_crc(sluice__ck_alg alg) { return valid(alg) && algs[alg].width != 0; }
size_t sluice__ck_size(sluice__ck_alg alg) { return valid(alg) ? algs[alg].size : 0; }

uint64_t sluice__ck_crc(sluice__ck_alg alg, uint64_t crc, const void *buf, size_t len) {
  const unsigned char *p = buf;
  switch (alg) {
  case SLUICE__CK_CRC64NVME: return sluice__crc64nvme(crc, buf, len);
  case SLUICE__CK_CRC32C: {
    /* ISA-L's iSCSI CRC takes and returns the raw register, and an int
     * length. */
    uint32_t reg = ~(uint32_t)crc;
    while (len) {
      size_t n = len > INT_MAX ? INT_MAX : len;
      reg = crc32_iscsi((unsigned char *)p, (int)n, reg);
      p += n, len -= n;
    }
    return (uint32_t)~reg;
  }
  case SLUICE__CK_CRC32: return crc32_gzip_refl((uint32_t)crc, p, len);
  default: return 0;
  }
}

uint64_t sluice__ck_combine(sluice__ck_alg alg, uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  if (!sluice__ck_is_crc(alg)) return 0;
  return sluice__crc_combine(crc_a, crc_b, len_b, algs[alg].poly, algs[alg].width);
}

sluice_error *sluice__ck_init(sluice__checksum *ck, sluice__ck_alg alg) {
  memset(ck, 0, sizeof *ck);
  if (!valid(alg))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "checksum: unknown algorithm %d", (int)alg);
  ck->alg = alg;
  if (alg != SLUICE__CK_MD5 && alg != SLUICE__CK_SHA256) return NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return sluice__error_oom();
  if (EVP_DigestInit_ex(ctx, alg == SLUICE__CK_MD5 ? EVP_md5() : EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(ctx);
    return sluice__error(SLUICE_ERR_UNEXPECTED, "checksum: %s unavailable in OpenSSL",
                         algs[alg].name);
  }
  ck->md = ctx;
  return NULL;
}

void sluice__ck_update(sluice__checksum *ck, const void *buf, size_t len) {
  if (ck->md)
    EVP_DigestUpdate(ck->md, buf, len);
  else
    ck->crc = sluice__ck_crc(ck->alg, ck->crc, buf, len);
}

static size_t crc_bytes(sluice__ck_alg alg, uint64_t crc, unsigned char *raw) {
  size_t n = algs[alg].size;
  for (size_t i = 0; i < n; i++) raw[i] = (unsigned char)(crc >> (8 * (n - 1 - i)));
  return n;
}

size_t sluice__ck_final(sluice__checksum *ck, unsigned char raw[SLUICE__CK_MAX_RAW]) {
  size_t n = 0;
  if (ck->md) {
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ck->md, raw, &len) == 1) n = len;
  } else if (sluice__ck_is_crc(ck->alg)) {
    n = crc_bytes(ck->alg, ck->crc, raw);
  }
  sluice__ck_cleanup(ck);
  return n;
}

void sluice__ck_cleanup(sluice__checksum *ck) {
  EVP_MD_CTX_free(ck->md);
  ck->md = NULL;
}

void sluice__ck_b64(const unsigned char *raw, size_t n, char b64[SLUICE__CK_MAX_B64]) {
  EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
}

void sluice__ck_crc_b64(sluice__ck_alg alg, uint64_t crc, char b64[SLUICE__CK_MAX_B64]) {
  unsigned char raw[8];
  sluice__ck_b64(raw, sluice__ck_is_crc(alg) ? crc_bytes(alg, crc, raw) : 0, b64);
}

int sluice__ck_raw_from_b64(sluice__ck_alg alg, const char *b64,
                            unsigned char raw[SLUICE__CK_MAX_RAW]) {
  size_t len = strlen(b64), n = algs[valid(alg) ? alg : 0].size;
  unsigned char tmp[SLUICE__CK_MAX_B64];
  if (!n || len != 4 * ((n + 2) / 3)) return -1;
  if (EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)len) < 0) return -1;
  memcpy(raw, tmp, n);
  return 0;
}

int sluice__ck_crc_from_b64(sluice__ck_alg alg, const char *b64, uint64_t *crc) {
  size_t n = algs[valid(alg) ? alg : 0].size;
  unsigned char raw[SLUICE__CK_MAX_RAW];
  if (!sluice__ck_is_crc(alg) || sluice__ck_raw_from_b64(alg, b64, raw) != 0) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | raw[i];
  *crc = v;
  return 0;
}

int sluice__ck_stored_full_crc(const char *name, const char *value, const char *type,
                               sluice__ck_alg *alg, uint64_t *crc) {
  int full = !strcasecmp(type, "FULL_OBJECT") || (!type[0] && !strchr(value, '-'));
  if (!value[0] || !full || sluice__ck_parse(name, alg) != 0 || !sluice__ck_is_crc(*alg)) return -1;
  return sluice__ck_crc_from_b64(*alg, value, crc);
}

sluice_error *sluice__ck_b64_of(sluice__ck_alg alg, const void *buf, size_t len,
                                char b64[SLUICE__CK_MAX_B64]) {
  sluice__checksum ck;
  sluice_error *err = sluice__ck_init(&ck, alg);
  if (err) return err;
  unsigned char raw[SLUICE__CK_MAX_RAW];
  sluice__ck_update(&ck, buf, len);
  sluice__ck_b64(raw, sluice__ck_final(&ck, raw), b64);
  return NULL;
}
