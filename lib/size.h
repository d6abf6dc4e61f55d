/* SPDX-License-Identifier: MIT */
/* The one parser of sizes ("8MiB", "5 MB", "512k"), for the library's
 * options and the command's (tools/ compiles lib/size.c in too: it links
 * only the public API, and one grammar must not become two). */
#ifndef SLUICE_LIB_SIZE_H
#define SLUICE_LIB_SIZE_H

#include <stdint.h>

/* Parses a whole number of bytes with an optional unit, case ignored,
 * spaces allowed before it: none or B; K, M, G, T and KiB, MiB, GiB, TiB
 * are powers of 1024; KB, MB, GB, TB are powers of 1000, as SI (and
 * coreutils) have them, so "5 MB" is 5,000,000 bytes, never 5 MiB.
 * Returns 0 with *out set, -1 for anything else (no sign, no fraction,
 * no overflow).  Pure: any thread. */
int sluice__parse_size(const char *s, uint64_t *out);

#endif
