/* SPDX-License-Identifier: MIT */
/* sluice cp / put / cat: one or many transfers, each a non-blocking job
 * (sluice_job_start) that the main thread watches with poll(2) beside the
 * signal pipe, drawing progress as it goes.  That is the same loop a daemon
 * with its own event loop would run, and it is what lets Ctrl-C cancel a
 * copy cleanly: the job aborts the upload and no partial object remains. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct copy {
  const struct cli_settings *s;
  const char *name; /* "cp", "put" or "cat" */
  struct cli_summary sum;
  uint64_t moved; /* bytes the current transfer had delivered when it ended */
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
  return o;
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
  sluice_error *err = src->is_stdio ? sluice_reader_from_fd(STDIN_FILENO, &r)
                                : sluice_reader_open(src->op, spath, NULL, &r);
  if (!err) err = dst->is_stdio ? sluice_writer_from_fd(STDOUT_FILENO, wopts, &w)
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
  c->sum.files++;
  if (!err) return CLI_OK;
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

static int copy_one(struct copy *c, struct cli_endpoint *src, struct cli_endpoint *dst) {
  char *dpath = target_path(src, src->path ? src->path : "", dst);
  if (!dpath) {
    fprintf(stderr, "sluice: %s %s: the destination is a directory; name the object to write\n",
            c->name, dst->uri);
    return CLI_USAGE;
  }
  char label[512];
  snprintf(label, sizeof label, "%s -> %s", src->uri, dst->uri);
  int rc = one(c, src, src->path, dst, dpath, label);
  free(dpath);
  return rc;
}

struct names {
  char **v;
  size_t n, cap;
};

static void names_free(struct names *ns) {
  for (size_t i = 0; i < ns->n; i++) free(ns->v[i]);
  free(ns->v);
}

/* Every object under dir, collected before copying starts so that a copy
 * into a directory of the same tree never lists its own output. */
static sluice_error *list_all(sluice_operator *op, const char *dir, struct names *out) {
  sluice_options *o = sluice_options_new();
  sluice_lister *l = NULL;
  if (!o) cli_oom();
  sluice_error *err = sluice_options_set(o, "recursive", "true");
  if (!err) err = sluice_list(op, dir, o, &l);
  const sluice_entry *e;
  while (!err && !(err = sluice_lister_next(l, &e)) && e) {
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 64;
      char **v = realloc(out->v, cap * sizeof *v);
      if (!v) cli_oom();
      out->v = v, out->cap = cap;
    }
    if (!(out->v[out->n] = strdup(sluice_entry_path(e)))) cli_oom();
    out->n++;
  }
  sluice_lister_free(l);
  sluice_options_free(o);
  return err;
}

static int copy_tree(struct copy *c, struct cli_endpoint *src, struct cli_endpoint *dst) {
  if (src->is_stdio || dst->is_stdio) {
    fprintf(stderr, "sluice: %s -r: a stream ('-') cannot be a directory\n", c->name);
    return CLI_USAGE;
  }
  char *sdir = join(src->path, ""), *ddir = join(dst->path, "");
  struct names ns = {0};
  int rc = CLI_OK;
  if (!sdir || !ddir) cli_oom();
  sluice_error *err = list_all(src->op, sdir, &ns);
  if (err) {
    rc = cli_fail(c->name, src->uri, err, 0);
  } else if (ns.n == 0) {
    fprintf(stderr, "sluice: %s -r %s: nothing there to copy\n", c->name, src->uri);
    rc = CLI_NOT_FOUND;
  }
  /* Entry paths are relative to the operator's root, as is sdir, but
   * without its leading '/'. */
  const char *prefix = sdir + strspn(sdir, "/");
  size_t plen = strlen(prefix);
  int first_rc = CLI_OK;
  for (size_t i = 0; rc == CLI_OK && i < ns.n; i++) {
    const char *e = ns.v[i] + strspn(ns.v[i], "/");
    const char *rel = strncmp(e, prefix, plen) == 0 ? e + plen : e;
    char *spath = join(prefix, rel), *dpath = join(ddir, rel);
    char label[1024];
    snprintf(label, sizeof label, "%s%s%s", src->uri,
             src->uri[strlen(src->uri) - 1] == '/' ? "" : "/", rel);
    if (!spath || !dpath) cli_oom();
    int one_rc = one(c, src, spath, dst, dpath, label);
    free(spath);
    free(dpath);
    if (one_rc >= 128) rc = one_rc; /* interrupted: stop here */
    if (one_rc && !first_rc) first_rc = one_rc;
  }
  if (rc == CLI_OK && first_rc)
    rc = c->sum.failed < c->sum.files ? CLI_PARTIAL : first_rc;
  names_free(&ns);
  free(sdir);
  free(ddir);
  return rc;
}

static void summary_json(const struct copy *c, const char *src, const char *dst, int rc, FILE *f) {
  fprintf(f, "{\"command\":\"%s\",\"source\":", c->name);
  cli_json_string(f, src);
  fprintf(f, ",\"destination\":");
  cli_json_string(f, dst);
  fprintf(f,
          ",\"ok\":%s,\"exit_code\":%d,\"bytes\":%llu,\"seconds\":%.3f,\"objects\":%llu,"
          "\"failed\":%llu,\"parts\":%llu,\"retries\":%llu,\"peak_rss_kib\":%ld}\n",
          rc ? "false" : "true", rc, (unsigned long long)c->sum.bytes, c->sum.seconds,
          (unsigned long long)c->sum.files, (unsigned long long)c->sum.failed,
          (unsigned long long)c->sum.parts, (unsigned long long)c->sum.retries,
          cli_peak_rss_kib());
  fflush(f);
}

int cmd_cp(const struct cli_settings *s, const char *src_uri, const char *dst_uri,
           const char *name) {
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
    rc = s->recursive ? copy_tree(&c, &src, &dst) : copy_one(&c, &src, &dst);
    cli_endpoint_close(&dst);
    cli_endpoint_close(&src);
  }
  c.sum.seconds = cli_now() - t0;
  /* stdout carries the data when writing to '-': the summary goes to
   * stderr then. */
  if (s->json) summary_json(&c, src_uri, dst_uri, rc, strcmp(dst_uri, "-") ? stdout : stderr);
  return rc;
}
