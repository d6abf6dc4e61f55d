/* SPDX-License-Identifier: MIT */
/*
 * The test helpers' own promise: a slow machine never fails a test.  Every
 * Criterion timeout is multiplied by th_time_scale() ($SLUICE_TIMEOUT_SCALE,
 * or 10 under SLUICE_SANITIZED=1) before the run starts.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

/* A suite timeout (a per-test one makes Criterion 2.4.1's runner leak under
 * LeakSanitizer) shorter than what the test takes unless it is scaled. */
TestSuite(helpers, .timeout = 1);

Test(helpers, timeouts_are_scaled) {
  if (th_time_scale() < 3)
    cr_skip_test("timeouts are not scaled in this run (scale %.1f)", th_time_scale());
  /* 1.5 s of a 1 s timeout: only a scaled timeout lets this pass. */
  struct timespec ts = {1, 500000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

Test(helpers, scale_follows_the_environment) {
  const char *scale = getenv("SLUICE_TIMEOUT_SCALE");
  const char *san = getenv("SLUICE_SANITIZED");
  double want = scale && atof(scale) > 0 ? atof(scale) : san && !strcmp(san, "1") ? 10 : 1;
  cr_assert_float_eq(th_time_scale(), want, 1e-9);
  cr_assert_float_eq(th_seconds(2.5), 2.5 * want, 1e-9);
}
