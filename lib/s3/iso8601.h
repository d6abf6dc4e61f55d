/* SPDX-License-Identifier: MIT */
#ifndef SLUICE_LIB_S3_ISO8601_H
#define SLUICE_LIB_S3_ISO8601_H

#include <stdint.h>

/* An ISO-8601 UTC time as S3 writes it ("2009-10-12T17:50:30.000Z"; also
 * without fraction, with a numeric offset "+02:00"/"+0200", or a lowercase
 * 't'/'z') -> seconds since the epoch in *out.  Returns 0, or -1 (and *out
 * -1) when s is not such a time.  Whitespace around it is allowed (it comes
 * from an XML element).  Pure: any thread. */
int sluice__s3_parse_iso8601(const char *s, int64_t *out);

#endif
