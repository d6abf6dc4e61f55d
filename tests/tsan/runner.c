/* SPDX-License-Identifier: MIT */
/*
 * Test runner for the ThreadSanitizer build (see criterion/criterion.h for
 * why Criterion itself is not used there).  Each test (each parameter of a
 * parameterized test) runs in a forked child with a timeout; the child's
 * exit status is the verdict: 0 pass, 77 skip, anything else fail.
 * Options: --filter GLOB (suite/name), --timeout SECONDS; others ignored.
 * $SLUICE_TIMEOUT_SCALE multiplies every timeout (default 10: TSan is slow).
 */
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criterion/criterion.h"

struct test {
  const char *suite, *name;
  void (*fn)(void);
  void (*pfn)(void *);
  struct criterion_test_params (*params)(void);
  const struct criterion_test_extra_data *extra;
};
struct suite {
  const char *name;
  const struct criterion_test_extra_data *extra;
};

static struct test tests[512];
static size_t ntests;
static struct suite suites[32];
static size_t nsuites;
static int expect_failed;

void shim_register(const char *suite, const char *name, void (*fn)(void), void (*pfn)(void *),
                   struct criterion_test_params (*params)(void),
                   const struct criterion_test_extra_data *extra) {
  if (ntests == sizeof(tests) / sizeof(tests[0])) abort();
  tests[ntests++] = (struct test){suite, name, fn, pfn, params, extra};
}

void shim_register_suite(const char *suite, const struct criterion_test_extra_data *extra) {
  if (nsuites == sizeof(suites) / sizeof(suites[0])) abort();
  suites[nsuites++] = (struct suite){suite, extra};
}

void shim_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
  if (*fmt) {
    va_list ap;
    va_start(ap, fmt);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  if (fatal) _exit(1);
  expect_failed = 1;
}

void shim_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("skipped: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  _exit(77);
}

void shim_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static const struct criterion_test_extra_data *suite_extra(const char *name) {
  for (size_t i = 0; i < nsuites; i++)
    if (strcmp(suites[i].name, name) == 0) return suites[i].extra;
  return NULL;
}

/* 0 pass, 1 fail, 2 skip */
static int run_one(const struct test *t, void *param, double timeout) {
  const struct criterion_test_extra_data *se = suite_extra(t->suite);
  void (*init)(void) = t->extra->init ? t->extra->init : se ? se->init : NULL;
  void (*fini)(void) = t->extra->fini ? t->extra->fini : se ? se->fini : NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (timeout > 0) alarm((unsigned)timeout + 1);
    if (init) init();
    if (t->fn)
      t->fn();
    else
      t->pfn(param);
    if (fini) fini();
    fflush(NULL);
    _exit(expect_failed ? 1 : 0);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return 1;
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 77 ? 2 : 1;
  fprintf(stderr, "killed by signal %d%s\n", WTERMSIG(status),
          WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
  return 1;
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  double timeout_override = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--filter") && i + 1 < argc)
      filter = argv[++i];
    else if (!strncmp(argv[i], "--filter=", 9))
      filter = argv[i] + 9;
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
      timeout_override = atof(argv[++i]);
  }
  const char *sc = getenv("SLUICE_TIMEOUT_SCALE");
  double scale = sc ? atof(sc) : 10;
  int passed = 0, failed = 0, skipped = 0;
  for (size_t i = 0; i < ntests; i++) {
    const struct test *t = &tests[i];
    char full[256];
    snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
    if (filter && fnmatch(filter, full, 0) != 0) continue;
    const struct criterion_test_extra_data *se = suite_extra(t->suite);
    double timeout = timeout_override    ? timeout_override
                     : t->extra->timeout ? t->extra->timeout
                     : se && se->timeout ? se->timeout
                                         : 0;
    timeout *= scale;
    size_t n = 1;
    struct criterion_test_params p = {0};
    if (t->params) n = (p = t->params()).length;
    for (size_t k = 0; k < n; k++) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      int v = t->extra->disabled ? 2 : run_one(t, (char *)p.params + k * p.size, timeout);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
      printf("[%s] %s%s (%.2fs)\n",
             v == 0   ? "PASS"
             : v == 2 ? "SKIP"
                      : "FAIL",
             full, t->params ? "[param]" : "", secs);
      fflush(stdout);
      passed += v == 0;
      failed += v == 1;
      skipped += v == 2;
    }
  }
  printf("%s: %d passed, %d failed, %d skipped\n", argv[0], passed, failed, skipped);
  return failed ? 1 : 0;
}
