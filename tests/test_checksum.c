/* SPDX-License-Identifier: MIT */
/*
 * The checksum module: the published check values of every algorithm,
 * random buffers against an independent implementation (Debian's
 * python3-crcmod given each polynomial, and Python's hashlib), the
 * carry-less CRC64NVME against the table one at every length and
 * alignment, the combine over random splits, streaming in pieces, and
 * the base64 forms S3 carries.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checksum.h"
#include "crc64nvme.h"

#define CHECK "123456789"
#define NALGS 5
static const sluice__ck_alg all_algs[NALGS] = {SLUICE__CK_CRC64NVME, SLUICE__CK_CRC32C,
                                               SLUICE__CK_CRC32, SLUICE__CK_MD5, SLUICE__CK_SHA256};
static const sluice__ck_alg crcs[3] = {SLUICE__CK_CRC64NVME, SLUICE__CK_CRC32C, SLUICE__CK_CRC32};

/* xorshift: reproducible random bytes without touching rand()'s state. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}
static unsigned char *random_buf(size_t len) {
  unsigned char *b = malloc(len ? len : 1);
  cr_assert(b);
  for (size_t i = 0; i < len; i++) b[i] = (unsigned char)rnd();
  return b;
}

static void hex(const unsigned char *raw, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", raw[i]);
}

static void digest_hex(sluice__ck_alg alg, const void *buf, size_t len,
                       char out[2 * SLUICE__CK_MAX_RAW + 1]) {
  sluice__checksum ck;
  unsigned char raw[SLUICE__CK_MAX_RAW];
  cr_assert_null(sluice__ck_init(&ck, alg));
  sluice__ck_update(&ck, buf, len);
  size_t n = sluice__ck_final(&ck, raw);
  cr_assert_eq(n, sluice__ck_size(alg));
  hex(raw, n, out);
}

Test(checksum, check_values) {
  cr_assert_eq(sluice__ck_crc(SLUICE__CK_CRC64NVME, 0, CHECK, 9), UINT64_C(0xAE8B14860A799888));
  cr_assert_eq(sluice__crc64nvme_table(0, CHECK, 9), UINT64_C(0xAE8B14860A799888));
  cr_assert_eq(sluice__ck_crc(SLUICE__CK_CRC32C, 0, CHECK, 9), 0xE3069283u);
  cr_assert_eq(sluice__ck_crc(SLUICE__CK_CRC32, 0, CHECK, 9), 0xCBF43926u);
  char h[2 * SLUICE__CK_MAX_RAW + 1];
  digest_hex(SLUICE__CK_CRC64NVME, CHECK, 9, h);
  cr_assert_str_eq(h, "ae8b14860a799888");
  digest_hex(SLUICE__CK_CRC32C, CHECK, 9, h);
  cr_assert_str_eq(h, "e3069283");
  digest_hex(SLUICE__CK_CRC32, CHECK, 9, h);
  cr_assert_str_eq(h, "cbf43926");
  digest_hex(SLUICE__CK_MD5, CHECK, 9, h);
  cr_assert_str_eq(h, "25f9e794323b453885f5181f1b624d0b");
  digest_hex(SLUICE__CK_SHA256, CHECK, 9, h);
  cr_assert_str_eq(h, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
  /* The empty input: every CRC here is 0, the digests their known values. */
  for (int i = 0; i < 3; i++) cr_assert_eq(sluice__ck_crc(crcs[i], 0, "", 0), 0);
  digest_hex(SLUICE__CK_SHA256, "", 0, h);
  cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Lengths around every boundary of the carry-less path (16-byte blocks,
 * 64-byte groups) and some large ones. */
static const size_t lengths[] = {0,   1,   7,   8,    9,    15,    16,          17,
                                 63,  64,  65,  79,   80,   127,   128,         129,
                                 191, 255, 256, 1000, 4099, 65536, 1048576 + 13};

Test(checksum, against_crcmod_and_hashlib) {
  if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
  char path[] = "/tmp/sluice-ck-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  size_t total = 0;
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) total += lengths[i];
  unsigned char *buf = random_buf(total);
  cr_assert_eq(write(fd, buf, total), (ssize_t)total);
  close(fd);
  /* The file holds the buffers back to back; Python prints one line per
   * buffer with each algorithm's value in hex. */
  char cmd[2048];
  snprintf(
      cmd, sizeof cmd,
      "/usr/bin/python3 -c '\n"
      "import sys, crcmod, hashlib\n"
      "c64 = crcmod.mkCrcFun(0x1AD93D23594C93659, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)\n"
      "c32c = crcmod.mkCrcFun(0x11EDC6F41, initCrc=0, rev=True, xorOut=0xFFFFFFFF)\n"
      "c32 = crcmod.mkCrcFun(0x104C11DB7, initCrc=0, rev=True, xorOut=0xFFFFFFFF)\n"
      "data = open(sys.argv[1], \"rb\").read(); off = 0\n"
      "for n in map(int, sys.argv[2:]):\n"
      "  b = data[off:off + n]; off += n\n"
      "  print(\"%%016x %%08x %%08x %%s %%s\" %% (c64(b), c32c(b), c32(b), "
      "hashlib.md5(b).hexdigest(), "
      "hashlib.sha256(b).hexdigest()))\n"
      "' %s",
      path);
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %zu", lengths[i]);
  FILE *py = popen(cmd, "r");
  cr_assert(py);
  size_t off = 0;
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    char line[512], mine[512], d[NALGS][2 * SLUICE__CK_MAX_RAW + 1];
    cr_assert(fgets(line, sizeof line, py), "python3 crcmod gave no line for length %zu",
              lengths[i]);
    for (int a = 0; a < NALGS; a++) digest_hex(all_algs[a], buf + off, lengths[i], d[a]);
    snprintf(mine, sizeof mine, "%s %s %s %s %s\n", d[0], d[1], d[2], d[3], d[4]);
    cr_assert_str_eq(mine, line, "length %zu", lengths[i]);
    off += lengths[i];
  }
  cr_assert_eq(pclose(py), 0);
  unlink(path);
  free(buf);
}

Test(checksum, clmul_equals_table) {
  if (!sluice__crc64nvme_has_clmul())
    fprintf(stderr, "note: no PCLMULQDQ here, both paths are the table\n");
  unsigned char *buf = random_buf(4096 + 64);
  for (size_t off = 0; off < 16; off++)
    for (size_t len = 0; len <= 1100; len++) {
      uint64_t seed = (len * 0x100000001b3u) ^ off; /* a running CRC enters too */
      cr_assert_eq(sluice__crc64nvme(seed, buf + off, len),
                   sluice__crc64nvme_table(seed, buf + off, len), "offset %zu length %zu", off,
                   len);
    }
  cr_assert_eq(sluice__crc64nvme(0, buf, 4096 + 64), sluice__crc64nvme_table(0, buf, 4096 + 64));
  free(buf);
}

Test(checksum, combine_over_random_splits) {
  size_t len = 300000;
  unsigned char *buf = random_buf(len);
  for (int a = 0; a < 3; a++) {
    sluice__ck_alg alg = crcs[a];
    uint64_t whole = sluice__ck_crc(alg, 0, buf, len);
    for (int round = 0; round < 40; round++) {
      /* up to 8 parts of random sizes (some empty), combined in order */
      size_t cuts[9] = {0}, nparts = 1 + rnd() % 8;
      for (size_t i = 1; i < nparts; i++) cuts[i] = rnd() % (len + 1);
      cuts[nparts] = len;
      for (size_t i = 1; i < nparts; i++) /* sort: insertion, 8 items */
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
          size_t t = cuts[j];
          cuts[j] = cuts[j - 1];
          cuts[j - 1] = t;
        }
      uint64_t acc = sluice__ck_crc(alg, 0, buf, cuts[1]);
      for (size_t i = 1; i < nparts; i++) {
        size_t n = cuts[i + 1] - cuts[i];
        acc = sluice__ck_combine(alg, acc, sluice__ck_crc(alg, 0, buf + cuts[i], n), n);
      }
      cr_assert_eq(acc, whole, "%s, %zu parts, round %d", sluice__ck_name(alg), nparts, round);
    }
    /* combining with nothing changes nothing; nothing with B is B */
    cr_assert_eq(sluice__ck_combine(alg, whole, 0, 0), whole);
    cr_assert_eq(sluice__ck_combine(alg, 0, whole, len), whole);
  }
  free(buf);
}

Test(checksum, streaming_equals_one_shot) {
  size_t len = 100000;
  unsigned char *buf = random_buf(len);
  for (int a = 0; a < NALGS; a++) {
    char one[2 * SLUICE__CK_MAX_RAW + 1], streamed[2 * SLUICE__CK_MAX_RAW + 1];
    unsigned char raw[SLUICE__CK_MAX_RAW];
    digest_hex(all_algs[a], buf, len, one);
    sluice__checksum ck;
    cr_assert_null(sluice__ck_init(&ck, all_algs[a]));
    for (size_t off = 0, n; off < len; off += n) {
      n = 1 + rnd() % 5000;
      if (n > len - off) n = len - off;
      sluice__ck_update(&ck, buf + off, n);
    }
    hex(raw, sluice__ck_final(&ck, raw), streamed);
    cr_assert_str_eq(streamed, one, "%s", sluice__ck_name(all_algs[a]));
  }
  free(buf);
}

Test(checksum, base64_and_names) {
  char b64[SLUICE__CK_MAX_B64];
  /* The big-endian bytes of the check values, as x-amz-checksum-* carries them. */
  sluice__ck_crc_b64(SLUICE__CK_CRC64NVME, UINT64_C(0xAE8B14860A799888), b64);
  cr_assert_str_eq(b64, "rosUhgp5mIg=");
  sluice__ck_crc_b64(SLUICE__CK_CRC32, 0xCBF43926u, b64);
  cr_assert_str_eq(b64, "y/Q5Jg==");
  cr_assert_null(sluice__ck_b64_of(SLUICE__CK_CRC32C, CHECK, 9, b64));
  cr_assert_str_eq(b64, "4waSgw==");
  cr_assert_null(sluice__ck_b64_of(SLUICE__CK_MD5, "", 0, b64));
  cr_assert_str_eq(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
  uint64_t v;
  cr_assert_eq(sluice__ck_crc_from_b64(SLUICE__CK_CRC64NVME, "rosUhgp5mIg=", &v), 0);
  cr_assert_eq(v, UINT64_C(0xAE8B14860A799888));
  cr_assert_eq(sluice__ck_crc_from_b64(SLUICE__CK_CRC32C, "4waSgw==", &v), 0);
  cr_assert_eq(v, 0xE3069283u);
  cr_assert_eq(sluice__ck_crc_from_b64(SLUICE__CK_CRC32C, "rosUhgp5mIg=", &v), -1, "wrong size");
  cr_assert_eq(sluice__ck_crc_from_b64(SLUICE__CK_CRC32, "y/Q5J*==", &v), -1, "not base64");
  cr_assert_eq(sluice__ck_crc_from_b64(SLUICE__CK_SHA256, "y/Q5Jg==", &v), -1, "not a CRC");

  sluice__ck_alg alg;
  cr_assert_eq(sluice__ck_parse("CRC64NVME", &alg), 0);
  cr_assert_eq(alg, SLUICE__CK_CRC64NVME);
  cr_assert_eq(sluice__ck_parse("none", &alg), 0);
  cr_assert_eq(alg, SLUICE__CK_NONE);
  cr_assert_eq(sluice__ck_parse("crc16", &alg), -1);
  cr_assert_str_eq(sluice__ck_header(SLUICE__CK_CRC32C), "x-amz-checksum-crc32c");
  cr_assert_str_eq(sluice__ck_xml(SLUICE__CK_SHA256), "ChecksumSHA256");
  cr_assert_null(sluice__ck_header(SLUICE__CK_MD5));
}
