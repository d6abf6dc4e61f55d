/* SPDX-License-Identifier: MIT */
/* Internal error construction.  Public accessors live in sluice.h. */
#ifndef SLUICE_LIB_ERROR_H
#define SLUICE_LIB_ERROR_H

#include "sluice.h"

#if defined(__GNUC__)
#define SLUICE__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SLUICE__PRINTF(a, b)
#endif

/* A new error of kind with a printf-style message.  Never returns NULL: on
 * allocation failure it returns the static out-of-memory error. */
sluice_error *sluice__error(sluice_errkind kind, const char *fmt, ...) SLUICE__PRINTF(2, 3);
/* Same, mapping errno_value to a kind and appending strerror. */
sluice_error *sluice__error_errno(int errno_value, const char *fmt, ...) SLUICE__PRINTF(2, 3);
/* Kind that errno_value means (ENOENT -> not found, ...). */
sluice_errkind sluice__errno_kind(int errno_value);
/* Marks err retryable / records an HTTP status; returns err. */
sluice_error *sluice__error_set_retryable(sluice_error *err, int retryable);
sluice_error *sluice__error_set_http_status(sluice_error *err, int status);
/* Appends printf-style text to err's message (in place); returns err. */
sluice_error *sluice__error_append(sluice_error *err, const char *fmt, ...) SLUICE__PRINTF(2, 3);
/* A deep copy (never NULL for a non-NULL err; NULL for NULL). */
sluice_error *sluice__error_copy(const sluice_error *err);
/* The static out-of-memory error. */
sluice_error *sluice__error_oom(void);

#endif
