/* SPDX-License-Identifier: MIT */
/* In-order parallel read-ahead for sequential reads of a positional source
 * (a reader's, lib/reader.c); see readahead.c. */
#ifndef SLUICE_LIB_READAHEAD_H
#define SLUICE_LIB_READAHEAD_H

#include "service.h"

typedef struct sluice__readahead sluice__readahead;

/* Starts `concurrent` fetcher threads reading src in chunks from byte pos
 * on.  *out is NULL on error (OUT_OF_MEMORY, or a thread that cannot
 * start).  src must outlive the read-ahead.  One caller thread at a time. */
sluice_error *sluice__readahead_start(sluice__source *src, uint64_t pos, size_t chunk,
                                      unsigned concurrent, sluice__readahead **out);
/* The next bytes in order, as sluice_reader_read: *n = 0 at the end; the
 * first fetch error, again on every later call. */
sluice_error *sluice__readahead_read(sluice__readahead *ra, void *buf, size_t len, size_t *n);
/* Stops the fetchers (waiting for requests in progress) and frees; NULL is
 * a no-op. */
void sluice__readahead_free(sluice__readahead *ra);

#endif
