/* SPDX-License-Identifier: MIT */
/* The sluice command's shared pieces: its settings, how a URI becomes an
 * operator and a path, progress display and exit statuses.  The command
 * uses only the public API (include/sluice.h), as any other program would. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <sluice.h>

/* Exit statuses, documented in sluice(1): keep the two in step. */
enum cli_status {
  CLI_OK = 0,
  CLI_FAILED = 1,       /* any other cause (I/O, unsupported, unexpected) */
  CLI_USAGE = 2,        /* bad command line or URI */
  CLI_CONFIG = 3,       /* configuration: credentials, config file, region */
  CLI_NOT_FOUND = 4,    /* the source (or bucket) does not exist */
  CLI_PERMISSION = 5,   /* refused: credentials, ACL, read-only destination */
  CLI_NETWORK = 6,      /* network, timeout, throttling, after retries */
  CLI_EXISTS = 7,       /* --if-not-exists found an object, or a condition failed */
  CLI_PARTIAL = 8,      /* some of the work was done: recursive cp/rm */
  CLI_REJECTED = 9,     /* the store refused what was sent (BadDigest...) */
  CLI_INTERRUPTED = 130 /* 128 + the signal: 130 SIGINT, 143 SIGTERM */
};

enum progress_mode { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_PLAIN, PROGRESS_NONE };

/* Everything the command line and the config file can set.  Strings are
 * owned by the struct (cli_settings_free).  NULL / -1 mean "not given":
 * the library's default then applies. */
struct cli_settings {
  char *chunk, *concurrent, *queue_depth, *readers;
  char *transfers, *memory_limit, *bwlimit; /* tree jobs; bwlimit every copy */
  char *include, *exclude;                  /* globs, one per line (repeatable) */
  int delete_extra;                         /* sync --delete */
  int dry_run;
  const char *compare; /* sync: "size" or "checksum"; NULL: size_mtime */
  char *endpoint, *region, *profile, *content_type, *ca_file;
  char *checksum;      /* s3 writer option checksum */
  char *verify;        /* reader and tree option verify */
  int no_sign_request; /* -1 unset, 0, 1 */
  int if_not_exists;
  int retries; /* -1 unset */
  int recursive;
  int json;
  int stream; /* cp: never copy server-side */
  enum progress_mode progress;
  double progress_interval; /* seconds between plain lines */
  uint64_t expires;         /* presign */
  int64_t older_than;       /* uploads abort: seconds; -1 unset */
  char *method;             /* presign */
};

void cli_settings_init(struct cli_settings *s);
void cli_settings_free(struct cli_settings *s);
/* Applies one setting by its long-option name ("chunk", "if-not-exists"),
 * value NULL for a flag.  Returns 0, or -1 after printing why to stderr
 * (where names the origin: "--chunk" or "config:12"). */
int cli_setting_apply(struct cli_settings *s, const char *name, const char *value,
                      const char *where);
/* Reads the config file (see sluice(1), FILES): path given, else
 * $SLUICE_CONFIG, else $XDG_CONFIG_HOME/sluice/config or
 * ~/.config/sluice/config.  A missing default file is fine; a missing
 * named one is not.  Returns 0 or -1 (error printed). */
int cli_config_load(struct cli_settings *s, const char *path);
/* The library's size parser (lib/size.h: "8MiB" -> 8388608, "5 MB" ->
 * 5000000), compiled into the command from lib/size.c: the command links
 * only the public API, and its options must read sizes as the library's do. */
int sluice__parse_size(const char *s, uint64_t *out);
/* "90m" -> 5400 seconds; s, m, h, d, w (no unit: seconds). */
int cli_parse_duration(const char *text, uint64_t *out);

/* ---- endpoints (uri.c) ---- */

/* An opened URI: the operator, the path inside it, and what it was.
 * "-" is stdin/stdout (op NULL). */
struct cli_endpoint {
  const char *uri; /* as the user wrote it (borrowed from argv) */
  sluice_operator *op;
  char *path;
  int is_stdio;
  int shared; /* op belongs to the peer endpoint */
  char scheme[8];
};

/* Opens uri with the settings that concern its scheme; relative local
 * paths are made absolute.  On error prints "sluice: OP URI: cause" and
 * returns the exit status; 0 on success. */
int cli_endpoint_open(struct cli_endpoint *e, const char *uri, const struct cli_settings *s,
                      const char *op_name);
/* Opens a second endpoint that shares the first's operator when both name
 * the same store (same bucket and endpoint, or both mem://), so that
 * mem:// URIs in one command see each other and s3 copies can stay on the
 * server. */
int cli_endpoint_open_peer(struct cli_endpoint *e, const char *uri, const struct cli_endpoint *peer,
                           const struct cli_settings *s, const char *op_name);
void cli_endpoint_close(struct cli_endpoint *e);
/* Writer options from the settings (chunk, concurrent, ...). */
sluice_options *cli_writer_options(const struct cli_settings *s);

/* ---- errors and statuses (status.c) ---- */

/* Prints "sluice: OP URI: message" on stderr (the message already names
 * the path and cause; URI is escaped here, with cli_escape_text()), frees
 * err and returns the exit status for its kind.  moved: bytes had already
 * reached the destination before the failure (the destination was then
 * aborted). */
int cli_fail(const char *op, const char *uri, sluice_error *err, int moved);
int cli_status_of(sluice_errkind kind, int moved);
/* Out of memory: says so and exits with CLI_FAILED.  Called only before
 * anything has been written, so nothing is left behind. */
_Noreturn void cli_oom(void);
/* Writes s as a JSON string literal (quotes included): the same string to
 * a JSON reader, with C0, DEL and C1 controls as \u escapes, so none
 * reaches a terminal raw.  Bytes that are not UTF-8 JSON cannot carry:
 * they pass as they are. */
void cli_json_string(FILE *f, const char *s);

/* ---- text from a server, for a person (escape.c) ---- */

/* s with controls, backslashes and bytes that are not UTF-8 written as
 * `ls -b` does (\n, \033, \\): one entry, one line, no terminal escapes.
 * sluice_escape()'s result (sluice_free()); NULL s is "".  Out of memory
 * ends the process. */
char *cli_escape(const char *s);
/* s escaped as the library escapes its messages: controls and bytes that
 * are not UTF-8 as in cli_escape(), backslashes kept, so that escaping
 * again changes nothing (a label built from escaped URIs may pass through
 * cli_fail()).  For URIs and other text inside a message.  Freed with
 * sluice_free(); out of memory ends the process. */
char *cli_escape_text(const char *s);
/* Writes cli_escape(s) to f. */
void cli_put_escaped(FILE *f, const char *s);

/* ---- signals (signals.c) ---- */

/* Installs SIGINT/SIGTERM handlers that only record the signal and wake
 * the fd returned by cli_signal_fd(); the same signal again, a second or
 * more later, takes the default action, so a stuck process still dies. */
int cli_signals_install(void);
int cli_signal_fd(void);
/* The first signal caught, or 0. */
int cli_signal_caught(void);

/* ---- progress (progress.c) ---- */

struct cli_progress;
/* mode AUTO: a bar when stderr is a terminal, nothing otherwise. */
struct cli_progress *cli_progress_new(enum progress_mode mode, double interval, const char *label);
void cli_progress_update(struct cli_progress *p, const sluice_progress *now);
/* Ends the display (final bar state or last plain line). */
void cli_progress_finish(struct cli_progress *p, const sluice_progress *last, int ok);
void cli_progress_free(struct cli_progress *p);
/* Whether p draws a bar on stderr (other output must clear the line). */
int cli_progress_is_bar(const struct cli_progress *p);
double cli_now(void);
/* Peak resident memory of this process, KiB. */
long cli_peak_rss_kib(void);
/* "1.50 GiB" into buf. */
const char *cli_human_bytes(uint64_t n, char *buf, size_t len);

/* ---- commands ---- */

struct cli_summary {
  uint64_t bytes, parts, retries, files, failed;
  uint64_t skipped, deleted, would_copy, would_delete; /* tree jobs */
  double seconds;
};

int cmd_cp(const struct cli_settings *s, const char *src, const char *dst, const char *name);
int cmd_sync(const struct cli_settings *s, const char *src, const char *dst);
int cmd_ls(const struct cli_settings *s, const char *uri);
int cmd_stat(const struct cli_settings *s, const char *uri);
int cmd_rm(const struct cli_settings *s, const char *uri);
int cmd_presign(const struct cli_settings *s, const char *uri);
/* uploads ls URI | uploads abort URI [UPLOAD_ID...]: args after "uploads". */
int cmd_uploads(const struct cli_settings *s, int nargs, char **args);

#endif
