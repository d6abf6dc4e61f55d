/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the part of Criterion's API our suites use, for the
 * ThreadSanitizer build only.  Criterion itself cannot start under TSan:
 * its BoxFort arena fails with "Could not initialize inheritable arena"
 * (Snaipe/Criterion#274, open).  The same test sources compile against this
 * header and tests/tsan/runner.c, which forks one child per test, like
 * Criterion, with a timeout.  Keep it to what the suites use.
 */
#ifndef SLUICE_TSAN_CRITERION_H
#define SLUICE_TSAN_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct criterion_test_extra_data {
  double timeout;
  void (*init)(void);
  void (*fini)(void);
  int disabled;
  const char *description;
};

struct criterion_test_params {
  size_t size;
  void *params;
  size_t length;
};

void shim_register(const char *suite, const char *name, void (*fn)(void), void (*pfn)(void *),
                   struct criterion_test_params (*params)(void),
                   const struct criterion_test_extra_data *extra);
void shim_register_suite(const char *suite, const struct criterion_test_extra_data *extra);
void shim_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void shim_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                                \
  static void suite##_##name##_impl(void);                                                    \
  static const struct criterion_test_extra_data suite##_##name##_extra = {__VA_ARGS__};       \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {                       \
    shim_register(#suite, #name, suite##_##name##_impl, NULL, NULL, &suite##_##name##_extra); \
  }                                                                                           \
  static void suite##_##name##_impl(void)

#define TestSuite(suite, ...)                                                        \
  static const struct criterion_test_extra_data suite##_suite_extra = {__VA_ARGS__}; \
  __attribute__((constructor)) static void suite##_suite_reg(void) {                 \
    shim_register_suite(#suite, &suite##_suite_extra);                               \
  }

#define cr_make_param_array(Type, Array, Len, ...) \
  ((struct criterion_test_params){sizeof(Type), (void *)(Array), (Len)})
#define ParameterizedTestParameters(suite, name) \
  static struct criterion_test_params suite##_##name##_params(void)
#define ParameterizedTest(Decl, suite, name, ...)                                       \
  static struct criterion_test_params suite##_##name##_params(void);                    \
  static void suite##_##name##_pimpl(Decl);                                             \
  static void suite##_##name##_pwrap(void *p) { suite##_##name##_pimpl(p); }            \
  static const struct criterion_test_extra_data suite##_##name##_extra = {__VA_ARGS__}; \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {                 \
    shim_register(#suite, #name, NULL, suite##_##name##_pwrap, suite##_##name##_params, \
                  &suite##_##name##_extra);                                             \
  }                                                                                     \
  static void suite##_##name##_pimpl(Decl)

#define SHIM_CHECK(fatal, cond, expr, ...)                                   \
  do {                                                                       \
    if (!(cond)) shim_fail(fatal, __FILE__, __LINE__, expr, "" __VA_ARGS__); \
  } while (0)

#define cr_assert(cond, ...) SHIM_CHECK(1, cond, #cond, __VA_ARGS__)
#define cr_expect(cond, ...) SHIM_CHECK(0, cond, #cond, __VA_ARGS__)
#define cr_assert_fail(...) SHIM_CHECK(1, 0, "cr_assert_fail", __VA_ARGS__)
#define cr_expect_fail(...) SHIM_CHECK(0, 0, "cr_expect_fail", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK(1, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK(1, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK(1, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK(1, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK(1, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK(1, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                                \
  SHIM_CHECK(1, (double)(a) - (double)(b) <= (eps) && (double)(b) - (double)(a) <= (eps), \
             #a " ~= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) SHIM_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(1, strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) \
  SHIM_CHECK(1, strcmp((a), (b)) != 0, #a " neq " #b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) SHIM_CHECK(0, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) SHIM_CHECK(0, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) SHIM_CHECK(0, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) SHIM_CHECK(0, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) SHIM_CHECK(0, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) SHIM_CHECK(0, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(p, ...) SHIM_CHECK(0, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) SHIM_CHECK(0, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) SHIM_CHECK(0, strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...) \
  SHIM_CHECK(0, strcmp((a), (b)) != 0, #a " neq " #b, __VA_ARGS__)
/* Criterion allocates parameters in memory its runner shares with the test
 * processes; a forked child sees the parent's heap, so malloc will do. */
#define cr_malloc malloc
#define cr_calloc calloc
#define cr_realloc realloc
#define cr_free free
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)
#define cr_log_info(...) shim_log(__VA_ARGS__)
#define cr_log_warn(...) shim_log(__VA_ARGS__)
#define cr_log_error(...) shim_log(__VA_ARGS__)

#endif
