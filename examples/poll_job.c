/* SPDX-License-Identifier: MIT */
/*
 * poll_job: a copy driven from an event loop, the way a daemon does it.
 *
 *     poll_job SRC_URI DST_URI
 *
 * sluice_job_start() runs the copy on a thread of its own and returns at
 * once.  The job's file descriptor becomes readable when the copy has
 * ended, so it can sit in the same poll()/epoll/libuv loop as the daemon's
 * sockets.  Here the loop also wakes every 200 ms to print progress, and
 * Ctrl-C cancels the copy (the destination is then left untouched).
 *
 * Exit status: 0 copied, 1 failed or cancelled, 2 bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sluice.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static int report(const char *what, sluice_error *err) {
  fprintf(stderr, "poll_job: %s: %s (%s)\n", what, sluice_error_message(err),
          sluice_strerror(sluice_error_kind(err)));
  sluice_error_free(err);
  return 1;
}

static void print_progress(const sluice_job *job) {
  sluice_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p; /* tells the library how much we have room for */
  sluice_error *err = sluice_job_progress(job, &p);
  if (err) {
    report("progress", err);
    return;
  }
  double mib = (double)p.bytes_written / (1024.0 * 1024.0);
  if (p.total_bytes != UINT64_MAX && p.total_bytes > 0)
    fprintf(stderr, "%.1f MiB written (%.0f%%), %" PRIu32 " parts in flight, queue %" PRIu32
                    "/%" PRIu32 "\n",
            mib, 100.0 * (double)p.bytes_written / (double)p.total_bytes, p.parts_in_flight,
            p.ring_used, p.ring_capacity);
  else
    fprintf(stderr, "%.1f MiB written\n", mib);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: poll_job SRC_URI DST_URI\n");
    return 2;
  }
  /* No SA_RESTART: Ctrl-C interrupts poll() so the loop sees it at once. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);

  int status = 1;
  sluice_error *err = NULL;
  sluice_operator *src_op = NULL, *dst_op = NULL;
  char *src_path = NULL, *dst_path = NULL;
  sluice_reader *reader = NULL;
  sluice_writer *writer = NULL;
  sluice_job *job = NULL;

  if ((err = sluice_operator_from_uri(argv[1], NULL, &src_op, &src_path))) {
    status = report(argv[1], err);
    goto out;
  }
  if ((err = sluice_operator_from_uri(argv[2], NULL, &dst_op, &dst_path))) {
    status = report(argv[2], err);
    goto out;
  }
  if ((err = sluice_reader_open(src_op, src_path, NULL, &reader))) {
    status = report(argv[1], err);
    goto out;
  }
  if ((err = sluice_writer_open(dst_op, dst_path, NULL, &writer))) {
    status = report(argv[2], err);
    goto out;
  }

  /* The job borrows writer and reader until it has ended. */
  if ((err = sluice_job_start(writer, reader, NULL, &job))) {
    status = report("start", err);
    goto out;
  }

  /* The event loop.  A daemon would add its own descriptors here. */
  struct pollfd fds[1] = {{.fd = sluice_job_fd(job), .events = POLLIN}};
  int canceled = 0;
  for (;;) {
    int n = poll(fds, 1, 200 /* ms tick */);
    if (n < 0 && errno != EINTR) {
      perror("poll_job: poll");
      break; /* sluice_job_free below cancels the job */
    }
    if (interrupted && !canceled) {
      fprintf(stderr, "interrupted: cancelling\n");
      sluice_job_cancel(job); /* any thread, any time; the fd fires soon */
      canceled = 1;
    }
    if (n > 0 && (fds[0].revents & POLLIN)) break; /* the job has ended */
    if (n == 0) print_progress(job);               /* the tick */
  }

  if (sluice_job_done(job)) {
    /* Ended: wait() returns at once with the outcome. */
    print_progress(job);
    if ((err = sluice_job_wait(job))) {
      status = report("copy", err);
    } else {
      fprintf(stderr, "copied %s -> %s\n", argv[1], argv[2]);
      status = 0;
    }
  }

out:
  sluice_job_free(job); /* cancels and waits if it is still running */
  sluice_writer_free(writer);
  sluice_reader_free(reader);
  sluice_free(src_path);
  sluice_free(dst_path);
  sluice_operator_free(src_op);
  sluice_operator_free(dst_op);
  return status;
}
