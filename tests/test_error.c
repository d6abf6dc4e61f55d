/* SPDX-License-Identifier: MIT */
/*
 * Errors, options and the version: the conventions block of sluice.h.
 *
 * It includes lib/error.h to reach the static out-of-memory error and the
 * cause setters, which no public call can be made to produce on demand.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "helpers.h"
#include "sluice.h"

/* Every kind the header declares, in order. */
static const sluice_errkind all_kinds[] = {
    SLUICE_OK,
    SLUICE_ERR_NOT_FOUND,
    SLUICE_ERR_PERMISSION_DENIED,
    SLUICE_ERR_ALREADY_EXISTS,
    SLUICE_ERR_IS_A_DIRECTORY,
    SLUICE_ERR_INVALID_ARGUMENT,
    SLUICE_ERR_CONFIG_INVALID,
    SLUICE_ERR_UNSUPPORTED,
    SLUICE_ERR_RATE_LIMITED,
    SLUICE_ERR_CONDITION_NOT_MATCH,
    SLUICE_ERR_RANGE_NOT_SATISFIABLE,
    SLUICE_ERR_IO,
    SLUICE_ERR_NETWORK,
    SLUICE_ERR_TIMEOUT,
    SLUICE_ERR_CANCELED,
    SLUICE_ERR_OUT_OF_MEMORY,
    SLUICE_ERR_UNEXPECTED,
    SLUICE_ERR_PARTIAL,
    SLUICE_ERR_REJECTED,
};
#define NKINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

static sluice_operator *mem_op(void) {
  sluice_operator *op = NULL;
  TH_OK(sluice_operator_new("memory", NULL, &op));
  cr_assert_not_null(op);
  return op;
}

static sluice_options *opts1(const char *name, const char *value) {
  sluice_options *o = sluice_options_new();
  cr_assert_not_null(o);
  TH_OK(sluice_options_set(o, name, value));
  return o;
}

/* Asserts err is INVALID_ARGUMENT and its message names `name`; frees it. */
static void expect_invalid_naming(sluice_error *err, const char *name, const char *what) {
  cr_assert_not_null(err, "%s: succeeded, expected invalid argument naming '%s'", what, name);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "%s: got [%s] %s", what,
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  const char *msg = sluice_error_message(err);
  cr_assert_not_null(msg);
  cr_assert(strstr(msg, name) != NULL, "%s: message does not name '%s': %s", what, name, msg);
  sluice_error_free(err);
}

/* Suite-wide timeout (a per-test .timeout makes Criterion 2.4.1's runner
 * leak under LeakSanitizer). */
TestSuite(error, .timeout = 10);

/* ------------------------------------------------------------------ */
/* Kinds and accessors                                                 */
/* ------------------------------------------------------------------ */

Test(error, strerror_distinct_non_empty) {
  for (size_t i = 0; i < NKINDS; i++) {
    const char *a = sluice_strerror(all_kinds[i]);
    cr_assert_not_null(a, "strerror(%d) is NULL", (int)all_kinds[i]);
    cr_assert(a[0] != '\0', "strerror(%d) is empty", (int)all_kinds[i]);
    for (size_t j = 0; j < i; j++)
      cr_assert(strcmp(a, sluice_strerror(all_kinds[j])) != 0,
                "kinds %d and %d share the name '%s'", (int)all_kinds[i], (int)all_kinds[j], a);
  }
  /* Static storage: the same pointer every time, and stable contents. */
  cr_assert_eq(sluice_strerror(SLUICE_ERR_NOT_FOUND), sluice_strerror(SLUICE_ERR_NOT_FOUND));
  /* A value outside the enum (a newer library's kind) still gets a string. */
  const char *u = sluice_strerror((sluice_errkind)9999);
  cr_assert_not_null(u);
  cr_assert(u[0] != '\0');
  u = sluice_strerror((sluice_errkind)-1);
  cr_assert_not_null(u);
}

/* The identifier of every kind is its constant's spelling, so a log line
 * can be grepped for in sluice.h; the table is written out here rather
 * than derived, so that a renamed or renumbered kind fails this test. */
Test(error, err_name_is_the_constant) {
  static const struct {
    sluice_errkind kind;
    int value;
    const char *name;
  } want[] = {
      {SLUICE_OK, 0, "SLUICE_OK"},
      {SLUICE_ERR_NOT_FOUND, 1, "SLUICE_ERR_NOT_FOUND"},
      {SLUICE_ERR_PERMISSION_DENIED, 2, "SLUICE_ERR_PERMISSION_DENIED"},
      {SLUICE_ERR_ALREADY_EXISTS, 3, "SLUICE_ERR_ALREADY_EXISTS"},
      {SLUICE_ERR_IS_A_DIRECTORY, 4, "SLUICE_ERR_IS_A_DIRECTORY"},
      {SLUICE_ERR_INVALID_ARGUMENT, 5, "SLUICE_ERR_INVALID_ARGUMENT"},
      {SLUICE_ERR_CONFIG_INVALID, 6, "SLUICE_ERR_CONFIG_INVALID"},
      {SLUICE_ERR_UNSUPPORTED, 7, "SLUICE_ERR_UNSUPPORTED"},
      {SLUICE_ERR_RATE_LIMITED, 8, "SLUICE_ERR_RATE_LIMITED"},
      {SLUICE_ERR_CONDITION_NOT_MATCH, 9, "SLUICE_ERR_CONDITION_NOT_MATCH"},
      {SLUICE_ERR_RANGE_NOT_SATISFIABLE, 10, "SLUICE_ERR_RANGE_NOT_SATISFIABLE"},
      {SLUICE_ERR_IO, 11, "SLUICE_ERR_IO"},
      {SLUICE_ERR_NETWORK, 12, "SLUICE_ERR_NETWORK"},
      {SLUICE_ERR_TIMEOUT, 13, "SLUICE_ERR_TIMEOUT"},
      {SLUICE_ERR_CANCELED, 14, "SLUICE_ERR_CANCELED"},
      {SLUICE_ERR_OUT_OF_MEMORY, 15, "SLUICE_ERR_OUT_OF_MEMORY"},
      {SLUICE_ERR_UNEXPECTED, 16, "SLUICE_ERR_UNEXPECTED"},
      {SLUICE_ERR_PARTIAL, 17, "SLUICE_ERR_PARTIAL"},
      {SLUICE_ERR_REJECTED, 18, "SLUICE_ERR_REJECTED"},
  };
  cr_assert_eq(sizeof want / sizeof want[0], NKINDS, "a kind is missing from this table");
  for (size_t i = 0; i < NKINDS; i++) {
    /* Kinds are only appended: the values a program may have stored. */
    cr_assert_eq((int)want[i].kind, want[i].value, "%s renumbered to %d", want[i].name,
                 (int)want[i].kind);
    const char *n = sluice_err_name(want[i].kind);
    cr_assert_not_null(n);
    cr_assert_str_eq(n, want[i].name);
    cr_assert_eq(sluice_err_name(want[i].kind), n, "static storage: the same pointer");
  }
  /* A value a newer library may return, or garbage: a fixed identifier
   * that is no kind's name. */
  static const int outside[] = {(int)NKINDS, 9999, -1, (int)0x7fffffff};
  for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
    const char *n = sluice_err_name((sluice_errkind)outside[i]);
    cr_assert_not_null(n, "err_name(%d)", outside[i]);
    cr_assert_str_eq(n, "SLUICE_ERR_UNKNOWN", "err_name(%d)", outside[i]);
    cr_assert_str_eq(sluice_strerror((sluice_errkind)outside[i]), "unknown error kind");
  }
  for (size_t i = 0; i < NKINDS; i++)
    cr_assert_str_neq(sluice_err_name(all_kinds[i]), "SLUICE_ERR_UNKNOWN");
}

Test(error, accessors_on_null_mean_success) {
  cr_assert_eq(sluice_error_kind(NULL), SLUICE_OK);
  cr_assert_str_eq(sluice_error_message(NULL), "ok");
  cr_assert_eq(sluice_error_retryable(NULL), 0);
  cr_assert_eq(sluice_error_http_status(NULL), 0);
  sluice_error_free(NULL);
  sluice_free(NULL);
}

Test(error, real_error_has_kind_and_message_naming_path) {
  sluice_operator *op = mem_op();
  sluice_metadata *m = (sluice_metadata *)(uintptr_t)1;
  sluice_error *err = sluice_stat(op, "no/such-object.bin", &m);
  cr_assert_not_null(err);
  cr_assert_null(m, "out-parameter not reset to NULL on failure");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  const char *msg = sluice_error_message(err);
  cr_assert_not_null(msg);
  cr_assert(strstr(msg, "no/such-object.bin") != NULL, "message does not name the path: %s", msg);
  cr_assert_eq(sluice_error_retryable(err), 0, "not found must not be retryable");
  cr_assert_eq(sluice_error_http_status(err), 0, "memory service has no HTTP status");
  /* The message lives as long as the error: read it twice. */
  cr_assert_eq(sluice_error_message(err), msg);
  sluice_error_free(err);

  sluice_reader *r = (sluice_reader *)(uintptr_t)1;
  err = sluice_reader_open(op, "gone.txt", NULL, &r);
  cr_assert_null(r);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  cr_assert(strstr(sluice_error_message(err), "gone.txt") != NULL, "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_operator_free(op);
}

Test(error, fs_error_names_path) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/sluice-err-XXXXXX", base && *base ? base : "/tmp");
  cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s", tmpl);
  sluice_options *o = opts1("root", tmpl);
  sluice_operator *op = NULL;
  TH_OK(sluice_operator_new("fs", o, &op));
  sluice_options_free(o);
  void *buf = (void *)(uintptr_t)1;
  size_t len = 77;
  sluice_error *err = sluice_read(op, "missing-dir/missing-file", 0, UINT64_MAX, &buf, &len);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "missing-file") != NULL, "%s",
            sluice_error_message(err));
  cr_assert_null(buf);
  cr_assert_eq(len, 0);
  sluice_error_free(err);
  sluice_operator_free(op);
  rmdir(tmpl);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

Test(error, options_set_get_replace) {
  sluice_options *o = sluice_options_new();
  cr_assert_not_null(o);
  cr_assert_null(sluice_options_get(o, "chunk"));
  TH_OK(sluice_options_set(o, "chunk", "1MiB"));
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "1MiB");
  TH_OK(sluice_options_set(o, "chunk", "2MiB"));
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "2MiB");
  TH_OK(sluice_options_set(o, "concurrent", "3"));
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "2MiB");
  cr_assert_str_eq(sluice_options_get(o, "concurrent"), "3");
  cr_assert_null(sluice_options_get(o, "queue_depth"));

  /* The value is copied: the caller's buffer may change afterwards. */
  char val[16];
  strcpy(val, "text/plain");
  TH_OK(sluice_options_set(o, "content_type", val));
  strcpy(val, "XXXXXXXXXX");
  cr_assert_str_eq(sluice_options_get(o, "content_type"), "text/plain");
  /* So is the name. */
  char name[16];
  strcpy(name, "readers");
  TH_OK(sluice_options_set(o, name, "2"));
  strcpy(name, "zzzzzzz");
  cr_assert_str_eq(sluice_options_get(o, "readers"), "2");

  /* Many options (beyond any small initial capacity) all stay reachable. */
  for (int i = 0; i < 40; i++) {
    char k[16], v[16];
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    TH_OK(sluice_options_set(o, k, v));
  }
  for (int i = 0; i < 40; i++) {
    char k[16], v[16];
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    cr_assert_str_eq(sluice_options_get(o, k), v);
  }
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "2MiB");
  sluice_options_free(o);
  sluice_options_free(NULL);
}

Test(error, options_set_uint) {
  sluice_options *o = sluice_options_new();
  TH_OK(sluice_options_set_uint(o, "chunk", 65536));
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "65536");
  TH_OK(sluice_options_set_uint(o, "chunk", 0));
  cr_assert_str_eq(sluice_options_get(o, "chunk"), "0");
  TH_OK(sluice_options_set_uint(o, "big", UINT64_MAX));
  cr_assert_str_eq(sluice_options_get(o, "big"), "18446744073709551615");
  TH_KIND(sluice_options_set_uint(NULL, "chunk", 1), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_options_set_uint(o, NULL, 1), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_options_set_uint(o, "", 1), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
}

Test(error, options_bad_arguments) {
  sluice_options *o = sluice_options_new();
  TH_KIND(sluice_options_set(NULL, "chunk", "1"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_options_set(o, NULL, "1"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_options_set(o, "", "1"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_options_set_progress(NULL, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_options_set_progress(o, NULL, NULL));
  cr_assert_null(sluice_options_get(NULL, "chunk"));
  cr_assert_null(sluice_options_get(o, NULL));
  /* A rejected set leaves nothing behind. */
  cr_assert_null(sluice_options_get(o, ""));
  sluice_options_free(o);
}

/* Opens (and frees) a memory writer with chunk=value. */
static sluice_error *writer_with(const char *name, const char *value) {
  sluice_operator *op = mem_op();
  sluice_options *o = opts1(name, value);
  sluice_writer *w = (sluice_writer *)(uintptr_t)1;
  sluice_error *err = sluice_writer_open(op, "obj", o, &w);
  if (err)
    cr_assert_null(w, "writer_open failed but *out is not NULL");
  else
    cr_assert_not_null(w);
  sluice_writer_free(err ? NULL : w);
  sluice_options_free(o);
  sluice_operator_free(op);
  return err;
}

Test(error, size_suffixes_accepted) {
  TH_OK(writer_with("chunk", "8MiB"));
  TH_OK(writer_with("chunk", "64K"));
  TH_OK(writer_with("chunk", "64KiB"));
  TH_OK(writer_with("chunk", "1G"));
  TH_OK(writer_with("chunk", "1GiB"));
  TH_OK(writer_with("chunk", "1048576"));
  TH_OK(writer_with("chunk", "3M"));
  TH_OK(writer_with("chunk", "5GiB"));
  TH_OK(writer_with("chunk", "5G"));
  /* The suffixes are powers of 1024: 64K is exactly the 64 KiB minimum
   * (64 x 1000 would be below it), 5 GiB exactly the maximum. */
  TH_OK(writer_with("chunk", "65536"));
  expect_invalid_naming(writer_with("chunk", "63K"), "chunk", "chunk=63K (below 64 KiB)");
  expect_invalid_naming(writer_with("chunk", "65535"), "chunk", "chunk=65535");
  expect_invalid_naming(writer_with("chunk", "5121M"), "chunk", "chunk=5121M (above 5 GiB)");
  expect_invalid_naming(writer_with("chunk", "5368709121"), "chunk", "chunk=5GiB+1");
  TH_OK(writer_with("concurrent", "1024"));
  TH_OK(writer_with("queue_depth", "1"));
  expect_invalid_naming(writer_with("queue_depth", "1025"), "queue_depth", "queue_depth=1025");
}

Test(error, size_suffixes_rejected) {
  static const char *const bad[] = {"abc",
                                    "-1",
                                    "8XB",
                                    "",
                                    "8 MiBs",
                                    "1.5M",
                                    "M",
                                    "0x10000",
                                    "99999999999999999999999",
                                    "17179869184G",
                                    "8MiB!"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char what[64];
    snprintf(what, sizeof what, "chunk='%s'", bad[i]);
    expect_invalid_naming(writer_with("chunk", bad[i]), "chunk", what);
  }
  expect_invalid_naming(writer_with("concurrent", "four"), "concurrent", "concurrent=four");
  expect_invalid_naming(writer_with("queue_depth", "-4"), "queue_depth", "queue_depth=-4");
  expect_invalid_naming(writer_with("if_not_exists", "perhaps"), "if_not_exists",
                        "if_not_exists=perhaps");
}

/* ------------------------------------------------------------------ */
/* Unknown option names are errors everywhere                          */
/* ------------------------------------------------------------------ */

Test(error, unknown_option_writer_open) {
  expect_invalid_naming(writer_with("chunck", "1MiB"), "chunck", "writer_open chunck");
  /* A reader option is not a writer option. */
  expect_invalid_naming(writer_with("offset", "0"), "offset", "writer_open offset");
}

Test(error, unknown_option_write_one_shot) {
  sluice_operator *op = mem_op();
  sluice_options *o = opts1("colour", "blue");
  expect_invalid_naming(sluice_write(op, "obj", "x", 1, o), "colour", "write colour");
  /* Nothing was written. */
  sluice_metadata *m;
  TH_KIND(sluice_stat(op, "obj", &m), SLUICE_ERR_NOT_FOUND);
  sluice_options_free(o);
  sluice_operator_free(op);
}

Test(error, unknown_option_reader_open) {
  sluice_operator *op = mem_op();
  TH_OK(sluice_write(op, "obj", "hello", 5, NULL));
  sluice_options *o = opts1("offfset", "1");
  sluice_reader *r = (sluice_reader *)(uintptr_t)1;
  expect_invalid_naming(sluice_reader_open(op, "obj", o, &r), "offfset", "reader_open offfset");
  cr_assert_null(r);
  sluice_options_free(o);
  /* A writer option is not a reader option. */
  o = opts1("queue_depth", "4");
  expect_invalid_naming(sluice_reader_open(op, "obj", o, &r), "queue_depth",
                        "reader_open queue_depth");
  sluice_options_free(o);
  sluice_operator_free(op);
}

Test(error, unknown_option_list) {
  sluice_operator *op = mem_op();
  sluice_options *o = opts1("recursiv", "true");
  sluice_lister *l = (sluice_lister *)(uintptr_t)1;
  expect_invalid_naming(sluice_list(op, "", o, &l), "recursiv", "list recursiv");
  cr_assert_null(l);
  sluice_options_free(o);
  o = opts1("recursive", "sometimes");
  expect_invalid_naming(sluice_list(op, "", o, &l), "recursive", "list recursive=sometimes");
  sluice_options_free(o);
  sluice_operator_free(op);
}

Test(error, unknown_option_write_from_and_job) {
  sluice_operator *op = mem_op();
  TH_OK(sluice_write(op, "src", "0123456789", 10, NULL));
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(op, "src", NULL, &r));
  TH_OK(sluice_writer_open(op, "dst", NULL, &w));
  sluice_options *o = opts1("reeders", "2");
  expect_invalid_naming(sluice_write_from(w, r, o), "reeders", "write_from reeders");
  sluice_job *j = (sluice_job *)(uintptr_t)1;
  expect_invalid_naming(sluice_job_start(w, r, o, &j), "reeders", "job_start reeders");
  cr_assert_null(j);
  sluice_options_free(o);
  /* A writer option is not a copy option. */
  o = opts1("chunk", "1MiB");
  expect_invalid_naming(sluice_write_from(w, r, o), "chunk", "write_from chunk");
  sluice_options_free(o);
  o = opts1("readers", "65");
  expect_invalid_naming(sluice_write_from(w, r, o), "readers", "write_from readers=65");
  sluice_options_free(o);
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_operator_free(op);
}

Test(error, unknown_option_operator_new) {
  sluice_operator *op = (sluice_operator *)(uintptr_t)1;
  sluice_options *o = opts1("roots", "/tmp");
  expect_invalid_naming(sluice_operator_new("fs", o, &op), "roots", "operator_new fs roots");
  cr_assert_null(op);
  TH_OK(sluice_options_set(o, "root", "/tmp"));
  expect_invalid_naming(sluice_operator_new("fs", o, &op), "roots", "operator_new fs root+roots");
  cr_assert_null(op);
  sluice_options_free(o);
  /* The memory service takes no options at all. */
  o = opts1("size", "1G");
  expect_invalid_naming(sluice_operator_new("memory", o, &op), "size", "operator_new memory size");
  cr_assert_null(op);
  sluice_options_free(o);
  /* A writer option is not an operator option. */
  o = opts1("root", "/tmp");
  TH_OK(sluice_options_set(o, "chunk", "8MiB"));
  expect_invalid_naming(sluice_operator_new("fs", o, &op), "chunk", "operator_new fs chunk");
  sluice_options_free(o);
}

/* Consumers copy what they need: opts may be freed right after the call. */
Test(error, options_freed_after_use) {
  sluice_operator *op = mem_op();
  sluice_options *o = opts1("content_type", "text/x-sluice");
  TH_OK(sluice_options_set(o, "chunk", "64KiB"));
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, "obj", o, &w));
  /* Overwrite the values before freeing, so a kept pointer would see junk
   * even where the allocator does not reuse the memory at once. */
  TH_OK(sluice_options_set(o, "content_type", "application/x-garbage"));
  TH_OK(sluice_options_set(o, "chunk", "1"));
  sluice_options_free(o);
  static unsigned char data[200000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 31 + 7);
  TH_OK(sluice_writer_write(w, data, sizeof data));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_metadata *m;
  TH_OK(sluice_stat(op, "obj", &m));
  cr_assert_eq(sluice_metadata_size(m), sizeof data);
  cr_assert_not_null(sluice_metadata_content_type(m));
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/x-sluice");
  sluice_metadata_free(m);
  void *buf;
  size_t len;
  TH_OK(sluice_read(op, "obj", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, sizeof data);
  cr_assert(memcmp(buf, data, len) == 0);
  sluice_free(buf);

  /* Same for a reader's range. */
  o = opts1("offset", "10");
  TH_OK(sluice_options_set(o, "length", "5"));
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, "obj", o, &r));
  sluice_options_free(o);
  unsigned char got[16];
  size_t n, total = 0;
  do {
    TH_OK(sluice_reader_read(r, got + total, sizeof got - total, &n));
    total += n;
  } while (n);
  cr_assert_eq(total, 5);
  cr_assert(memcmp(got, data + 10, 5) == 0);
  sluice_reader_free(r);
  sluice_operator_free(op);
}

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

Test(error, version) {
  const char *v = sluice_version();
  cr_assert_not_null(v);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SLUICE_VERSION_MAJOR, SLUICE_VERSION_MINOR,
           SLUICE_VERSION_PATCH);
  cr_assert_str_eq(v, want, "sluice_version() %s does not match the header's macros %s", v, want);
  cr_assert_eq(sluice_version(), v, "static storage: the same string every time");
  /* configure.ac reads its version from the header: a configure generated
   * before a version bump (autoreconf not re-run) shows up here. */
  cr_assert_str_eq(PACKAGE_VERSION, want, "configure says %s, include/sluice.h says %s",
                   PACKAGE_VERSION, want);
}

Test(error, version_num) {
  cr_assert_eq(sluice_version_num(), (unsigned)SLUICE_VERSION_NUM, "library 0x%06x, header 0x%06x",
               sluice_version_num(), (unsigned)SLUICE_VERSION_NUM);
  cr_assert_eq(SLUICE_VERSION_NUM,
               (SLUICE_VERSION_MAJOR << 16) | (SLUICE_VERSION_MINOR << 8) | SLUICE_VERSION_PATCH);
  /* Usable in #if, and orders as the version does. */
#if SLUICE_VERSION_NUM < 0x000100
  cr_assert_fail("SLUICE_VERSION_NUM 0x%06x is below 0.1.0", (unsigned)SLUICE_VERSION_NUM);
#endif
  cr_assert(SLUICE_VERSION_MINOR < 256 && SLUICE_VERSION_PATCH < 256,
            "a component does not fit its byte");
  /* The number and the text name the same version. */
  unsigned n = sluice_version_num();
  char text[32];
  snprintf(text, sizeof text, "%u.%u.%u", n >> 16, (n >> 8) & 0xff, n & 0xff);
  cr_assert_str_eq(text, sluice_version());
}

/* ------------------------------------------------------------------ */
/* The cause behind an error                                           */
/* ------------------------------------------------------------------ */

/* Asserts err has exactly the cause described (every other accessor
 * empty), then frees it. */
static void expect_cause(sluice_error *err, sluice_cause_type type, int sys_errno, int curl_code,
                         const char *service_code, const char *what) {
  cr_assert_not_null(err, "%s succeeded", what);
  const char *msg = sluice_error_message(err);
  cr_assert_eq(sluice_error_cause_type(err), type, "%s: cause type %d, expected %d: %s", what,
               (int)sluice_error_cause_type(err), (int)type, msg);
  cr_assert_eq(sluice_error_errno(err), sys_errno, "%s: errno %d, expected %d: %s", what,
               sluice_error_errno(err), sys_errno, msg);
  cr_assert_eq(sluice_error_curl_code(err), curl_code, "%s: curl code %d, expected %d: %s", what,
               sluice_error_curl_code(err), curl_code, msg);
  if (service_code) {
    cr_assert_not_null(sluice_error_service_code(err), "%s: no service code: %s", what, msg);
    cr_assert_str_eq(sluice_error_service_code(err), service_code, "%s", what);
  } else {
    cr_assert_null(sluice_error_service_code(err), "%s: service code '%s': %s", what,
                   sluice_error_service_code(err), msg);
  }
  sluice_error_free(err);
}

Test(error, cause_accessors_on_null_and_oom) {
  cr_assert_eq(sluice_error_cause_type(NULL), SLUICE_CAUSE_NONE);
  cr_assert_eq(sluice_error_errno(NULL), 0);
  cr_assert_eq(sluice_error_curl_code(NULL), 0);
  cr_assert_null(sluice_error_service_code(NULL));
  /* The static out-of-memory error: no cause, and the setters leave it
   * alone (it is shared by every thread). */
  sluice_error *oom = sluice__error_oom();
  cr_assert_eq(sluice__error_set_errno(oom, ENOMEM), oom);
  cr_assert_eq(sluice__error_set_curl_code(oom, CURLE_OUT_OF_MEMORY), oom);
  cr_assert_eq(sluice__error_set_service_code(oom, "SlowDown"), oom);
  cr_assert_eq(sluice__error_copy_cause(oom, NULL), oom);
  cr_assert_eq(sluice_error_kind(oom), SLUICE_ERR_OUT_OF_MEMORY);
  expect_cause(oom, SLUICE_CAUSE_NONE, 0, 0, NULL, "oom");
  /* NULL is accepted everywhere and stays NULL. */
  cr_assert_null(sluice__error_set_errno(NULL, EIO));
  cr_assert_null(sluice__error_set_curl_code(NULL, 7));
  cr_assert_null(sluice__error_set_service_code(NULL, "X"));
  cr_assert_null(sluice__error_copy_cause(NULL, NULL));
}

/* The library's own findings carry no cause. */
Test(error, cause_none_for_the_library_s_own_findings) {
  sluice_operator *op = mem_op();
  sluice_metadata *m;
  expect_cause(sluice_stat(op, "absent", &m), SLUICE_CAUSE_NONE, 0, 0, NULL, "memory stat");
  expect_cause(sluice_stat(NULL, "absent", &m), SLUICE_CAUSE_NONE, 0, 0, NULL, "NULL operator");
  sluice_operator_free(op);
}

Test(error, cause_errno_from_the_filesystem) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/sluice-cause-XXXXXX", base && *base ? base : "/tmp");
  cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s", tmpl);
  sluice_options *o = opts1("root", tmpl);
  sluice_operator *op = NULL;
  TH_OK(sluice_operator_new("fs", o, &op));
  sluice_options_free(o);
  void *buf;
  size_t len;
  expect_cause(sluice_read(op, "missing", 0, UINT64_MAX, &buf, &len), SLUICE_CAUSE_ERRNO, ENOENT, 0,
               NULL, "fs read of a missing file");
  /* A file where a directory should be: the kernel says ENOTDIR. */
  TH_OK(sluice_write(op, "file", "x", 1, NULL));
  expect_cause(sluice_read(op, "file/below", 0, UINT64_MAX, &buf, &len), SLUICE_CAUSE_ERRNO,
               ENOTDIR, 0, NULL, "fs read below a file");
  TH_OK(sluice_delete(op, "file"));
  sluice_operator_free(op);
  rmdir(tmpl);
}

/* Reads from a descriptor on a directory: read(2) says EISDIR, and the
 * errno survives the pipeline's copies of the error (write_from, a job). */
Test(error, cause_errno_from_a_descriptor_through_the_pipeline) {
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cr_assert(fd >= 0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_fd(fd, &r));
  char b[16];
  size_t n;
  expect_cause(sluice_reader_read(r, b, sizeof b, &n), SLUICE_CAUSE_ERRNO, EISDIR, 0, NULL,
               "reader_read");
  sluice_reader_free(r);

  sluice_operator *op = mem_op();
  sluice_writer *w;
  TH_OK(sluice_reader_from_fd(fd, &r));
  TH_OK(sluice_writer_open(op, "dst", NULL, &w));
  expect_cause(sluice_write_from(w, r, NULL), SLUICE_CAUSE_ERRNO, EISDIR, 0, NULL, "write_from");
  /* The writer failed with it too, and close reports it again. */
  expect_cause(sluice_writer_close(w), SLUICE_CAUSE_ERRNO, EISDIR, 0, NULL, "close after");
  sluice_writer_free(w);
  sluice_reader_free(r);

  TH_OK(sluice_reader_from_fd(fd, &r));
  TH_OK(sluice_writer_open(op, "dst", NULL, &w));
  sluice_job *j;
  TH_OK(sluice_job_start(w, r, NULL, &j));
  expect_cause(sluice_job_wait(j), SLUICE_CAUSE_ERRNO, EISDIR, 0, NULL, "job_wait");
  sluice_job_free(j);
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_operator_free(op);
  close(fd);
}

/* A loopback port that refuses connections: bound, so nobody else takes it
 * while the test runs, but not listening.  Returns the socket. */
static int refusing_port(unsigned *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert(s >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
  socklen_t al = sizeof a;
  cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
  *port = ntohs(a.sin_port);
  return s;
}

/* No server to talk to: libcurl's code, no HTTP status, for both
 * services on the request engine. */
Test(error, cause_curl_connection_refused) {
  unsigned port;
  int s = refusing_port(&port);
  char endpoint[64];
  snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%u", port);
  sluice_options *o = opts1("endpoint", endpoint);
  TH_OK(sluice_options_set(o, "bucket", "b"));
  TH_OK(sluice_options_set(o, "region", "us-east-1"));
  TH_OK(sluice_options_set(o, "access_key_id", "AKIDEXAMPLE"));
  TH_OK(sluice_options_set(o, "secret_access_key", "secret"));
  TH_OK(sluice_options_set(o, "max_attempts", "1"));
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  sluice_metadata *m;
  sluice_error *err = sluice_stat(op, "k", &m);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NETWORK, "[%s] %s",
               sluice_err_name(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert_eq(sluice_error_http_status(err), 0);
  expect_cause(err, SLUICE_CAUSE_CURL, 0, CURLE_COULDNT_CONNECT, NULL, "s3 stat");
  sluice_operator_free(op);

  char uri[96];
  snprintf(uri, sizeof uri, "%s/file.bin", endpoint);
  o = opts1("max_attempts", "1");
  char *path;
  TH_OK(sluice_operator_from_uri(uri, o, &op, &path));
  sluice_options_free(o);
  expect_cause(sluice_stat(op, path, &m), SLUICE_CAUSE_CURL, 0, CURLE_COULDNT_CONNECT, NULL,
               "http stat");
  sluice_free(path);
  sluice_operator_free(op);
  close(s);
}

/* The setters the services use, and what a rebuilt error keeps. */
Test(error, cause_set_copied_and_ranked) {
  sluice_error *e = sluice__error(SLUICE_ERR_NOT_FOUND, "s3: GetObject 'k': NoSuchKey");
  sluice__error_set_http_status(e, 404);
  cr_assert_eq(sluice_error_cause_type(e), SLUICE_CAUSE_HTTP, "a status alone is an HTTP cause");
  /* An empty code is no code. */
  sluice__error_set_service_code(e, "");
  cr_assert_eq(sluice_error_cause_type(e), SLUICE_CAUSE_HTTP);
  char code[] = "NoSuchKey";
  sluice__error_set_service_code(e, code);
  code[0] = 'X'; /* copied, not borrowed */
  cr_assert_eq(sluice_error_cause_type(e), SLUICE_CAUSE_SERVICE);
  cr_assert_str_eq(sluice_error_service_code(e), "NoSuchKey");
  cr_assert_eq(sluice_error_http_status(e), 404, "the status stays beside the code");
  /* A deep copy (what writers and jobs hand out) has its own code. */
  sluice_error *c = sluice__error_copy(e);
  cr_assert_neq(sluice_error_service_code(c), sluice_error_service_code(e));
  sluice_error_free(e);
  cr_assert_eq(sluice_error_http_status(c), 404);
  expect_cause(c, SLUICE_CAUSE_SERVICE, 0, 0, "NoSuchKey", "copy");

  e = sluice__error_set_curl_code(sluice__error(SLUICE_ERR_NETWORK, "x"), CURLE_RECV_ERROR);
  sluice_error *r = sluice__error_copy_cause(sluice__error(SLUICE_ERR_NETWORK, "x; more"), e);
  sluice_error_free(e);
  expect_cause(r, SLUICE_CAUSE_CURL, 0, CURLE_RECV_ERROR, NULL, "copy_cause");
}

/* sluice_escape: what a person may be shown of a name a server sent. */
Test(error, escape_writes_controls_as_ls_b_does) {
  static const struct {
    const char *in, *out0, *outb; /* flags 0, SLUICE_ESCAPE_BACKSLASH */
  } cases[] = {
      {"plain/key.txt", "plain/key.txt", "plain/key.txt"},
      {"a\nb\tc\r", "a\\nb\\tc\\r", "a\\nb\\tc\\r"},
      {"\033[31mred", "\\033[31mred", "\\033[31mred"},
      {"del\177", "del\\177", "del\\177"},
      {"back\\slash", "back\\slash", "back\\\\slash"},
      {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
      {"c1 \xc2\x9b", "c1 \\302\\233", "c1 \\302\\233"},       /* CSI as U+009B */
      {"bad \xff\xc3(", "bad \\377\\303(", "bad \\377\\303("}, /* not UTF-8 */
      {"over\xc0\xaf", "over\\300\\257", "over\\300\\257"},    /* overlong '/' */
      {"", "", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *a = sluice_escape(cases[i].in, 0),
         *b = sluice_escape(cases[i].in, SLUICE_ESCAPE_BACKSLASH);
    cr_assert_str_eq(a, cases[i].out0, "case %zu", i);
    cr_assert_str_eq(b, cases[i].outb, "case %zu", i);
    /* Without the flag, escaping twice changes nothing. */
    char *again = sluice_escape(a, 0);
    cr_assert_str_eq(again, a, "case %zu", i);
    sluice_free(a);
    sluice_free(b);
    sluice_free(again);
  }
  cr_assert_null(sluice_escape(NULL, 0));
  cr_assert_null(sluice_escape("x", 2), "an unknown flag is refused");
}
