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
/* Record the cause beneath err (see sluice_error_cause_type); each returns
 * err, so a constructor can be wrapped: set_errno(sluice__error(...), e).
 * sluice__error_errno() already records its errno.  The service code is
 * copied; an empty or NULL code records nothing. */
sluice_error *sluice__error_set_errno(sluice_error *err, int errno_value);
sluice_error *sluice__error_set_curl_code(sluice_error *err, int curl_code);
sluice_error *sluice__error_set_service_code(sluice_error *err, const char *code);
/* Gives dst the cause of src, for code that rebuilds an error with a new
 * message; returns dst. */
sluice_error *sluice__error_copy_cause(sluice_error *dst, const sluice_error *src);
/* Appends printf-style text to err's message (in place); returns err. */
sluice_error *sluice__error_append(sluice_error *err, const char *fmt, ...) SLUICE__PRINTF(2, 3);
/* A deep copy (never NULL for a non-NULL err; NULL for NULL). */
sluice_error *sluice__error_copy(const sluice_error *err);
/* The static out-of-memory error. */
sluice_error *sluice__error_oom(void);

#endif
