/* SPDX-License-Identifier: MIT */
/*
 * rss_copy SIZE CHUNK CONCURRENT QUEUE_DEPTH READERS
 * rss_copy tree OBJECTS
 *
 * The second form copies a tree of OBJECTS small files fs->fs with one
 * tree job (sluice_tree_start, default options) and prints
 *     objects=N peak_growth_kib=G
 * exiting 0 when G stays within the default memory_limit (256 MiB) plus
 * the slack; check-memory-bound.sh runs it for 10,000 and 100,000 objects
 * and fails when the growth depends on the number of objects.
 *
 * Measures the memory bound the header promises ("buffer memory of a
 * writer is at most chunk x (queue_depth + concurrent + readers), whatever
 * the object size") as the kernel sees it: peak resident set size (VmHWM)
 * while copying a SIZE-byte file fs->fs through sluice_write_from.
 *
 * Prints one line
 *     peak_rss_kib=N bound_kib=M baseline_kib=B
 * and exits 0 when N - B <= M + 16 MiB of slack (thread stacks, malloc
 * arenas, libc), 1 otherwise or on any error, 77 (skip) when the kernel
 * does not report VmHWM.  check-memory-bound.sh runs it.
 *
 * A plain program, not a Criterion test: tests/helpers.c is linked in by
 * the build but not used, because its helpers report failures with
 * cr_assert, which needs a running Criterion test.  So the file is
 * generated here, with a 1 MiB buffer (the generator must not inflate the
 * peak itself).
 *
 * How the baseline works.  VmHWM is a high-water mark for the whole life
 * of the process.  On Linux, writing "5" to /proc/self/clear_refs resets
 * it to the current RSS.  So: reset; generate the file (peak: the 1 MiB
 * buffer); free the buffer; reset again, so the mark now equals the RSS the
 * copy starts from; read it: that is the baseline.  After the copy, VmHWM
 * is the highest RSS reached during the copy, and peak - baseline is what
 * the copy added.  Page cache used by pread/pwrite is not part of RSS.
 * If the reset is refused (very old kernel, restricted /proc), the mark is
 * not reset: the baseline then includes any earlier peak and the check is
 * weaker (never falsely failing); a warning says so.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice.h"

#define SLACK_KIB (16u * 1024)
#define GEN_BUF (1u << 20)

static const char *prog = "rss_copy";

/* "64M", "8MiB", "1073741824": powers of 1024.  -1 when malformed. */
static int parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!s || *s < '0' || *s > '9') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return -1;
  static const struct {
    const char *suffix;
    unsigned shift;
  } units[] = {{"", 0},     {"b", 0},   {"k", 10},   {"kb", 10}, {"kib", 10},
               {"m", 20},   {"mb", 20}, {"mib", 20}, {"g", 30},  {"gb", 30},
               {"gib", 30}, {"t", 40},  {"tb", 40},  {"tib", 40}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].suffix) != 0) continue;
    if (units[i].shift && v > (UINT64_MAX >> units[i].shift)) return -1;
    *out = (uint64_t)v << units[i].shift;
    return 0;
  }
  return -1;
}

/* A "Name:   123 kB" line of /proc/self/status, in KiB; -1 if absent. */
static long long status_kib(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  size_t n = strlen(name);
  long long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, n) == 0 && line[n] == ':') {
      v = strtoll(line + n + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

/* Resets VmHWM to the current RSS.  0 on success. */
static int reset_hwm(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return -1;
  int ok = fputs("5", f) >= 0;
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : -1;
}

/* Deterministic bytes (splitmix64 of the 8-byte word index), any offset. */
static void fill(unsigned char *buf, size_t len, uint64_t offset) {
  size_t i = 0;
  while (i < len) {
    uint64_t pos = offset + i, x = (pos >> 3) + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    for (unsigned k = pos & 7; k < 8 && i < len; k++, i++) buf[i] = (unsigned char)(x >> (8 * k));
  }
}

static int make_file(const char *path, uint64_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "%s: create %s: %s\n", prog, path, strerror(errno));
    return -1;
  }
  setvbuf(f, NULL, _IONBF, 0); /* our buffer is the only one */
  unsigned char *buf = malloc(GEN_BUF);
  int rc = buf ? 0 : -1;
  for (uint64_t off = 0; rc == 0 && off < size;) {
    size_t n = size - off < GEN_BUF ? (size_t)(size - off) : GEN_BUF;
    fill(buf, n, off);
    if (fwrite(buf, 1, n, f) != n) rc = -1;
    off += n;
  }
  free(buf);
  if (fclose(f) != 0) rc = -1;
  if (rc) fprintf(stderr, "%s: write %s: %s\n", prog, path, strerror(errno));
  return rc;
}

/* Byte-for-byte comparison, 1 MiB at a time.  0 when equal. */
static int same_files(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  unsigned char *ba = malloc(GEN_BUF), *bb = malloc(GEN_BUF);
  int rc = fa && fb && ba && bb ? 0 : -1;
  while (rc == 0) {
    size_t na = fread(ba, 1, GEN_BUF, fa), nb = fread(bb, 1, GEN_BUF, fb);
    if (na != nb || memcmp(ba, bb, na) != 0) rc = -1;
    if (na < GEN_BUF) break;
  }
  free(ba);
  free(bb);
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return rc;
}

static int fail_with(const char *what, sluice_error *err) {
  fprintf(stderr, "%s: %s: [%s] %s\n", prog, what, sluice_strerror(sluice_error_kind(err)),
          sluice_error_message(err));
  sluice_error_free(err);
  return -1;
}

/* The copy under test: fs -> fs through sluice_write_from. */
static int copy(const char *dir, const char *chunk, const char *concurrent, const char *queue_depth,
                const char *readers) {
  sluice_options *root = sluice_options_new(), *wo = sluice_options_new(),
                 *co = sluice_options_new();
  sluice_operator *op = NULL;
  sluice_reader *r = NULL;
  sluice_writer *w = NULL;
  sluice_error *err = NULL;
  int rc = -1;
  if (!root || !wo || !co) {
    fprintf(stderr, "%s: out of memory\n", prog);
    goto out;
  }
  if ((err = sluice_options_set(root, "root", dir)) ||
      (err = sluice_options_set(wo, "chunk", chunk)) ||
      (err = sluice_options_set(wo, "concurrent", concurrent)) ||
      (err = sluice_options_set(wo, "queue_depth", queue_depth)) ||
      (err = sluice_options_set(co, "readers", readers))) {
    fail_with("options", err);
    goto out;
  }
  if ((err = sluice_operator_new("fs", root, &op))) {
    fail_with("operator", err);
    goto out;
  }
  if ((err = sluice_reader_open(op, "src.bin", NULL, &r))) {
    fail_with("reader_open", err);
    goto out;
  }
  if ((err = sluice_writer_open(op, "dst.bin", wo, &w))) {
    fail_with("writer_open", err);
    goto out;
  }
  if ((err = sluice_write_from(w, r, co))) {
    fail_with("write_from", err);
    goto out;
  }
  if ((err = sluice_writer_close(w))) {
    fail_with("writer_close", err);
    goto out;
  }
  rc = 0;
out:
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_operator_free(op);
  sluice_options_free(root);
  sluice_options_free(wo);
  sluice_options_free(co);
  return rc;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb, (void)type, (void)ftw;
  remove(path);
  return 0;
}

#define TREE_FILE 100 /* bytes per object */
#define TREE_DIR 1000 /* objects per directory */
#define TREE_BOUND_KIB (256u * 1024)

/* Writes n small files under dir/src/, TREE_DIR per directory. */
static int make_tree(const char *dir, unsigned long n) {
  char path[4300];
  unsigned char buf[TREE_FILE];
  fill(buf, sizeof buf, 0);
  snprintf(path, sizeof path, "%s/src", dir);
  if (mkdir(path, 0755)) return -1;
  for (unsigned long i = 0; i < n; i++) {
    if (i % TREE_DIR == 0) {
      snprintf(path, sizeof path, "%s/src/d%05lu", dir, i / TREE_DIR);
      if (mkdir(path, 0755)) return -1;
    }
    snprintf(path, sizeof path, "%s/src/d%05lu/f%07lu", dir, i / TREE_DIR, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, sizeof buf, f) != sizeof buf) {
      if (f) fclose(f);
      return -1;
    }
    if (fclose(f)) return -1;
  }
  return 0;
}

static int tree_main(const char *count) {
  uint64_t n;
  if (parse_size(count, &n) || n == 0) {
    fprintf(stderr, "usage: %s tree OBJECTS\n", prog);
    return 1;
  }
  if (status_kib("VmHWM") < 0) return 77;
  const char *base = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/sluice-rss-tree-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "%s: mkdtemp %s: %s\n", prog, dir, strerror(errno));
    return 1;
  }
  int status = 1;
  sluice_options *root = sluice_options_new();
  sluice_operator *op = NULL;
  sluice_job *job = NULL;
  sluice_error *err = NULL;
  if (make_tree(dir, (unsigned long)n)) {
    fprintf(stderr, "%s: cannot create the tree under %s: %s\n", prog, dir, strerror(errno));
    goto out;
  }
  if (!root || (err = sluice_options_set(root, "root", dir)) ||
      (err = sluice_operator_new("fs", root, &op))) {
    fail_with("operator", err);
    goto out;
  }
  int can_reset = reset_hwm() == 0;
  long long baseline = status_kib("VmHWM");
  if ((err = sluice_tree_start(op, "src/", op, "dst/", NULL, &job)) ||
      (err = sluice_job_wait(job))) {
    fail_with("tree copy", err);
    goto out;
  }
  sluice_progress p = {.struct_size = sizeof p};
  sluice_error_free(sluice_job_progress(job, &p));
  long long grew = status_kib("VmHWM") - baseline;
  printf("objects=%llu peak_growth_kib=%lld%s\n", (unsigned long long)p.objects_done, grew,
         can_reset ? "" : " (VmHWM not reset: weaker)");
  if (p.objects_done != n) {
    fprintf(stderr, "%s: copied %llu of %llu objects\n", prog, (unsigned long long)p.objects_done,
            (unsigned long long)n);
    goto out;
  }
  if (grew > (long long)(TREE_BOUND_KIB + SLACK_KIB)) {
    fprintf(stderr,
            "%s: FAIL: the tree copy raised peak RSS by %lld KiB, more than the default "
            "memory_limit %u KiB + %u KiB slack\n",
            prog, grew, TREE_BOUND_KIB, SLACK_KIB);
    goto out;
  }
  status = 0;
out:
  sluice_job_free(job);
  sluice_operator_free(op);
  sluice_options_free(root);
  nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
  return status;
}

int main(int argc, char **argv) {
  if (argc > 0 && argv[0]) {
    const char *slash = strrchr(argv[0], '/');
    prog = slash ? slash + 1 : argv[0];
  }
  if (argc == 3 && !strcmp(argv[1], "tree")) return tree_main(argv[2]);
  uint64_t size, chunk, concurrent, queue_depth, readers;
  if (argc != 6 || parse_size(argv[1], &size) || parse_size(argv[2], &chunk) ||
      parse_size(argv[3], &concurrent) || parse_size(argv[4], &queue_depth) ||
      parse_size(argv[5], &readers)) {
    fprintf(stderr, "usage: %s SIZE CHUNK CONCURRENT QUEUE_DEPTH READERS\n", prog);
    return 1;
  }
  if (status_kib("VmHWM") < 0) {
    fprintf(stderr, "%s: /proc/self/status has no VmHWM: cannot measure peak RSS\n", prog);
    return 77;
  }

  const char *base = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/sluice-rss-XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(dir)) {
    fprintf(stderr, "%s: mkdtemp %s: %s\n", prog, dir, strerror(errno));
    return 1;
  }
  char src[4200], dst[4200];
  snprintf(src, sizeof src, "%s/src.bin", dir);
  snprintf(dst, sizeof dst, "%s/dst.bin", dir);

  int status = 1;
  int can_reset = reset_hwm() == 0;
  if (!can_reset)
    fprintf(stderr,
            "%s: warning: cannot reset VmHWM (/proc/self/clear_refs): %s; the check "
            "is weaker\n",
            prog, strerror(errno));
  if (make_file(src, size) != 0) goto out;
  /* Start the copy's mark from the RSS it begins with. */
  if (can_reset) reset_hwm();
  long long baseline = status_kib("VmHWM");

  if (copy(dir, argv[2], argv[3], argv[4], argv[5]) != 0) goto out;
  long long peak = status_kib("VmHWM");

  uint64_t bound_kib = chunk * (queue_depth + concurrent + readers) / 1024;
  printf("peak_rss_kib=%lld bound_kib=%" PRIu64 " baseline_kib=%lld\n", peak, bound_kib, baseline);
  fflush(stdout);

  if (same_files(src, dst) != 0) {
    fprintf(stderr, "%s: the copy differs from the source\n", prog);
    goto out;
  }
  long long grew = peak - baseline;
  if (grew > (long long)(bound_kib + SLACK_KIB)) {
    fprintf(stderr,
            "%s: FAIL: the copy raised peak RSS by %lld KiB, more than the bound %" PRIu64
            " KiB (chunk %" PRIu64 " x (queue_depth %" PRIu64 " + concurrent %" PRIu64
            " + readers %" PRIu64 ")) + %u KiB slack\n",
            prog, grew, bound_kib, chunk, queue_depth, concurrent, readers, SLACK_KIB);
    goto out;
  }
  status = 0;
out:
  unlink(src);
  unlink(dst);
  rmdir(dir);
  return status;
}
