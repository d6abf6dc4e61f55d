/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#ifndef SLUICE_TSAN_CRITERION_H
#include <criterion/hooks.h>
#include <criterion/internal/ordered-set.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

void th_copy(sluice_operator *sop, const char *spath, sluice_operator *dop, const char *dpath,
             sluice_options *wo, sluice_options *co) {
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(sop, spath, NULL, &r));
  TH_OK(sluice_writer_open(dop, dpath, wo, &w));
  sluice_options_free(wo); /* consumers copy what they need */
  TH_OK(sluice_write_from(w, r, co));
  sluice_options_free(co);
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
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

double th_time_scale(void) {
  const char *s = getenv("SLUICE_TIMEOUT_SCALE");
  double k = s && *s ? atof(s) : 0;
  if (k > 0) return k;
  s = getenv("SLUICE_SANITIZED");
  return s && !strcmp(s, "1") ? 10 : 1;
}

double th_seconds(double seconds) { return seconds * th_time_scale(); }

#ifndef SLUICE_TSAN_CRITERION_H
/* Criterion reads each test's timeout (or its suite's) in the runner, after
 * the PRE_ALL hooks: scaling them here covers every .timeout at once. */
ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  double k = th_time_scale();
  if (k == 1) return;
  for (struct criterion_ordered_set_node *sn = set->suites->first; sn; sn = sn->next) {
    struct criterion_suite_set *suite = (struct criterion_suite_set *)(sn + 1);
    if (suite->suite.data) suite->suite.data->timeout *= k;
    if (!suite->tests) continue;
    for (struct criterion_ordered_set_node *tn = suite->tests->first; tn; tn = tn->next) {
      struct criterion_test *t = (struct criterion_test *)(tn + 1);
      if (t->data) t->data->timeout *= k;
    }
  }
}
#endif

uint64_t th_big_size(uint64_t dflt) {
  const char *s = getenv("SLUICE_TEST_BIG");
  if (!s || !*s) return dflt;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  switch (*end) {
  case 'K':
  case 'k': v <<= 10; break;
  case 'M':
  case 'm': v <<= 20; break;
  case 'G':
  case 'g': v <<= 30; break;
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

static const char *proxy_script(const char *name) {
  static char path[4096];
  char rel_tests[128], rel_here[128];
  snprintf(rel_tests, sizeof rel_tests, "/tests/servers/%s", name);
  snprintf(rel_here, sizeof rel_here, "/servers/%s", name);
  const char *top = getenv("top_srcdir");
  char here[4096];
  snprintf(here, sizeof here, "%s", __FILE__);
  char *slash = strrchr(here, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(here, sizeof here, ".");
  const char *cands[][2] = {
      {top, rel_tests}, {here, rel_here}, {".", rel_tests}, {"..", rel_tests}};
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
    if (!cands[i][0] || !*cands[i][0]) continue;
    snprintf(path, sizeof path, "%s%s", cands[i][0], cands[i][1]);
    if (access(path, R_OK) == 0) return path;
  }
  cr_assert_fail("%s not found (set top_srcdir)", name);
  return NULL;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void th_proxy_start(th_proxy *px, int target_port, const char *const *fault_args) {
  th_proxy_start_script(px, "fault-proxy.py", target_port, fault_args);
}

void th_proxy_start_script(th_proxy *px, const char *name, int target_port,
                           const char *const *fault_args) {
  const char *script = proxy_script(name);
  memset(px, 0, sizeof *px);
  px->dir = th_tmpdir();
  px->port_file = th_join(px->dir, "port");
  px->log = th_join(px->dir, "log");
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", target_port);
  /* Debian's Python: the one with python3-crcmod, whatever PATH says. */
  const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const char *argv[32] = {py,      script,  "--target",      target, "--port-file", px->port_file,
                          "--log", px->log, "--max-seconds", "120"};
  size_t argc = 10;
  for (size_t i = 0; fault_args[i]; i++) {
    cr_assert_lt(argc, 31);
    argv[argc++] = fault_args[i];
  }
  argv[argc] = NULL;
  pid_t parent = getpid();
  pid_t pid = fork();
  cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    /* Dies with the test process, whatever happens to it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execvp(py, (char *const *)argv);
    _exit(127);
  }
  px->pid = pid;
  double end = mono_s() + 20;
  for (;;) {
    FILE *f = fopen(px->port_file, "r");
    if (f) {
      int ok = fscanf(f, "%d", &px->port) == 1;
      fclose(f);
      if (ok && px->port > 0) break;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      px->pid = 0;
      cr_assert_fail("%s exited (status 0x%x) before listening", name, st);
    }
    cr_assert(mono_s() < end, "%s did not listen within 20 s", name);
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
}

void th_proxy_stop(th_proxy *px) {
  if (px->pid > 0) {
    kill(px->pid, SIGTERM);
    waitpid(px->pid, NULL, 0);
  }
  if (px->dir) th_rmrf(px->dir);
  free(px->dir);
  free(px->port_file);
  free(px->log);
  memset(px, 0, sizeof *px);
}

int th_proxy_log_count(const th_proxy *px, const char *needle, const char *needle2) {
  FILE *f = fopen(px->log, "r");
  if (!f) return 0;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle) && (!needle2 || strstr(line, needle2))) n++;
  fclose(f);
  return n;
}

static const char *env_required(const char *name) {
  const char *v = getenv(name);
  cr_assert(v && *v, "SLUICE_S3_ENDPOINT is set but %s is not", name);
  return v;
}

void th_s3_need_server(th_s3_server *out) {
  const char *ep = getenv("SLUICE_S3_ENDPOINT");
  if (!ep || !*ep) cr_skip_test("no S3 server: run through tests/check-servers.sh");
  out->endpoint = ep;
  out->region = env_required("SLUICE_S3_REGION");
  out->bucket = env_required("SLUICE_S3_BUCKET");
  out->access_key = env_required("SLUICE_S3_ACCESS_KEY");
  out->secret_key = env_required("SLUICE_S3_SECRET_KEY");
  unsetenv("AWS_PROFILE");
}
