/* SPDX-License-Identifier: MIT */
#ifndef SLUICE_LIB_READER_H
#define SLUICE_LIB_READER_H

#include "service.h"

struct sluice_reader {
  sluice__source *src;
  sluice_operator *op; /* holds a reference; NULL for fd readers */
  uint64_t pos;        /* next byte, relative to the source's range */
  int eof;
  /* Moved by sluice_reader_seek(): reads are positioned (pread at pos),
   * and checks of the whole object stand down. */
  int seeked;
  size_t ra_chunk; /* read-ahead: chunk size and fetchers (0: none) */
  unsigned ra_concurrent;
  struct sluice__readahead *ra; /* started on the first read */
  int verify_required;          /* option verify=required */
};

/* Wraps src in a reader (taking ownership of src even on failure). */
sluice_error *sluice__reader_wrap(sluice__source *src, sluice_reader **out);
/* A reader of the whole object at path as a listing gave it (listed: its
 * size, ETag and mtime), through the service's open_source_listed when it
 * has one (no request to the store yet), else as sluice_reader_open(). */
sluice_error *sluice__reader_open_listed(sluice_operator *op, const char *path,
                                         const sluice_metadata *listed, sluice_reader **out);

/* The reader option verify ("auto", "required") for `what` (messages):
 * *required set; invalid argument for another value. */
sluice_error *sluice__reader_verify_option(const sluice_options *o, const char *what,
                                           int *required);
/* With verify=required: an error when the bytes read so far were not all
 * checked against the store's record of the object (call it once every
 * byte was read, before anything is committed); NULL otherwise. */
sluice_error *sluice__reader_check_verified(sluice_reader *r);

#endif
