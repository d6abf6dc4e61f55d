/* SPDX-License-Identifier: MIT */
/*
 * CRC-64/NVME (the "Rocksoft" polynomial of the NVMe command set, the
 * CRC64NVME of S3's x-amz-checksum-crc64nvme): reflected, generator
 * 0xAD93D23594C93659, initial value and final xor all ones; the CRC of
 * "123456789" is 0xAE8B14860A799888.
 *
 * Written here because no library in Debian has it (ISA-L 2.30 has the
 * ECMA, ISO and Jones CRC64s, not this one).  Two paths:
 *  - carry-less multiplication (PCLMULQDQ), chosen at run time when the
 *    CPU has it: four 128-bit accumulators are folded 512 bits ahead, so
 *    the multiplier's latency is hidden and a core checksums at several
 *    GB/s, well above what a network or a disk feeds one writer;
 *  - slicing-by-8 tables, for other CPUs and for the tails, and as the
 *    reference the carry-less path is tested against.
 * The folding constants are computed at first use by the same x^n mod P
 * code as the combine (crc_math.c), so no constant is copied from anywhere
 * and each is right by construction for this polynomial.
 */
#include <pthread.h>
#include <string.h>

#include "crc64nvme.h"
#include "crc_math.h"

#define POLY UINT64_C(0xAD93D23594C93659)
#define RPOLY UINT64_C(0x9A6C9329AC4BC9B5) /* POLY reflected */

static uint64_t table[8][256];
/* fold constants: for a shift of D bits, {x^(D+63), x^(D-1)} mod P,
 * reflected.  The -1: a carry-less product of two reflected 64-bit values
 * comes out one bit position below the reflected 128-bit product. */
static uint64_t k512[2], k128[2];
static int have_clmul;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
  for (unsigned i = 0; i < 256; i++) {
    uint64_t c = i;
    for (int b = 0; b < 8; b++) c = (c & 1) ? (c >> 1) ^ RPOLY : c >> 1;
    table[0][i] = c;
  }
  for (unsigned i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
  k512[0] = sluice__crc_reflect(sluice__crc_xpow(512 + 63, POLY, 64), 64);
  k512[1] = sluice__crc_reflect(sluice__crc_xpow(512 - 1, POLY, 64), 64);
  k128[0] = sluice__crc_reflect(sluice__crc_xpow(128 + 63, POLY, 64), 64);
  k128[1] = sluice__crc_reflect(sluice__crc_xpow(128 - 1, POLY, 64), 64);
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#endif
}

static uint64_t load_le64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

/* The raw register (no inversion) after buf. */
static uint64_t update_table(uint64_t reg, const unsigned char *p, size_t len) {
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t v = reg ^ load_le64(p);
    reg = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
          table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
          table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
  }
  while (len--) reg = table[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
  return reg;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* x*x^D + next, reduced to 128 bits: the low half of x (the higher-degree
 * coefficients, reflected) times x^(D+64), the high half times x^D. */
__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                  __m128i next) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

__attribute__((target("pclmul,sse2"))) static uint64_t update_clmul(uint64_t reg,
                                                                    const unsigned char *p,
                                                                    size_t len) {
  /* The register enters as the first 8 bytes of the message xored with it;
   * callers pass len >= 64. */
  __m128i K512 = _mm_set_epi64x((long long)k512[1], (long long)k512[0]);
  __m128i K128 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
  __m128i x0 =
      _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi64_si128((long long)reg));
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64, len -= 64;
  for (; len >= 64; p += 64, len -= 64) {
    x0 = fold(x0, K512, _mm_loadu_si128((const __m128i *)p));
    x1 = fold(x1, K512, _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = fold(x2, K512, _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = fold(x3, K512, _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  x1 = fold(x0, K128, x1);
  x2 = fold(x1, K128, x2);
  x3 = fold(x2, K128, x3);
  for (; len >= 16; p += 16, len -= 16) x3 = fold(x3, K128, _mm_loadu_si128((const __m128i *)p));
  /* What is left is 128 bits of message congruent to everything so far:
   * run them through the table from a zero register, then the tail. */
  unsigned char rest[16];
  _mm_storeu_si128((__m128i *)rest, x3);
  return update_table(update_table(0, rest, 16), p, len);
}
#endif

uint64_t sluice__crc64nvme_table(uint64_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, init_tables);
  return ~update_table(~crc, buf, len);
}

uint64_t sluice__crc64nvme(uint64_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, init_tables);
#if defined(__x86_64__) && defined(__GNUC__)
  if (have_clmul && len >= 64) return ~update_clmul(~crc, buf, len);
#endif
  return ~update_table(~crc, buf, len);
}

int sluice__crc64nvme_has_clmul(void) {
  pthread_once(&init_once, init_tables);
  return have_clmul;
}
