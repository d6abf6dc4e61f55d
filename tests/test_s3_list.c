/* SPDX-License-Identifier: MIT */
/*
 * The S3 listing suite: trees, folder markers and continuation tokens.
 * The server and the helpers: s3_suite.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "operator.h"
#include "s3/s3.h"
#include "s3/xml.h"
#include "s3_suite.h"

/* Suite-wide timeout: a per-test .timeout makes Criterion leak under ASan. */
TestSuite(s3_list, .timeout = 240);

/* ================================================================== */
/* 9. Listing                                                          */
/* ================================================================== */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir and compares the sorted paths with want (sorted here too). */
static void expect_listing(sluice_operator *op, const char *dir, int recursive,
                           const char *const *want, size_t nwant) {
  sluice_options *lo = recursive ? th_opts("recursive", "true", NULL) : NULL;
  sluice_lister *l;
  TH_OK(sluice_list(op, dir, lo, &l));
  sluice_options_free(lo);
  size_t n = 0, cap = 64;
  char **got = malloc(cap * sizeof *got);
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const char *p = sluice_entry_path(e);
    size_t pl = strlen(p);
    const sluice_metadata *m = sluice_entry_metadata(e);
    cr_assert_eq(sluice_metadata_is_dir(m), pl && p[pl - 1] == '/', "'%s': is_dir %d", p,
                 sluice_metadata_is_dir(m));
    cr_assert(!recursive || !sluice_metadata_is_dir(m), "recursive listing yielded '%s'", p);
    if (n == cap) got = realloc(got, (cap *= 2) * sizeof *got);
    got[n++] = strdup(p);
  }
  sluice_lister_free(l);
  char **w = malloc((nwant ? nwant : 1) * sizeof *w);
  for (size_t i = 0; i < nwant; i++) w[i] = (char *)want[i];
  qsort(got, n, sizeof *got, cmp_str);
  qsort(w, nwant, sizeof *w, cmp_str);
  for (size_t i = 1; i < n; i++)
    cr_assert_str_neq(got[i - 1], got[i], "'%s' listed twice under '%s'", got[i], dir);
  for (size_t i = 0; i < n && i < nwant; i++)
    cr_assert_str_eq(got[i], w[i], "listing '%s' (recursive %d): entry %zu is '%s', expected '%s'",
                     dir, recursive, i, got[i], w[i]);
  cr_assert_eq(n, nwant, "listing '%s' (recursive %d): %zu entries, expected %zu", dir, recursive,
               n, nwant);
  for (size_t i = 0; i < n; i++) free(got[i]);
  free(got);
  free(w);
}

Test(s3_list, listing_a_small_tree) {
  struct ctx c;
  ctx_open(&c);
  static const char *const dirs[] = {"", "a/", "a/b/", "a/b/c/", "d/"};
  char *all[25];
  size_t k = 0;
  for (size_t d = 0; d < 5; d++)
    for (int i = 0; i < 5; i++) {
      cr_assert(asprintf(&all[k], "%sf%d.txt", dirs[d], i) > 0);
      TH_OK(sluice_write(c.op, all[k], all[k], strlen(all[k]), NULL));
      k++;
    }
  /* Sizes come with the entries. */
  sluice_lister *l;
  TH_OK(sluice_list(c.op, "d/", NULL, &l));
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    cr_assert_eq(sluice_metadata_size(sluice_entry_metadata(e)), strlen(sluice_entry_path(e)));
  }
  sluice_lister_free(l);

  const char *top[] = {"f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "a/", "d/"};
  expect_listing(c.op, "", 0, top, 7);
  expect_listing(c.op, "/", 0, NULL, 0); /* the keys under "/": none */
  const char *a[] = {"a/f0.txt", "a/f1.txt", "a/f2.txt", "a/f3.txt", "a/f4.txt", "a/b/"};
  expect_listing(c.op, "a/", 0, a, 6);
  const char *abc[] = {"a/b/c/f0.txt", "a/b/c/f1.txt", "a/b/c/f2.txt", "a/b/c/f3.txt",
                       "a/b/c/f4.txt"};
  expect_listing(c.op, "a/b/c/", 0, abc, 5);
  expect_listing(c.op, "a/b/c/", 1, abc, 5);
  expect_listing(c.op, "", 1, (const char *const *)all, 25);
  expect_listing(c.op, "a/", 1, (const char *const *)all + 5, 15);
  /* A missing prefix lists as empty, and so does a prefix of a name that is
   * not a directory ("a/f" is not "a/f0.txt"'s directory). */
  expect_listing(c.op, "nope/", 0, NULL, 0);
  expect_listing(c.op, "nope/", 1, NULL, 0);
  expect_listing(c.op, "a/f/", 1, NULL, 0);
  /* Directories exist while something is under them. */
  sluice_metadata *m = stat_ok(c.op, "a/b/");
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);
  expect_not_found(c.op, "nope/");
  for (size_t i = 0; i < 25; i++) free(all[i]);
  ctx_close(&c);
}

/* A zero-byte object whose key ends in '/' (a "folder" as the AWS console
 * and many tools create it, here made with a raw PutObject) is the
 * directory itself, not an entry in it: listing "a/" must not yield "a/",
 * and a recursive listing yields objects only (an entry named "a/" that is
 * not a directory cannot be read or written through this API). */
Test(s3_list, folder_markers_are_not_listed_as_objects) {
  struct ctx c;
  ctx_open(&c);
  sluice__s3 *s3 = c.op->svc;
  char *key;
  cr_assert(asprintf(&key, "%sa/", c.prefix) > 0);
  sluice__httpreq_req r = {.op = "PutObject",
                           .path = "a/",
                           .method = "PUT",
                           .key = key,
                           .body = (const unsigned char *)"",
                           .body_len = 0};
  TH_OK(sluice__s3_perform(s3, &r));
  sluice__httpreq_req_cleanup(&r);
  free(key);
  TH_OK(sluice_write(c.op, "a/f.txt", "x", 1, NULL));
  sluice_metadata *m = stat_ok(c.op, "a/");
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);
  const char *top[] = {"a/"};
  expect_listing(c.op, "", 0, top, 1);
  /* The marker itself must not come back as an entry of its own directory. */
  for (int rec = 0; rec < 2; rec++) {
    sluice_options *lo = rec ? th_opts("recursive", "true", NULL) : NULL;
    sluice_lister *l;
    TH_OK(sluice_list(c.op, "a/", lo, &l));
    sluice_options_free(lo);
    for (;;) {
      const sluice_entry *e;
      TH_OK(sluice_lister_next(l, &e));
      if (!e) break;
      cr_assert_str_neq(sluice_entry_path(e), "a/",
                        "listing 'a/' (recursive %d) yields the directory itself as an entry "
                        "(is_dir %d)",
                        rec, sluice_metadata_is_dir(sluice_entry_metadata(e)));
    }
    sluice_lister_free(l);
  }
  const char *files[] = {"a/f.txt"};
  expect_listing(c.op, "a/", 0, files, 1);
  expect_listing(c.op, "a/", 1, files, 1);
  expect_listing(c.op, "", 1, files, 1);
  ctx_close(&c);
}

struct put_range {
  sluice_operator *op;
  unsigned from, to;
};

static void *put_empties(void *arg) {
  struct put_range *pr = arg;
  for (unsigned i = pr->from; i < pr->to; i++) {
    char name[64];
    snprintf(name, sizeof name, "many/k%05u", i);
    sluice_error *err = sluice_write(pr->op, name, NULL, 0, NULL);
    if (err) return err;
  }
  return NULL;
}

Test(s3_list, listing_crosses_continuation_tokens) {
  struct ctx c;
  ctx_open(&c);
  enum { N = 1010, THREADS = 4 };
  double t0 = now_s();
  pthread_t th[THREADS];
  struct put_range pr[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    pr[t] = (struct put_range){c.op, t * N / THREADS, (t + 1) * N / THREADS};
    cr_assert(pthread_create(&th[t], NULL, put_empties, &pr[t]) == 0);
  }
  for (unsigned t = 0; t < THREADS; t++) {
    void *err;
    pthread_join(th[t], &err);
    TH_OK((sluice_error *)err);
  }
  cr_log_info("s3: %d empty PUTs in %.2f s", N, now_s() - t0);
  char **want = malloc(N * sizeof *want);
  for (unsigned i = 0; i < N; i++) cr_assert(asprintf(&want[i], "many/k%05u", i) > 0);
  expect_listing(c.op, "", 1, (const char *const *)want, N);
  expect_listing(c.op, "many/", 0, (const char *const *)want, N);
  const char *top[] = {"many/"};
  expect_listing(c.op, "", 0, top, 1);
  for (unsigned i = 0; i < N; i++) free(want[i]);
  free(want);
  ctx_close(&c);
}
