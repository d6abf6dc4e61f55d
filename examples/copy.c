/* SPDX-License-Identifier: MIT */
/*
 * copy: stream one object to another with bounded memory.
 *
 *     copy SRC_URI DST_URI [chunk] [concurrent] [readers]
 *
 *     copy /data/big.iso /backup/big.iso
 *     copy file:///data/big.iso /backup/big.iso 16MiB 8
 *
 * URIs are those sluice_operator_from_uri() understands: an absolute path
 * (or file:///..., fs:///...) for the local filesystem, memory://name for
 * a private in-memory store.  chunk (default 8MiB) and concurrent (default
 * 4) are writer options, readers (default 1) the source threads of
 * write_from: memory use is bounded by
 * chunk x (queue_depth + concurrent + readers), whatever the file size.
 *
 * Exit status: 0 copied, 1 the copy failed (the message says why; nothing
 * is left at the destination), 2 bad usage.
 *
 * Build against an installed libsluice: see the Makefile in this directory.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sluice.h>

/* Prints an error with its kind, frees it and returns exit status 1. */
static int report(const char *what, sluice_error *err) {
  fprintf(stderr, "copy: %s: %s (%s)\n", what, sluice_error_message(err),
          sluice_strerror(sluice_error_kind(err)));
  sluice_error_free(err);
  return 1;
}

/* Progress state shared by the callback's calls.  The callback runs on
 * the writer's worker threads, possibly several at once, and calls may
 * arrive slightly out of order: take a lock and print only when the count
 * moved forward, so the line never goes backwards.  It is called once per
 * chunk and the worker waits for it, so keep it short: redraw the line at
 * most ten times a second (and at the very end). */
struct progress_line {
  pthread_mutex_t lock;
  uint64_t shown;
  double last_draw;
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(const sluice_progress *p, void *userdata) {
  struct progress_line *pl = userdata;
  pthread_mutex_lock(&pl->lock);
  double now = now_seconds();
  int at_end = p->total_bytes != UINT64_MAX && p->bytes_written == p->total_bytes;
  if (p->bytes_written > pl->shown && (at_end || now - pl->last_draw >= 0.1)) {
    pl->shown = p->bytes_written;
    pl->last_draw = now;
    double mib = (double)p->bytes_written / (1024.0 * 1024.0);
    if (p->total_bytes != UINT64_MAX && p->total_bytes > 0)
      fprintf(stderr, "\r%.1f MiB written (%.0f%%), %" PRIu32 " parts in flight   ", mib,
              100.0 * (double)p->bytes_written / (double)p->total_bytes, p->parts_in_flight);
    else /* a stream: the size is not known */
      fprintf(stderr, "\r%.1f MiB written   ", mib);
  }
  pthread_mutex_unlock(&pl->lock);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 6) {
    fprintf(stderr, "usage: copy SRC_URI DST_URI [chunk] [concurrent] [readers]\n"
                    "  e.g. copy /data/in.bin /backup/out.bin 16MiB 8\n");
    return 2;
  }
  const char *chunk = argc > 3 ? argv[3] : "8MiB";
  const char *concurrent = argc > 4 ? argv[4] : "4";
  const char *readers = argc > 5 ? argv[5] : "1";

  int status = 1;
  sluice_error *err = NULL;
  sluice_operator *src_op = NULL, *dst_op = NULL;
  char *src_path = NULL, *dst_path = NULL;
  sluice_reader *reader = NULL;
  sluice_writer *writer = NULL;
  sluice_options *wopts = NULL, *copts = NULL;
  struct progress_line pl = {.shown = 0};
  pthread_mutex_init(&pl.lock, NULL);

  /* 1. One operator per URI, and the path inside each service. */
  if ((err = sluice_operator_from_uri(argv[1], NULL, &src_op, &src_path))) {
    status = report(argv[1], err);
    goto out;
  }
  if ((err = sluice_operator_from_uri(argv[2], NULL, &dst_op, &dst_path))) {
    status = report(argv[2], err);
    goto out;
  }

  /* 2. Options are name/value pairs; unknown names and bad values are
   *    reported by the call that consumes them (writer_open here). */
  wopts = sluice_options_new();
  copts = sluice_options_new();
  if (!wopts || !copts) {
    fprintf(stderr, "copy: out of memory\n");
    goto out;
  }
  if ((err = sluice_options_set(wopts, "chunk", chunk)) ||
      (err = sluice_options_set(wopts, "concurrent", concurrent)) ||
      (err = sluice_options_set(copts, "readers", readers)) ||
      (err = sluice_options_set_progress(copts, on_progress, &pl))) {
    status = report("options", err);
    goto out;
  }

  /* 3. A streaming reader on the source and a writer on the destination.
   *    Nothing appears at the destination until the writer is closed. */
  if ((err = sluice_reader_open(src_op, src_path, NULL, &reader))) {
    status = report(argv[1], err);
    goto out;
  }
  if ((err = sluice_writer_open(dst_op, dst_path, wopts, &writer))) {
    status = report(argv[2], err);
    goto out;
  }

  /* 4. The pipeline: reader threads fill chunks, workers write them.  On
   *    error the writer is already aborted; we only report. */
  if ((err = sluice_write_from(writer, reader, copts))) {
    fputc('\n', stderr);
    status = report("copy", err);
    goto out;
  }

  /* 5. Close commits: the object appears whole, or not at all. */
  if ((err = sluice_writer_close(writer))) {
    fputc('\n', stderr);
    status = report("commit", err);
    goto out;
  }
  fprintf(stderr, "\ncopied %s -> %s\n", argv[1], argv[2]);
  status = 0;

out:
  /* Every *_free accepts NULL.  Freeing a writer that was not closed
   * aborts it, so a failed copy leaves nothing behind. */
  sluice_writer_free(writer);
  sluice_reader_free(reader);
  sluice_options_free(wopts);
  sluice_options_free(copts);
  sluice_free(src_path);
  sluice_free(dst_path);
  sluice_operator_free(src_op);
  sluice_operator_free(dst_op);
  pthread_mutex_destroy(&pl.lock);
  return status;
}
