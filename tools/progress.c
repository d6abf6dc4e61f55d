/* SPDX-License-Identifier: MIT */
/* Progress display: a bar redrawn in place on a terminal, or a line every
 * few seconds for logs.  It reads a sluice_progress snapshot that the copy
 * loop takes with sluice_job_progress() on the main thread, so nothing here
 * runs on the library's worker threads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct cli_progress {
  enum progress_mode mode; /* BAR, PLAIN or NONE once resolved */
  double interval, start, last_draw;
  double window_start, rate; /* rate over the last window, bytes/s */
  uint64_t window_bytes;
  int drawn;
  char label[96];
};

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long cli_peak_rss_kib(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

const char *cli_human_bytes(uint64_t n, char *buf, size_t len) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, u++;
  if (u == 0)
    snprintf(buf, len, "%" PRIu64 " B", n);
  else
    snprintf(buf, len, "%.2f %s", v, units[u]);
  return buf;
}

struct cli_progress *cli_progress_new(enum progress_mode mode, double interval, const char *label) {
  struct cli_progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (mode == PROGRESS_AUTO) mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE;
  p->mode = mode;
  p->interval = interval;
  p->start = p->last_draw = p->window_start = cli_now();
  snprintf(p->label, sizeof p->label, "%s", label);
  return p;
}

static void fmt_duration(double s, char *buf, size_t len) {
  unsigned long t = s < 0 ? 0 : (unsigned long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

/* The figures: "45%, 1.20 GiB of 2.00 GiB, 512.00 MiB/s, ETA 0:02, 4 in
 * flight, ring 3/4" for plain lines; the bar packs the same tighter. */
static void figures(const struct cli_progress *p, const sluice_progress *s, int tight, char *out,
                    size_t len) {
  char done[32], total[32], rate[32], eta[32] = "-";
  const char *sep = tight ? " " : ", ";
  cli_human_bytes(s->bytes_written, done, sizeof done);
  cli_human_bytes((uint64_t)p->rate, rate, sizeof rate);
  int n = 0;
  if (s->total_bytes != UINT64_MAX) {
    cli_human_bytes(s->total_bytes, total, sizeof total);
    if (p->rate > 0 && s->total_bytes >= s->bytes_written)
      fmt_duration((double)(s->total_bytes - s->bytes_written) / p->rate, eta, sizeof eta);
    double pct = s->total_bytes ? 100.0 * (double)s->bytes_written / (double)s->total_bytes : 100.0;
    n = snprintf(out, len, "%3.0f%%%s%s%s%s%s", pct, sep, done, tight ? "/" : " of ", total, sep);
  } else {
    n = snprintf(out, len, "%s%s", done, sep);
  }
  if (n < 0 || (size_t)n >= len) return;
  if (s->objects_total) {
    /* A tree job: objects finished (any outcome) of those listed so far. */
    uint64_t fin = s->objects_done + s->objects_failed + s->objects_skipped + s->objects_deleted +
                   s->objects_would_copy + s->objects_would_delete;
    int m = snprintf(out + n, len - (size_t)n, "%" PRIu64 "/%" PRIu64 "%s%s", fin, s->objects_total,
                     tight ? " obj" : " objects", sep);
    if (m < 0 || (size_t)(n + m) >= len) return;
    n += m;
    if (s->objects_failed) {
      m = snprintf(out + n, len - (size_t)n, "%" PRIu64 " failed%s", s->objects_failed, sep);
      if (m < 0 || (size_t)(n + m) >= len) return;
      n += m;
    }
    snprintf(out + n, len - (size_t)n, "%s/s%s%" PRIu32 " %s", rate, sep, s->parts_in_flight,
             tight ? "xfers" : "in flight");
    return;
  }
  snprintf(out + n, len - (size_t)n, "%s/s%s%s%s%s%" PRIu32 "%s%sring %" PRIu32 "/%" PRIu32, rate,
           sep, s->total_bytes != UINT64_MAX ? "ETA " : "", s->total_bytes != UINT64_MAX ? eta : "",
           s->total_bytes != UINT64_MAX ? sep : "", s->parts_in_flight,
           tight ? " parts" : " in flight", sep, s->ring_used, s->ring_capacity);
}

static int columns(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  const char *c = getenv("COLUMNS");
  int n = c ? atoi(c) : 0;
  return n >= 20 ? n : 80;
}

/* The bar leaves out the label (the user just typed the command) so that
 * an 80-column terminal still has room for it. */
static void draw_bar(struct cli_progress *p, const sluice_progress *s) {
  char fig[256], bar[64] = "";
  figures(p, s, 1, fig, sizeof fig);
  int room = columns() - 1 - (int)strlen(fig) - 3;
  if (s->total_bytes != UINT64_MAX && room >= 10) {
    int w = room > 40 ? 40 : room;
    int fill =
        s->total_bytes ? (int)((double)w * (double)s->bytes_written / (double)s->total_bytes) : w;
    if (fill > w) fill = w;
    bar[0] = '[';
    for (int i = 0; i < w; i++) bar[1 + i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    memcpy(bar + 1 + w, "] ", 3);
  }
  /* \r and erase-line: redraw in place without leaving debris when the
   * line gets shorter. */
  fprintf(stderr, "\r\033[K%s%s", bar, fig);
  fflush(stderr);
  p->drawn = 1;
}

static void update_rate(struct cli_progress *p, const sluice_progress *s, double now) {
  double span = now - p->window_start;
  if (span >= 1.0 || p->rate == 0) {
    if (span > 0.05 && s->bytes_written >= p->window_bytes) {
      p->rate = (double)(s->bytes_written - p->window_bytes) / span;
      p->window_start = now;
      p->window_bytes = s->bytes_written;
    }
  }
}

void cli_progress_update(struct cli_progress *p, const sluice_progress *s) {
  if (!p || p->mode == PROGRESS_NONE) return;
  double now = cli_now();
  update_rate(p, s, now);
  if (p->mode == PROGRESS_BAR) {
    if (now - p->last_draw >= 0.1 || !p->drawn) draw_bar(p, s), p->last_draw = now;
  } else if (now - p->last_draw >= p->interval) {
    char fig[256];
    figures(p, s, 0, fig, sizeof fig);
    fprintf(stderr, "sluice: %s: %s\n", p->label, fig);
    p->last_draw = now;
  }
}

void cli_progress_finish(struct cli_progress *p, const sluice_progress *s, int ok) {
  if (!p || p->mode == PROGRESS_NONE) return;
  double secs = cli_now() - p->start;
  char done[32], rate[32];
  cli_human_bytes(s->bytes_written, done, sizeof done);
  cli_human_bytes(secs > 0 ? (uint64_t)((double)s->bytes_written / secs) : 0, rate, sizeof rate);
  /* The bar goes away; a finished copy leaves one line saying what it did. */
  if (p->mode == PROGRESS_BAR && p->drawn) fprintf(stderr, "\r\033[K");
  char objs[128] = "";
  if (s->objects_would_copy || s->objects_would_delete)
    snprintf(objs, sizeof objs,
             "dry run: %" PRIu64 " would be copied, %" PRIu64 " would be deleted, %" PRIu64
             " skipped, %" PRIu64 " failed, ",
             s->objects_would_copy, s->objects_would_delete, s->objects_skipped, s->objects_failed);
  else if (s->objects_total)
    snprintf(objs, sizeof objs,
             "%" PRIu64 " copied, %" PRIu64 " skipped, %" PRIu64 " deleted, %" PRIu64 " failed, ",
             s->objects_done, s->objects_skipped, s->objects_deleted, s->objects_failed);
  if (ok || p->mode == PROGRESS_PLAIN)
    fprintf(stderr, "sluice: %s: %s %s%s in %.1f s (%s/s)\n", p->label,
            ok ? "done," : "stopped after", objs, done, secs, rate);
}

int cli_progress_is_bar(const struct cli_progress *p) { return p && p->mode == PROGRESS_BAR; }

void cli_progress_free(struct cli_progress *p) { free(p); }
