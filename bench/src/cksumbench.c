/* SPDX-License-Identifier: MIT */
/*
 * cksumbench: CPU cost of each checksum of lib/checksum.c, in memory.
 *
 *   cksumbench [MiB] [part MiB]
 *       one pass over a MiB-sized random buffer (default 256) in parts of
 *       part MiB (default 8, as the writer's chunks), per algorithm;
 *       prints one line each:
 *       alg=A bytes=N cpu_s=S cpu_s_per_gib=X gb_per_s=Y
 *       and the cost of one combine (what a part adds to the object's CRC).
 *
 * crc64nvme-table forces the table path of CRC64NVME (the fallback on CPUs
 * without PCLMULQDQ).  CPU time of this thread, so other load on the
 * machine does not count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checksum.h"
#include "crc64nvme.h"

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *name, size_t len, double s) {
  printf("alg=%s bytes=%zu cpu_s=%.4f cpu_s_per_gib=%.4f gb_per_s=%.2f\n", name, len, s,
         s * (double)(1u << 30) / (double)len, (double)len / s / 1e9);
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256,
         part_mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
  if (!mib || !part_mib) {
    fprintf(stderr, "usage: cksumbench [MiB] [part MiB]\n");
    return 2;
  }
  size_t len = mib << 20, part = part_mib << 20;
  unsigned char *buf = malloc(len);
  if (!buf) return 1;
  uint64_t x = 88172645463325252u;
  for (size_t i = 0; i < len; i += 8) { /* xorshift64: not compressible, no page left untouched */
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
  }
  static const sluice__ck_alg algs[] = {SLUICE__CK_CRC64NVME, SLUICE__CK_CRC32C, SLUICE__CK_CRC32,
                                        SLUICE__CK_MD5, SLUICE__CK_SHA256};
  volatile uint64_t sink = 0;
  for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
    double t0 = cpu_s();
    for (size_t off = 0; off < len; off += part) {
      size_t n = len - off < part ? len - off : part;
      sluice__checksum ck;
      unsigned char raw[SLUICE__CK_MAX_RAW];
      if (sluice__ck_init(&ck, algs[a])) return 1;
      sluice__ck_update(&ck, buf + off, n);
      sink += sluice__ck_final(&ck, raw) + raw[0];
    }
    report(sluice__ck_name(algs[a]), len, cpu_s() - t0);
  }
  double t0 = cpu_s();
  for (size_t off = 0; off < len; off += part)
    sink += sluice__crc64nvme_table(0, buf + off, len - off < part ? len - off : part);
  report("crc64nvme-table", len, cpu_s() - t0);
  t0 = cpu_s();
  uint64_t acc = 0;
  for (int i = 0; i < 10000; i++)
    acc = sluice__ck_combine(SLUICE__CK_CRC64NVME, acc, (uint64_t)i, part);
  sink += acc;
  printf("combine crc64nvme part=%zu us_per_call=%.2f clmul=%d\n", part,
         (cpu_s() - t0) / 10000 * 1e6, sluice__crc64nvme_has_clmul());
  free(buf);
  return sink == 42; /* keeps the work */
}
