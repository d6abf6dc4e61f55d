/* SPDX-License-Identifier: MIT */
/* The request engine's connection settings (internal); see settings.c. */
#ifndef SLUICE_LIB_HTTPREQ_SETTINGS_H
#define SLUICE_LIB_HTTPREQ_SETTINGS_H

#include "sluice.h"

/* The connection settings, from the operator options of the same names
 * (sluice__httpreq_settings_load). */
typedef struct sluice__httpreq_settings {
  char *ca_file;           /* NULL: system CAs */
  unsigned max_attempts;   /* total tries per request, default 5, 1..20 */
  long connect_timeout_ms; /* default 10000, 1..600000 */
  long low_speed_limit;    /* bytes/s, default 1024, 0..1 GiB (0: no stall detection) */
  long low_speed_time;     /* seconds, default 30, 1..3600: a connection slower than
                            * the limit that long is stalled */
  /* seconds, default SLUICE__HTTPREQ_STALL_TIMEOUT, 0..86400 (0: no budget):
   * a request that moves no byte for this long, across all its attempts
   * and backoffs, fails with TIMEOUT and is not tried again.  A request
   * whose bytes keep moving is never cut by it; bytes resent into a peer
   * that stopped reading and never answered do not count as moving
   * (httpreq.c, on_progress). */
  long stall_timeout;
} sluice__httpreq_settings;

/* The default stall budget of one request.  A copy to a peer that stops
 * answering ends after about two of these: the request in flight, then the
 * abort of a multipart upload. */
#define SLUICE__HTTPREQ_STALL_TIMEOUT 50

/* The option names sluice__httpreq_settings_load reads, for a service's list
 * of known keys. */
#define SLUICE__HTTPREQ_SETTINGS_KEYS \
  "ca_file", "max_attempts", "connect_timeout", "low_speed_limit", "low_speed_time", "stall_timeout"

/* Reads the settings from o (defaults for absent options) into *out, which
 * the caller releases with sluice__httpreq_settings_clear.  Errors:
 * CONFIG_INVALID naming the option (messages start with svc), or
 * OUT_OF_MEMORY; *out then holds nothing to free. */
sluice_error *sluice__httpreq_settings_load(const sluice_options *o, const char *svc,
                                            sluice__httpreq_settings *out);
void sluice__httpreq_settings_clear(sluice__httpreq_settings *s);

#endif
