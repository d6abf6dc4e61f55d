/* SPDX-License-Identifier: MIT */
/* Sources and sinks written by the caller (sluice_source_ops,
 * sluice_sink_ops in sluice.h) as the service interface's sources and
 * sinks (lib/caller.c). */
#ifndef SLUICE_LIB_CALLER_H
#define SLUICE_LIB_CALLER_H

#include "service.h"

/* A sink over ops and ctx writing parts of chunk bytes; name for messages
 * (copied, may be NULL).  ops must have been checked by
 * sluice__caller_sink_check().  On error ops->release(ctx) has been
 * called. */
sluice_error *sluice__caller_sink_new(const sluice_sink_ops *ops, void *ctx, const char *name,
                                      size_t chunk, sluice__sink **out);
/* The caller's ops as this library knows them (*copy: the fields the
 * caller has, the rest zero), or an invalid-argument error naming what. */
sluice_error *sluice__caller_sink_check(const sluice_sink_ops *ops, const char *what,
                                        sluice_sink_ops *copy);

#endif
