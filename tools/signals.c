/* SPDX-License-Identifier: MIT */
/* SIGINT and SIGTERM become a request to cancel.  The handler only
 * records the signal and writes a byte to a pipe (async-signal-safe); the
 * copy loop polls that pipe beside the job's fd and cancels the job, which
 * aborts the upload and removes partial files.  The same signal again, a
 * second or more later, takes the default action, so an impatient user
 * still gets out; sooner than that it is the same request delivered twice
 * (timeout(1) and systemd signal the process and then its group) and must
 * not cut the clean-up short. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int pipe_fds[2] = {-1, -1};
static volatile sig_atomic_t caught;
static struct timespec caught_at;

static void on_signal(int sig) {
  int saved = errno;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
  if (caught == sig && now.tv_sec - caught_at.tv_sec >= 2) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
  if (!caught) {
    caught_at = now;
    caught = sig;
  }
  if (write(pipe_fds[1], "x", 1) < 0) {
    /* The pipe is full: a wake-up is already pending. */
  }
  errno = saved;
}

int cli_signals_install(void) {
  if (pipe_fds[0] >= 0) return 0;
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL)) return -1;
  return 0;
}

int cli_signal_fd(void) { return pipe_fds[0]; }

int cli_signal_caught(void) { return caught; }
