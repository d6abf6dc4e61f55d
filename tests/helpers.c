#include "helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *th_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char *tmpl;
  cr_assert(asprintf(&tmpl, "%s/sluice-test-XXXXXX", base && *base ? base : "/tmp") > 0);
  cr_assert(mkdtemp(tmpl) != NULL, "mkdtemp %s", tmpl);
  return tmpl;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if (flag == FTW_DP || flag == FTW_D) {
    chmod(p, 0700);
    return rmdir(p) ? 0 : 0;
  }
  unlink(p);
  return 0;
}

void th_rmrf(const char *path) {
  if (path) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *th_join(const char *dir, const char *name) {
  char *p;
  cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
  return p;
}

/* splitmix64 of the 8-byte word index: cheap, and any offset is reachable
 * without generating what comes before it. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void th_fill(void *buf, size_t len, uint64_t seed, uint64_t offset) {
  unsigned char *b = buf;
  size_t i = 0;
  while (i < len) {
    uint64_t pos = offset + i;
    uint64_t w = mix(seed * 0x100000001b3ull ^ (pos >> 3));
    unsigned k = pos & 7;
    for (; k < 8 && i < len; k++, i++) b[i] = (unsigned char)(w >> (8 * k));
  }
}

void th_make_file(const char *path, uint64_t size, uint64_t seed) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  cr_assert(fd >= 0, "create %s", path);
  size_t bs = 1 << 20;
  unsigned char *buf = malloc(bs);
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < bs ? (size_t)(size - off) : bs;
    th_fill(buf, n, seed, off);
    cr_assert(write(fd, buf, n) == (ssize_t)n, "write %s", path);
    off += n;
  }
  free(buf);
  close(fd);
}

static EVP_MD_CTX *sha_new(void) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  cr_assert(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
  return ctx;
}

static void sha_end(EVP_MD_CTX *ctx, unsigned char out[32]) {
  unsigned int n = 32;
  cr_assert(EVP_DigestFinal_ex(ctx, out, &n) == 1);
  EVP_MD_CTX_free(ctx);
}

void th_sha256_file(const char *path, unsigned char out[32]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  cr_assert(fd >= 0, "open %s", path);
  EVP_MD_CTX *ctx = sha_new();
  size_t bs = 1 << 20;
  unsigned char *buf = malloc(bs);
  ssize_t n;
  while ((n = read(fd, buf, bs)) > 0) EVP_DigestUpdate(ctx, buf, (size_t)n);
  cr_assert(n == 0, "read %s", path);
  free(buf);
  close(fd);
  sha_end(ctx, out);
}

void th_sha256_generated(uint64_t size, uint64_t seed, unsigned char out[32]) {
  EVP_MD_CTX *ctx = sha_new();
  size_t bs = 1 << 20;
  unsigned char *buf = malloc(bs);
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < bs ? (size_t)(size - off) : bs;
    th_fill(buf, n, seed, off);
    EVP_DigestUpdate(ctx, buf, n);
    off += n;
  }
  free(buf);
  sha_end(ctx, out);
}

void th_sha256_object(sluice_operator *op, const char *path, unsigned char out[32]) {
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, path, NULL, &r));
  EVP_MD_CTX *ctx = sha_new();
  size_t bs = 1 << 20;
  unsigned char *buf = malloc(bs);
  for (;;) {
    size_t n;
    TH_OK(sluice_reader_read(r, buf, bs, &n));
    if (!n) break;
    EVP_DigestUpdate(ctx, buf, n);
  }
  free(buf);
  sluice_reader_free(r);
  sha_end(ctx, out);
}

sluice_operator *th_fs_op(const char *root) {
  sluice_options *o = th_opts("root", root, NULL);
  sluice_operator *op;
  TH_OK(sluice_operator_new("fs", o, &op));
  sluice_options_free(o);
  return op;
}

sluice_operator *th_mem_op(void) {
  sluice_operator *op;
  TH_OK(sluice_operator_new("memory", NULL, &op));
  return op;
}

/* th_opts("root", "/tmp", "chunk", "1MiB", NULL): name, value pairs. */
sluice_options *th_opts(const char *name, ...) {
  sluice_options *o = sluice_options_new();
  cr_assert(o);
  va_list ap;
  va_start(ap, name);
  for (const char *k = name; k; k = va_arg(ap, const char *)) {
    const char *v = va_arg(ap, const char *);
    TH_OK(sluice_options_set(o, k, v));
  }
  va_end(ap);
  return o;
}

uint64_t th_big_size(uint64_t dflt) {
  const char *s = getenv("SLUICE_TEST_BIG");
  if (!s || !*s) return dflt;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  switch (*end) {
  case 'K': case 'k': v <<= 10; break;
  case 'M': case 'm': v <<= 20; break;
  case 'G': case 'g': v <<= 30; break;
  default: break;
  }
  return v;
}

static int files_seen;
static int count_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)p;
  (void)sb;
  (void)ftw;
  if (flag == FTW_F || flag == FTW_SL) files_seen++;
  return 0;
}

int th_count_files(const char *dir) {
  files_seen = 0;
  nftw(dir, count_one, 16, FTW_PHYS);
  return files_seen;
}
