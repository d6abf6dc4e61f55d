/* SPDX-License-Identifier: MIT */
/*
 * xfer: one transfer through libsluice, either through the pipeline
 * (sluice_write_from) or through the read-a-chunk-then-write-it loop that a
 * caller without write_from would write (--loop).  The article the project
 * started from measured exactly this pair; bench/run uses it for that
 * experiment, for S3 -> S3 copies that must stream through the client (the
 * command may prefer a server-side copy there), and as a stand-in for the
 * sluice command while a tree has none.
 *
 *   xfer [--loop] [--chunk SIZE] [--concurrent N] [--queue-depth N]
 *        [--readers N] SRC DST
 *
 * SRC and DST are URIs sluice_operator_from_uri() takes, or "-" for stdin /
 * stdout.  S3 settings come from the environment (AWS_ENDPOINT_URL,
 * AWS_REGION, credentials).  Prints one line "bytes=N seconds=S" on stderr.
 * Exit 0 copied, 1 failed, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice.h>

struct args {
  int loop;
  const char *chunk, *concurrent, *queue_depth, *readers, *src, *dst;
};

static int usage(void) {
  fprintf(stderr, "usage: xfer [--loop] [--chunk SIZE] [--concurrent N] [--queue-depth N] "
                  "[--readers N] SRC DST\n");
  return 2;
}

static int parse(int argc, char **argv, struct args *a) {
  *a = (struct args){.chunk = "8MiB", .concurrent = "4", .queue_depth = "4", .readers = "1"};
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    const char **slot = NULL;
    if (strcmp(argv[i], "--loop") == 0) { a->loop = 1; continue; }
    if (strcmp(argv[i], "--chunk") == 0) slot = &a->chunk;
    else if (strcmp(argv[i], "--concurrent") == 0) slot = &a->concurrent;
    else if (strcmp(argv[i], "--queue-depth") == 0) slot = &a->queue_depth;
    else if (strcmp(argv[i], "--readers") == 0) slot = &a->readers;
    if (!slot || i + 1 >= argc) return -1;
    *slot = argv[++i];
  }
  if (argc - i != 2) return -1;
  a->src = argv[i];
  a->dst = argv[i + 1];
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The loop the article compared write_from against: one buffer of one
 * chunk, read it full, hand it to the writer, repeat. */
static sluice_error *copy_loop(sluice_reader *r, sluice_writer *w, size_t chunk, uint64_t *bytes) {
  char *buf = malloc(chunk);
  if (!buf) {
    fprintf(stderr, "xfer: out of memory\n");
    exit(1);
  }
  sluice_error *err = NULL;
  for (;;) {
    size_t n = 0, got;
    while (n < chunk) {
      if ((err = sluice_reader_read(r, buf + n, chunk - n, &got)) || got == 0) break;
      n += got;
    }
    if (err || n == 0) break;
    if ((err = sluice_writer_write(w, buf, n))) break;
    *bytes += n;
    if (n < chunk) break;
  }
  free(buf);
  return err;
}

static uint64_t parse_size(const char *s) {
  char *end;
  uint64_t v = strtoull(s, &end, 10);
  if (*end == 'K' || *end == 'k') v <<= 10;
  else if (*end == 'M' || *end == 'm') v <<= 20;
  else if (*end == 'G' || *end == 'g') v <<= 30;
  return v;
}

int main(int argc, char **argv) {
  struct args a;
  if (parse(argc, argv, &a) != 0) return usage();
  sluice_error *err = NULL;
  sluice_operator *sop = NULL, *dop = NULL;
  char *spath = NULL, *dpath = NULL;
  sluice_reader *r = NULL;
  sluice_writer *w = NULL;
  sluice_options *wo = sluice_options_new(), *co = sluice_options_new();
  const char *stage = "options";
  uint64_t bytes = 0;
  double t0 = now();

  if (!wo || !co) return 1;
  if ((err = sluice_options_set(wo, "chunk", a.chunk)) ||
      (err = sluice_options_set(wo, "concurrent", a.concurrent)) ||
      (err = sluice_options_set(wo, "queue_depth", a.queue_depth)) ||
      (err = sluice_options_set(co, "readers", a.readers)))
    goto out;
  stage = a.src;
  if (strcmp(a.src, "-") == 0)
    err = sluice_reader_from_fd(STDIN_FILENO, &r);
  else if (!(err = sluice_operator_from_uri(a.src, NULL, &sop, &spath)))
    err = sluice_reader_open(sop, spath, NULL, &r);
  if (err) goto out;
  stage = a.dst;
  if (strcmp(a.dst, "-") == 0)
    err = sluice_writer_from_fd(STDOUT_FILENO, wo, &w);
  else if (!(err = sluice_operator_from_uri(a.dst, NULL, &dop, &dpath)))
    err = sluice_writer_open(dop, dpath, wo, &w);
  if (err) goto out;
  stage = a.loop ? "read/write loop" : "write_from";
  if (a.loop) {
    err = copy_loop(r, w, (size_t)parse_size(a.chunk), &bytes);
  } else {
    uint64_t size = sluice_reader_size(r);
    err = sluice_write_from(w, r, co);
    bytes = size;
  }
  if (err) goto out;
  stage = "close";
  err = sluice_writer_close(w);

out:
  if (err)
    fprintf(stderr, "xfer: %s: %s (%s)\n", stage, sluice_error_message(err),
            sluice_strerror(sluice_error_kind(err)));
  else if (bytes == UINT64_MAX) /* a stream: the size was never known */
    fprintf(stderr, "bytes=? seconds=%.3f\n", now() - t0);
  else
    fprintf(stderr, "bytes=%" PRIu64 " seconds=%.3f\n", bytes, now() - t0);
  int status = err ? 1 : 0;
  sluice_error_free(err);
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_options_free(wo);
  sluice_options_free(co);
  sluice_free(spath);
  sluice_free(dpath);
  sluice_operator_free(sop);
  sluice_operator_free(dop);
  return status;
}
