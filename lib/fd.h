/* SPDX-License-Identifier: MIT */
/* A file descriptor as a source or a sink (lib/fd.c), for the readers and
 * writers over a caller's fd (sluice_reader_from_fd, sluice_writer_from_fd). */
#ifndef SLUICE_LIB_FD_H
#define SLUICE_LIB_FD_H

#include "service.h"

/* A stream source reading fd (not owned: never closed here). */
sluice_error *sluice__fd_source_new(int fd, sluice__source **out);
/* An ordered, synchronous sink writing chunks of `chunk` bytes to fd (not
 * owned). */
sluice_error *sluice__fd_sink_new(int fd, size_t chunk, sluice__sink **out);

#endif
