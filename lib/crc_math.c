/* SPDX-License-Identifier: MIT */
/*
 * Polynomial arithmetic modulo a CRC's generator, over GF(2).  One generic
 * piece serves every reflected CRC the library knows (CRC64NVME, CRC32C,
 * CRC32): the combine of two CRCs and the folding constants of the
 * carry-less CRC64NVME are both "multiply by x^n mod P".
 *
 * Why x^n mod P rather than the zlib-style 64x64 GF(2) matrix squaring:
 * the same function gives the folding constants, and square-and-multiply
 * over the bits of n costs at most 2*log2(n) products of `width` steps
 * each, a few microseconds per combine, which happens once per part.
 */
#include "crc_math.h"

static uint64_t width_mask(unsigned width) {
  return width == 64 ? ~(uint64_t)0 : ((uint64_t)1 << width) - 1;
}

uint64_t sluice__crc_reflect(uint64_t v, unsigned width) {
  uint64_t r = 0;
  for (unsigned i = 0; i < width; i++, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

/* a*b mod P, both of degree < width, in the normal (unreflected) form:
 * bit j is the coefficient of x^j; poly is P without its x^width term. */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t poly, unsigned width) {
  uint64_t mask = width_mask(width), top = (uint64_t)1 << (width - 1), r = 0;
  for (unsigned i = width; i-- > 0;) {
    r = (r & top) ? ((r << 1) & mask) ^ poly : (r << 1) & mask;
    if ((b >> i) & 1) r ^= a;
  }
  return r;
}

uint64_t sluice__crc_xpow(uint64_t n, uint64_t poly, unsigned width) {
  uint64_t result = 1, sq = 2; /* x^0, x^1 */
  if (width == 1) return 0;
  for (; n; n >>= 1) {
    if (n & 1) result = mulmod(result, sq, poly, width);
    sq = mulmod(sq, sq, poly, width);
  }
  return result;
}

uint64_t sluice__crc_shift(uint64_t crc, uint64_t nbytes, uint64_t poly, unsigned width) {
  /* The CRC is kept reflected (x^0 at the top bit), the arithmetic is done
   * normal: reflect in, multiply, reflect out. */
  if (nbytes > UINT64_MAX / 8) {
    /* 8*nbytes would overflow: x^(8n) = (x^n)^8. */
    uint64_t p = sluice__crc_xpow(nbytes, poly, width);
    for (int i = 0; i < 3; i++) p = mulmod(p, p, poly, width);
    return sluice__crc_reflect(mulmod(sluice__crc_reflect(crc, width), p, poly, width), width);
  }
  uint64_t p = sluice__crc_xpow(8 * nbytes, poly, width);
  return sluice__crc_reflect(mulmod(sluice__crc_reflect(crc, width), p, poly, width), width);
}

uint64_t sluice__crc_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b, uint64_t poly,
                             unsigned width) {
  /* For a CRC whose initial value and final xor are both all ones (the
   * three here), the register's ones cancel out: crc(A||B) is crc(A)
   * multiplied by x^(8*len(B)) mod P, plus crc(B). */
  return sluice__crc_shift(crc_a, len_b, poly, width) ^ crc_b;
}
