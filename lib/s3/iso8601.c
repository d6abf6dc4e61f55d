/* SPDX-License-Identifier: MIT */
/* ISO-8601 times as S3 writes them (LastModified, Initiated); see
 * iso8601.h. */
#include <string.h>

#include "s3/iso8601.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly n decimal digits at *p; advances *p. */
static int fixed_digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int sluice__s3_parse_iso8601(const char *s, int64_t *out) {
  if (out) *out = -1;
  if (!s || !out) return -1;
  /* XML's whitespace around the text is allowed. */
  const char *p = s, *end = s + strlen(s);
  while (p < end && is_space(*p)) p++;
  while (end > p && is_space(end[-1])) end--;
  int y, mo, d, h, mi, se;
  if (fixed_digits(&p, 4, &y) || *p++ != '-' || fixed_digits(&p, 2, &mo) || *p++ != '-' ||
      fixed_digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
    return -1;
  p++;
  if (fixed_digits(&p, 2, &h) || *p++ != ':' || fixed_digits(&p, 2, &mi) || *p++ != ':' ||
      fixed_digits(&p, 2, &se))
    return -1;
  if (*p == '.' || *p == ',') { /* fraction: read and dropped */
    p++;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') p++;
  }
  int offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (fixed_digits(&p, 2, &oh)) return -1;
    if (*p == ':') p++;
    if (fixed_digits(&p, 2, &om) || oh > 23 || om > 59) return -1;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return -1; /* a time without a zone means nothing definite */
  }
  if (p != end) return -1;
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return -1;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
  *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return 0;
}
