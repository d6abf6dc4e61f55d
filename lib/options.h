/* SPDX-License-Identifier: MIT */
/* Internal view of sluice_options. */
#ifndef SLUICE_LIB_OPTIONS_H
#define SLUICE_LIB_OPTIONS_H

#include "sluice.h"

/* Each getter returns NULL on success (or when the name is absent: then
 * *out is set to dflt) and an invalid-argument error naming `what` and the
 * option when the value does not parse or is outside [min, max]. */
/* A size in bytes, as sluice__parse_size (size.h) reads it. */
sluice_error *sluice__opt_size(const sluice_options *o, const char *name, uint64_t dflt,
                               uint64_t min, uint64_t max, const char *what, uint64_t *out);
/* A count (parts, threads, objects, attempts): digits only, so that
 * "concurrent=1K" is refused rather than read as 1024. */
sluice_error *sluice__opt_count(const sluice_options *o, const char *name, uint64_t dflt,
                                uint64_t min, uint64_t max, const char *what, uint64_t *out);
/* A plain decimal integer option in [min, max] (in unit, for messages). */
sluice_error *sluice__opt_long(const sluice_options *o, const char *name, long dflt, long min,
                               long max, const char *unit, const char *what, long *out);
sluice_error *sluice__opt_bool(const sluice_options *o, const char *name, int dflt,
                               const char *what, int *out);
/* An operator's options are its configuration: err (an invalid-argument
 * error from the getters above) as a CONFIG_INVALID error with the same
 * message; any other err, or NULL, unchanged. */
sluice_error *sluice__opt_as_config(sluice_error *err);
/* A copy of o (NULL for NULL o), or NULL when out of memory. */
sluice_options *sluice__options_dup(const sluice_options *o);
/* Removes name from o (nothing when absent). */
void sluice__options_unset(sluice_options *o, const char *name);
/* Fails with invalid argument naming the first option of o that is in
 * none of the NULL-terminated lists (either list may be NULL). */
sluice_error *sluice__opt_check_known(const sluice_options *o, const char *what,
                                      const char *const *known1, const char *const *known2);
void sluice__opt_progress(const sluice_options *o, sluice_progress_cb *cb, void **userdata);
void sluice__opt_object_cb(const sluice_options *o, sluice_object_cb *cb, void **userdata);

#endif
