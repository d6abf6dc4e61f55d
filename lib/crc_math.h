/* SPDX-License-Identifier: MIT */
/* GF(2) arithmetic modulo a CRC polynomial: x^n mod P and the CRC combine.
 * poly is the generator without its x^width term, in the normal form (the
 * CRC catalogue's "poly"); CRC values are in the reflected form every
 * reflected CRC returns.  Pure functions: any thread. */
#ifndef SLUICE_LIB_CRC_MATH_H
#define SLUICE_LIB_CRC_MATH_H

#include <stdint.h>

/* v with its low `width` bits in reverse order. */
uint64_t sluice__crc_reflect(uint64_t v, unsigned width);
/* x^n mod P, normal form. */
uint64_t sluice__crc_xpow(uint64_t n, uint64_t poly, unsigned width);
/* crc (reflected) times x^(8*nbytes) mod P: the register after nbytes zero
 * bytes, ignoring initial value and final xor. */
uint64_t sluice__crc_shift(uint64_t crc, uint64_t nbytes, uint64_t poly, unsigned width);
/* The CRC of A followed by B from the CRCs of A and B and B's length in
 * bytes, for CRCs with initial value and final xor all ones. */
uint64_t sluice__crc_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b, uint64_t poly,
                             unsigned width);

#endif
