/* SIGINT and SIGTERM become a request to cancel.  The handler only
 * records the signal and writes a byte to a pipe (async-signal-safe); the
 * copy loop polls that pipe beside the job's fd and cancels the job, which
 * aborts the upload and removes partial files.  A second identical signal
 * falls back to the default action, so an impatient user still gets out. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int pipe_fds[2] = {-1, -1};
static volatile sig_atomic_t caught;

static void on_signal(int sig) {
  int saved = errno;
  if (caught == sig) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
  if (!caught) caught = sig;
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
  /* A closed stdout (sluice cat | head) must surface as EPIPE on write,
   * which ends the copy with an error, not kill the process mid-upload. */
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

int cli_signal_fd(void) { return pipe_fds[0]; }

int cli_signal_caught(void) { return caught; }
