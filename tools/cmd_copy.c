/* SPDX-License-Identifier: MIT */
/* sluice cp / put / cat / sync: one transfer (sluice_job_start) or a whole
 * tree (sluice_tree_start, for cp -r and sync), each a non-blocking job
 * that the main thread watches with poll(2) beside the signal pipe,
 * drawing progress as it goes.  That is the same loop a daemon
 * with its own event loop would run, and it is what lets Ctrl-C cancel a
 * copy cleanly: the job aborts the upload and no partial object remains. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* What sluice_reader_verified() can say, in the order --json lists it. */
static const char *const verified_kinds[] = {"crc64nvme", "crc32c",   "crc32",
                                             "md5",       "etag-md5", "none"};

struct copy {
  const struct cli_settings *s;
  const char *name; /* "cp", "put" or "cat" */
  struct cli_summary sum;
  uint64_t moved; /* bytes the current transfer had delivered when it ended */
  /* How copied objects were checked (sluice_reader_verified): a single
   * transfer's kind, or a tree's count of each kind. */
  const char *verified;
  uint64_t verified_count[sizeof verified_kinds / sizeof verified_kinds[0]];
};

static char *join(const char *dir, const char *name) {
  size_t dl = strlen(dir), n = dl + strlen(name) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s%s%s", dir, dl && dir[dl - 1] != '/' ? "/" : "", name);
  return out;
}

static const char *basename_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Default readers: a network source gets one per part in flight, so that
 * ranged GETs run in parallel; a file or a stream needs only one. */
static const char *readers_for(const struct copy *c, const struct cli_endpoint *src) {
  if (c->s->readers) return c->s->readers;
  if (strcmp(src->scheme, "s3") && strcmp(src->scheme, "http")) return NULL;
  const char *conc = c->s->concurrent ? c->s->concurrent : "4";
  return atoi(conc) > 64 ? "64" : conc;
}

/* Watches a running job until it ends; cancels it on SIGINT/SIGTERM. */
static sluice_error *watch(sluice_job *job, struct cli_progress *pg, sluice_progress *snap) {
  struct pollfd pf[2] = {{.fd = sluice_job_fd(job), .events = POLLIN},
                         {.fd = cli_signal_fd(), .events = POLLIN}};
  int canceled = 0;
  for (;;) {
    int n = poll(pf, 2, 100);
    if (n < 0 && errno != EINTR) break;
    if ((pf[1].revents & POLLIN) || cli_signal_caught()) {
      char drain[16];
      while (read(pf[1].fd, drain, sizeof drain) > 0) {
      }
      if (!canceled) sluice_job_cancel(job);
      canceled = 1;
    }
    sluice_error_free(sluice_job_progress(job, snap));
    cli_progress_update(pg, snap);
    if (pf[0].revents & POLLIN) break;
  }
  sluice_error *err = sluice_job_wait(job);
  sluice_error_free(sluice_job_progress(job, snap));
  return err;
}

/* readers was checked when it was set: only memory can fail here. */
static sluice_options *job_options(const struct copy *c, const struct cli_endpoint *src) {
  sluice_options *o = sluice_options_new();
  const char *readers = readers_for(c, src);
  if (!o) cli_oom();
  if (readers) {
    sluice_error *err = sluice_options_set(o, "readers", readers);
    if (err) cli_oom();
  }
  if (c->s->bwlimit) {
    sluice_error *err = sluice_options_set(o, "bwlimit", c->s->bwlimit);
    if (err) cli_oom();
  }
  return o;
}

/* Reader options: only verify, when given. */
static sluice_options *reader_options(const struct copy *c) {
  sluice_options *o = sluice_options_new();
  if (!o) cli_oom();
  if (c->s->verify) {
    sluice_error *err = sluice_options_set(o, "verify", c->s->verify);
    if (err) cli_oom();
  }
  return o;
}

static void count_verified(struct copy *c, const char *kind) {
  for (size_t i = 0; i < sizeof verified_kinds / sizeof verified_kinds[0]; i++)
    if (!strcmp(kind, verified_kinds[i])) c->verified_count[i]++;
}

/* One object from src (spath) to dst (dpath); label names it in messages. */
static sluice_error *transfer(struct copy *c, struct cli_endpoint *src, const char *spath,
                              struct cli_endpoint *dst, const char *dpath, const char *label) {
  sluice_reader *r = NULL;
  sluice_writer *w = NULL;
  sluice_job *job = NULL;
  sluice_progress snap = {.struct_size = sizeof snap};
  c->moved = 0;
  sluice_options *wopts = cli_writer_options(c->s), *jopts = job_options(c, src);
  /* checksum is an s3 writer option: other writers refuse the name. */
  if (c->s->checksum && !dst->is_stdio && !strcmp(dst->scheme, "s3")) {
    sluice_error *e = sluice_options_set(wopts, "checksum", c->s->checksum);
    if (e) cli_oom();
  }
  sluice_options *ropts = reader_options(c);
  sluice_error *err = src->is_stdio ? sluice_reader_from_fd(STDIN_FILENO, &r)
                                    : sluice_reader_open(src->op, spath, ropts, &r);
  sluice_options_free(ropts);
  if (!err)
    err = dst->is_stdio ? sluice_writer_from_fd(STDOUT_FILENO, wopts, &w)
                        : sluice_writer_open(dst->op, dpath, wopts, &w);
  if (!err) err = sluice_job_start(w, r, jopts, &job);
  if (!err) {
    struct cli_progress *pg = cli_progress_new(c->s->progress, c->s->progress_interval, label);
    err = watch(job, pg, &snap);
    cli_progress_finish(pg, &snap, err == NULL);
    cli_progress_free(pg);
    sluice_job_free(job);
  }
  c->moved = snap.bytes_written;
  c->verified = err ? NULL : sluice_reader_verified(r);
  c->sum.bytes += snap.bytes_written;
  c->sum.parts += snap.parts_done;
  c->sum.retries += snap.retries;
  sluice_writer_free(w); /* aborts it unless the job committed it */
  sluice_reader_free(r);
  sluice_options_free(wopts);
  sluice_options_free(jopts);
  return err;
}

/* Within one store that can copy by itself (S3 CopyObject), the bytes
 * never pass through this machine; --stream turns that off. */
static sluice_error *server_copy(struct copy *c, struct cli_endpoint *src, const char *spath,
                                 const char *dpath) {
  sluice_metadata *m = NULL;
  sluice_error *err = sluice_stat(src->op, spath, &m);
  sluice_options *o = err ? NULL : cli_writer_options(c->s);
  if (!err) err = sluice_copy(src->op, spath, dpath, o);
  if (!err) {
    c->sum.bytes += sluice_metadata_size(m);
    c->sum.parts++;
  }
  sluice_options_free(o);
  sluice_metadata_free(m);
  return err;
}

static int stdout_closed(void) {
  struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static int one(struct copy *c, struct cli_endpoint *src, const char *spath,
               struct cli_endpoint *dst, const char *dpath, const char *label) {
  if (cli_signal_caught()) return 128 + cli_signal_caught();
  sluice_error *err;
  if (dst->shared && !c->s->stream && !strcmp(src->scheme, "s3"))
    err = server_copy(c, src, spath, dpath);
  else
    err = transfer(c, src, spath, dst, dpath, label);
  /* Bytes that did not match the store's record of them (a flip on the
   * way): the aborted destination is written once more from the start.
   * Standard output cannot take back what it was given. */
  if (err && !dst->is_stdio && sluice_error_kind(err) == SLUICE_ERR_IO &&
      sluice_error_retryable(err) && !cli_signal_caught()) {
    sluice_error_free(err);
    c->sum.retries++;
    err = transfer(c, src, spath, dst, dpath, label);
  }
  if (!err) {
    c->sum.files++;
    return CLI_OK;
  }
  if (dst->is_stdio && stdout_closed()) {
    /* The fd writer blocks SIGPIPE around its writes (lib/fd.c), so a
     * closed pipe came back as EPIPE; end as cat does in `cat | head`:
     * quietly, by SIGPIPE. */
    sluice_error_free(err);
    signal(SIGPIPE, SIG_DFL);
    raise(SIGPIPE);
  }
  c->sum.failed++;
  if (sluice_error_kind(err) == SLUICE_ERR_CANCELED && cli_signal_caught()) {
    int sig = cli_signal_caught();
    fprintf(stderr, "sluice: %s %s: interrupted by %s; %s\n", c->name, label,
            sig == SIGINT ? "SIGINT" : "SIGTERM",
            dst->is_stdio ? "output stopped" : "the destination was not written (upload aborted)");
    sluice_error_free(err);
    return 128 + sig;
  }
  return cli_fail(c->name, label, err, c->moved > 0);
}

/* Where a single object goes: into dst when dst names a directory
 * (trailing '/', or an existing local directory), else to dst itself. */
static char *target_path(const struct cli_endpoint *src, const char *spath,
                         const struct cli_endpoint *dst) {
  if (dst->is_stdio) return strdup("-");
  size_t n = strlen(dst->path);
  int dir = n == 0 || dst->path[n - 1] == '/';
  if (!dir && !strcmp(dst->scheme, "fs")) {
    sluice_metadata *m = NULL;
    sluice_error *err = sluice_stat(dst->op, dst->path, &m);
    dir = !err && sluice_metadata_is_dir(m);
    sluice_error_free(err);
    sluice_metadata_free(m);
  }
  if (!dir) return strdup(dst->path);
  if (src->is_stdio || !*basename_of(spath)) return NULL;
  return join(dst->path, basename_of(spath));
}

/* "SRC -> DST" for messages and the progress line, the URIs escaped (a key
 * in one may come from a listing); free() it. */
static char *label_of(const struct cli_endpoint *src, const struct cli_endpoint *dst) {
  char *s = cli_escape_text(src->uri), *d = cli_escape_text(dst->uri), *label = NULL;
  if (asprintf(&label, "%s -> %s", s, d) < 0) cli_oom();
  sluice_free(s);
  sluice_free(d);
  return label;
}

static int copy_one(struct copy *c, struct cli_endpoint *src, struct cli_endpoint *dst) {
  char *dpath = target_path(src, src->path ? src->path : "", dst);
  if (!dpath) {
    fprintf(stderr, "sluice: %s %s: the destination is a directory; name the object to write\n",
            c->name, dst->uri);
    return CLI_USAGE;
  }
  char *label = label_of(src, dst);
  int rc = one(c, src, src->path, dst, dpath, label);
  free(label);
  free(dpath);
  return rc;
}

/* Tree jobs report each object here, on one of the job's threads (one
 * call at a time): failures get a line on stderr, a dry run lists what it
 * would do on stdout ("would copy PATH", the path escaped; with --json one
 * JSON object a line, the path exact).  The relative path is a key a server
 * listed: escaped as sluice ls prints it, so it can neither drive the
 * terminal nor forge a line (the message is escaped by the library). */
struct tree_view {
  struct copy *c;
  const struct cli_endpoint *src, *dst;
  int bar; /* a progress bar is on the line: clear it first */
};

static void on_object(const sluice_object_result *r, void *ud) {
  struct tree_view *v = ud;
  sluice_object_action a = sluice_object_result_action(r);
  const char *path = sluice_object_result_path(r);
  if (a == SLUICE_OBJECT_COPIED) count_verified(v->c, sluice_object_result_verified(r));
  if (a == SLUICE_OBJECT_FAILED) {
    char *u = cli_escape_text(v->src->uri), *rel = cli_escape(path);
    fprintf(stderr, "%ssluice: %s %s%s%s: %s\n", v->bar ? "\r\033[K" : "", v->c->name, u,
            u[strlen(u) - 1] == '/' ? "" : "/", rel,
            sluice_error_message(sluice_object_result_error(r)));
    sluice_free(u);
    sluice_free(rel);
  } else if (a == SLUICE_OBJECT_WOULD_COPY || a == SLUICE_OBJECT_WOULD_DELETE) {
    const char *what = a == SLUICE_OBJECT_WOULD_COPY ? "copy" : "delete";
    if (v->c->s->json) {
      printf("{\"action\":\"would_%s\",\"path\":", what);
      cli_json_string(stdout, path);
      printf(",\"bytes\":%llu}\n", (unsigned long long)sluice_object_result_bytes(r));
    } else {
      printf("would %s ", what);
      cli_put_escaped(stdout, path);
      putchar('\n');
    }
  }
}

static void set_opt(sluice_options *o, const char *name, const char *value) {
  if (!value) return;
  sluice_error *err = sluice_options_set(o, name, value);
  if (err) cli_oom();
}

static sluice_options *tree_options(const struct copy *c, const struct cli_endpoint *src, int sync,
                                    struct tree_view *view) {
  const struct cli_settings *s = c->s;
  sluice_options *o = sluice_options_new();
  if (!o) cli_oom();
  set_opt(o, "mode", sync ? "sync" : "copy");
  set_opt(o, "delete", s->delete_extra ? "true" : NULL);
  set_opt(o, "dry_run", s->dry_run ? "true" : NULL);
  set_opt(o, "compare", sync ? s->compare : NULL);
  set_opt(o, "include", s->include);
  set_opt(o, "exclude", s->exclude);
  set_opt(o, "transfers", s->transfers);
  set_opt(o, "memory_limit", s->memory_limit);
  set_opt(o, "bwlimit", s->bwlimit);
  set_opt(o, "chunk", s->chunk);
  set_opt(o, "concurrent", s->concurrent);
  set_opt(o, "queue_depth", s->queue_depth);
  set_opt(o, "readers", readers_for(c, src));
  set_opt(o, "content_type", s->content_type);
  set_opt(o, "if_not_exists", s->if_not_exists ? "true" : NULL);
  set_opt(o, "stream", s->stream ? "true" : NULL);
  set_opt(o, "verify", s->verify);
  sluice_error *err = sluice_options_set_object_cb(o, on_object, view);
  if (err) cli_oom();
  return o;
}

/* cp -r and sync: one tree job over both directories. */
static int copy_tree(struct copy *c, struct cli_endpoint *src, struct cli_endpoint *dst, int sync) {
  if (src->is_stdio || dst->is_stdio) {
    fprintf(stderr, "sluice: %s%s: a stream ('-') cannot be a directory\n", c->name,
            sync ? "" : " -r");
    return CLI_USAGE;
  }
  char *label = label_of(src, dst);
  struct cli_progress *pg = cli_progress_new(c->s->progress, c->s->progress_interval, label);
  struct tree_view view = {c, src, dst, cli_progress_is_bar(pg)};
  sluice_options *o = tree_options(c, src, sync, &view);
  sluice_job *job = NULL;
  sluice_progress snap = {.struct_size = sizeof snap};
  sluice_error *err = sluice_tree_start(src->op, src->path, dst->op, dst->path, o, &job);
  sluice_options_free(o);
  if (!err) {
    err = watch(job, pg, &snap);
    cli_progress_finish(pg, &snap, err == NULL);
    sluice_job_free(job);
  }
  cli_progress_free(pg);
  c->sum.bytes = snap.bytes_written;
  c->sum.files = snap.objects_done;
  c->sum.failed = snap.objects_failed;
  c->sum.skipped = snap.objects_skipped;
  c->sum.deleted = snap.objects_deleted;
  c->sum.would_copy = snap.objects_would_copy;
  c->sum.would_delete = snap.objects_would_delete;
  c->sum.parts = snap.parts_done;
  c->sum.retries = snap.retries;
  int rc = CLI_OK;
  if (!err && !sync && snap.objects_total == 0) {
    char *u = cli_escape_text(src->uri);
    fprintf(stderr, "sluice: %s -r %s: nothing there to copy\n", c->name, u);
    sluice_free(u);
    rc = CLI_NOT_FOUND;
  } else if (err && sluice_error_kind(err) == SLUICE_ERR_CANCELED && cli_signal_caught()) {
    int sig = cli_signal_caught();
    fprintf(stderr,
            "sluice: %s %s: interrupted by %s after %llu objects; the transfers in flight were "
            "aborted\n",
            c->name, label, sig == SIGINT ? "SIGINT" : "SIGTERM",
            (unsigned long long)snap.objects_done);
    sluice_error_free(err);
    rc = 128 + sig;
  } else if (err) {
    rc = cli_fail(c->name, label, err, snap.objects_done > 0);
  }
  free(label);
  return rc;
}

/* verified: a string for one object, counts by kind for a tree. */
static void summary_json(const struct copy *c, const char *src, const char *dst, int rc, int tree,
                         FILE *f) {
  fprintf(f, "{\"command\":\"%s\",\"source\":", c->name);
  cli_json_string(f, src);
  fprintf(f, ",\"destination\":");
  cli_json_string(f, dst);
  fprintf(f,
          ",\"ok\":%s,\"exit_code\":%d,\"bytes\":%llu,\"seconds\":%.3f,\"objects\":%llu,"
          "\"failed\":%llu,\"copied\":%llu,\"skipped\":%llu,\"deleted\":%llu,"
          "\"would_copy\":%llu,\"would_delete\":%llu,\"parts\":%llu,"
          "\"retries\":%llu,\"peak_rss_kib\":%ld,\"verified\":",
          rc ? "false" : "true", rc, (unsigned long long)c->sum.bytes, c->sum.seconds,
          (unsigned long long)(c->sum.files + c->sum.failed + c->sum.skipped + c->sum.deleted +
                               c->sum.would_copy + c->sum.would_delete),
          (unsigned long long)c->sum.failed, (unsigned long long)c->sum.files,
          (unsigned long long)c->sum.skipped, (unsigned long long)c->sum.deleted,
          (unsigned long long)c->sum.would_copy, (unsigned long long)c->sum.would_delete,
          (unsigned long long)c->sum.parts, (unsigned long long)c->sum.retries, cli_peak_rss_kib());
  if (!tree) {
    cli_json_string(f, c->verified ? c->verified : "none");
  } else {
    const char *sep = "{";
    for (size_t i = 0; i < sizeof verified_kinds / sizeof verified_kinds[0]; i++)
      if (c->verified_count[i]) {
        fprintf(f, "%s\"%s\":%llu", sep, verified_kinds[i],
                (unsigned long long)c->verified_count[i]);
        sep = ",";
      }
    fputs(*sep == '{' ? "{}" : "}", f);
  }
  fputs("}\n", f);
  fflush(f);
}

static int copy_cmd(const struct cli_settings *s, const char *src_uri, const char *dst_uri,
                    const char *name, int sync) {
  struct copy c = {.s = s, .name = name};
  struct cli_endpoint src, dst;
  double t0 = cli_now();
  if (cli_signals_install()) {
    fprintf(stderr, "sluice: %s: cannot install signal handlers: %s\n", name, strerror(errno));
    return CLI_FAILED;
  }
  /* Writing to stdout, a closed pipe (sluice cat | head) ends the process
   * quietly, as it does cat: there is nothing to roll back.  Otherwise a
   * closed stderr must not kill an upload half-way and strand it. */
  if (strcmp(dst_uri, "-")) signal(SIGPIPE, SIG_IGN);
  int rc = cli_endpoint_open(&src, src_uri, s, name);
  if (!rc) {
    rc = cli_endpoint_open_peer(&dst, dst_uri, &src, s, name);
    if (rc) cli_endpoint_close(&src);
  }
  if (!rc) {
    rc = sync || s->recursive ? copy_tree(&c, &src, &dst, sync) : copy_one(&c, &src, &dst);
    cli_endpoint_close(&dst);
    cli_endpoint_close(&src);
  }
  c.sum.seconds = cli_now() - t0;
  /* stdout carries the data when writing to '-': the summary goes to
   * stderr then. */
  if (s->json)
    summary_json(&c, src_uri, dst_uri, rc, sync || s->recursive,
                 strcmp(dst_uri, "-") ? stdout : stderr);
  return rc;
}

int cmd_cp(const struct cli_settings *s, const char *src_uri, const char *dst_uri,
           const char *name) {
  return copy_cmd(s, src_uri, dst_uri, name, 0);
}

int cmd_sync(const struct cli_settings *s, const char *src_uri, const char *dst_uri) {
  return copy_cmd(s, src_uri, dst_uri, "sync", 1);
}
