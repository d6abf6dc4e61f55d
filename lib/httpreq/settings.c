/* SPDX-License-Identifier: MIT */
/* The request engine's settings from a service's operator options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "httpreq/settings.h"
#include "options.h"

sluice_error *sluice__httpreq_settings_load(const sluice_options *o, const char *svc,
                                            sluice__httpreq_settings *out) {
  memset(out, 0, sizeof(*out));
  uint64_t attempts, speed;
  sluice_error *err;
  if ((err = sluice__opt_count(o, "max_attempts", 5, 1, 20, svc, &attempts)) ||
      (err = sluice__opt_size(o, "low_speed_limit", 1024, 0, 1u << 30, svc, &speed)) ||
      (err = sluice__opt_long(o, "connect_timeout", 10000, 1, 600000, "milliseconds", svc,
                              &out->connect_timeout_ms)) ||
      (err = sluice__opt_long(o, "low_speed_time", 30, 1, 3600, "seconds", svc,
                              &out->low_speed_time)) ||
      (err = sluice__opt_long(o, "stall_timeout", SLUICE__HTTPREQ_STALL_TIMEOUT, 0, 86400,
                              "seconds", svc, &out->stall_timeout)))
    return sluice__opt_as_config(err);
  out->max_attempts = (unsigned)attempts;
  out->low_speed_limit = (long)speed;
  const char *ca = sluice_options_get(o, "ca_file");
  if (ca && !*ca)
    return sluice__error(SLUICE_ERR_CONFIG_INVALID, "%s: option 'ca_file' is empty", svc);
  if (ca && access(ca, R_OK) != 0) {
    int e = errno;
    char buf[128];
    return sluice__error_set_errno(sluice__error(SLUICE_ERR_CONFIG_INVALID,
                                                 "%s: option ca_file='%s' cannot be read: %s", svc,
                                                 ca, strerror_r(e, buf, sizeof(buf))),
                                   e);
  }
  if (ca && !(out->ca_file = strdup(ca))) return sluice__error_oom();
  return NULL;
}

void sluice__httpreq_settings_clear(sluice__httpreq_settings *s) {
  free(s->ca_file);
  memset(s, 0, sizeof(*s));
}
