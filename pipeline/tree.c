/* SPDX-License-Identifier: MIT */
/*
 * Tree jobs: many objects, one job, one memory budget.
 *
 * The job's own thread is the dispatcher: it walks the source listing (for
 * sync, the destination's too, merging the two sorted streams), decides
 * what each object needs and queues copies and deletions in a bounded
 * queue.  `transfers` worker threads take them one at a time.  Nothing
 * holds a whole listing: the look-ahead is the queue plus one entry per
 * listing.
 *
 * A worker opens the source first (that costs no buffer), learns the size,
 * then takes all the budget the object will need before any buffer
 * exists: one buffer of the object's size for an object of at most one
 * chunk (read in one positioned read, written with one put on the
 * worker's own thread), or the whole pipeline of a large object.  Because
 * no transfer waits for more budget while holding some, the budget cannot
 * deadlock however huge and tiny objects mix.
 *
 * Cancel (or fail_fast) sets `stop`, closes the budget and the queue and
 * cancels each worker's current writer, which aborts its upload; objects
 * already finished stay, nothing is left half-written.
 */
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "error.h"
#include "operator.h"
#include "path.h"
#include "reader.h"
#include "tree.h"

/* ---- one object ---- */

static void large_progress(const sluice_progress *p, void *ud) {
  atomic_store(&((struct sluice__slot *)ud)->moving, p->bytes_written);
}

/* Reads all size bytes of a small object into buf with positioned reads
 * (no read-ahead buffer of the source's own). */
static sluice_error *read_whole(sluice_reader *r, unsigned char *buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    size_t n = 0;
    sluice_error *err = r->src->vt->pread
                            ? r->src->vt->pread(r->src, buf + got, size - got, got, &n)
                            : sluice_reader_read(r, buf + got, size - got, &n);
    if (err) return err;
    if (n == 0)
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "read '%s': source ended at byte %zu, %zu bytes short of its size",
                           r->src->path, got, size - got);
    got += n;
  }
  return NULL;
}

/* The budget an object of size bytes takes: its own buffer (to the page)
 * when it fits one chunk, else a large object's pipeline. */
static uint64_t need_of(const sluice__tree *t, uint64_t size, int small) {
  if (!small) return t->o.large_need;
  return size < 4096 ? 4096 : (size + 4095) & ~(uint64_t)4095;
}

static void set_current(struct sluice__slot *s, sluice_writer *w, sluice_reader *r) {
  pthread_mutex_lock(&s->lock);
  s->w = w;
  s->r = r;
  pthread_mutex_unlock(&s->lock);
}

static sluice_error *canceled(const sluice__tree *t, const char *rel) {
  return sluice__error(SLUICE_ERR_CANCELED, "%s '%s': canceled", t->verb, rel);
}

/* Copies one object; returns its error (NULL on success), *bytes what went.
 * as_listed: a small object is read as the listing described it; *stale
 * is set when the store refused that read (CONDITION_NOT_MATCH). */
static sluice_error *copy_once(struct sluice__slot *s, const struct sluice__item *it,
                               uint64_t *bytes, int as_listed, int *stale) {
  sluice__tree *t = s->t;
  *bytes = 0;
  if (t->dst_has_dirs && !sluice__tree_rel_is_plain(it->rel))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s '%s': the destination cannot hold this name (an empty, '.' or '..' "
                         "segment); not copied",
                         t->verb, it->path);
  char *dpath = sluice__tree_dst_path(t, it);
  if (!dpath) return sluice__error_oom();

  if (t->src == t->dst && t->src->vt->copy && !t->o.stream) {
    /* Inside one store that copies by itself (S3 CopyObject): no bytes
     * pass through here, no buffer is needed. */
    sluice_error *err = sluice_copy(t->src, it->path, dpath, t->o.wopts);
    if (!err) {
      *bytes = it->size;
      atomic_fetch_add(&t->parts, 1);
    }
    free(dpath);
    return err;
  }
  sluice_reader *r = NULL;
  sluice_writer *w = NULL;
  unsigned char *buf = NULL;
  uint64_t need = 0;
  int taken = 0;
  /* A small object as listed: read in one request, without asking the
   * store for what the listing just said. */
  int listed = as_listed && it->size <= t->o.chunk;
  sluice_metadata lm = {.size = it->size, .mtime = it->mtime, .etag = it->etag};
  sluice_error *err = listed ? sluice__reader_open_listed(t->src, it->path, &lm, &r)
                             : sluice_reader_open(t->src, it->path, NULL, &r);
  if (r) r->verify_required = t->o.verify_required;
  uint64_t size = r ? sluice_reader_size(r) : 0;
  int small = size != UINT64_MAX && size <= t->o.chunk;
  if (!err) {
    need = need_of(t, size, small);
    taken = sluice__budget_take(&t->budget, need) == 0;
    if (!taken) err = canceled(t, it->rel);
  }
  if (!err) err = sluice_writer_open(t->dst, dpath, t->o.wopts, &w);
  if (!err) {
    set_current(s, w, r);
    /* seq_cst, paired with sluice__tree_stop(): either it saw w, or this sees stop. */
    if (atomic_load(&t->stop)) sluice__writer_cancel(w);
  }
  if (!err && small) {
    if (!(buf = malloc(size ? (size_t)size : 1))) err = sluice__error_oom();
    /* Counted as write_from counts a large object's reads. */
    r->src->retries = &w->retries;
    if (!err) err = read_whole(r, buf, (size_t)size);
    r->src->retries = NULL;
    if (!err) err = sluice__reader_check_verified(r);
    if (err && listed && sluice_error_kind(err) == SLUICE_ERR_CONDITION_NOT_MATCH) *stale = 1;
    if (!err && t->rate && sluice__rate_take(t->rate, size, &t->stop)) err = canceled(t, it->rel);
    if (!err) err = sluice__writer_put(w, buf, (size_t)size);
    if (!err) *bytes = size;
  } else if (!err) {
    sluice__copy_params cp = {.readers = t->o.readers,
                              .progress_cb = large_progress,
                              .progress_userdata = s,
                              .rate = t->rate};
    err = sluice__write_from(w, r, &cp);
    if (!err) err = sluice_writer_close(w);
    if (!err) *bytes = w->bytes_in;
  }
  set_current(s, NULL, NULL);
  atomic_store(&s->moving, 0);
  s->verified = !err && r ? sluice_reader_verified(r) : NULL;
  if (w) {
    /* Every part and resent request, also of an object that failed. */
    sluice_progress wp = {.struct_size = sizeof wp};
    sluice__writer_progress(w, &wp);
    atomic_fetch_add(&t->parts, wp.parts_done);
    atomic_fetch_add(&t->retries, atomic_load(&w->retries));
  }
  free(buf);
  sluice_writer_free(w); /* aborts it unless it was committed */
  sluice_reader_free(r);
  if (taken) sluice__budget_give(&t->budget, need);
  free(dpath);
  return err;
}

static sluice_error *copy_object(struct sluice__slot *s, const struct sluice__item *it,
                                 uint64_t *bytes) {
  int stale = 0;
  sluice_error *err = copy_once(s, it, bytes, 1, &stale);
  /* Not the object listed: changed since, or a store whose listing shows
   * another ETag than its GETs compare.  Once more, as the store has it. */
  if (err && stale && !atomic_load(&s->t->stop)) {
    sluice_error_free(err);
    err = copy_once(s, it, bytes, 0, &stale);
  }
  /* Bytes that did not match the store's record of them (a flip on the
   * way): one more copy from the start.  A whole object read in one GET
   * was already fetched twice; a large one was not. */
  if (err && sluice_error_kind(err) == SLUICE_ERR_IO && sluice_error_retryable(err) &&
      !atomic_load(&s->t->stop)) {
    sluice_error_free(err);
    atomic_fetch_add(&s->t->retries, 1);
    err = copy_once(s, it, bytes, 0, &stale);
  }
  return err;
}

/* A copy, or for an item whose checksums decide (compare=checksum without
 * a listed MD5 on both sides) first that check: *action says what was
 * done. */
static sluice_error *sync_object(struct sluice__slot *s, const struct sluice__item *it,
                                 uint64_t *bytes, sluice_object_action *action) {
  sluice__tree *t = s->t;
  *action = SLUICE_OBJECT_COPIED;
  if (it->hash) {
    int same = 0;
    sluice_error *err = sluice__tree_check_same(t, it, &same);
    if (err) return err;
    if (same) {
      /* Planned as a copy: its bytes never come. */
      atomic_fetch_sub(&t->bytes_total, it->size);
      *bytes = it->size;
      *action = SLUICE_OBJECT_SKIPPED;
      return NULL;
    }
    if (t->o.dry_run) {
      *bytes = it->size;
      return NULL;
    }
  }
  return copy_object(s, it, bytes);
}

static void *worker_main(void *arg) {
  struct sluice__slot *s = arg;
  sluice__tree *t = s->t;
  struct sluice__item *it;
  while ((it = sluice__tree_pop(t))) {
    /* After a stop, what is still queued is dropped, not counted. */
    if (!atomic_load(&t->stop)) {
      sluice_error *err;
      uint64_t bytes = 0;
      sluice_object_action action = SLUICE_OBJECT_DELETED;
      s->verified = NULL;
      if (it->del) {
        err = sluice_delete(t->dst, it->path);
        bytes = it->size;
      } else {
        err = sync_object(s, it, &bytes, &action);
      }
      if (err && atomic_load(&t->stop) && sluice_error_kind(err) == SLUICE_ERR_CANCELED) {
        sluice_error_free(err); /* stopped, not failed */
      } else if (err) {
        sluice__tree_report(t, it->rel, 0, SLUICE_OBJECT_FAILED, err, NULL);
      } else {
        sluice__tree_report(t, it->rel, bytes, action, NULL,
                            action == SLUICE_OBJECT_COPIED ? s->verified : NULL);
      }
    }
    sluice__tree_item_free(it);
  }
  return NULL;
}

/* ---- the job ---- */

void sluice__tree_cancel(sluice__tree *t) {
  atomic_store(&t->canceled, 1);
  sluice__tree_stop(t);
}

static uint64_t ld(atomic_uint_fast64_t *v) { return atomic_load(v); }

sluice_error *sluice__tree_run(sluice__tree *t) {
  unsigned started = 0;
  for (; started < t->nslots; started++)
    if (pthread_create(&t->slots[started].thread, NULL, worker_main, &t->slots[started])) break;
  sluice_error *err = NULL;
  if (started == 0)
    err = sluice__error(SLUICE_ERR_UNEXPECTED, "%s: cannot start a transfer thread", t->verb);
  if (!err) err = sluice__tree_walk(t);
  if (err) {
    pthread_mutex_lock(&t->res_lock);
    if (!t->fatal)
      t->fatal = err;
    else
      sluice_error_free(err);
    pthread_mutex_unlock(&t->res_lock);
  }
  sluice__tree_close_queue(t);
  for (unsigned i = 0; i < started; i++) pthread_join(t->slots[i].thread, NULL);

  /* Every worker has ended: no lock needed from here on. */
  if (t->fatal) return sluice__error_copy(t->fatal);
  if (atomic_load(&t->canceled))
    return sluice__error(SLUICE_ERR_CANCELED, "%s '%s' -> '%s': canceled after %llu objects",
                         t->verb, t->sprefix, t->dprefix, (unsigned long long)ld(&t->done));
  uint64_t failed = ld(&t->failed);
  if (failed)
    return sluice__error(SLUICE_ERR_PARTIAL,
                         "%s '%s' -> '%s': %llu of %llu objects failed (%llu copied, %llu skipped, "
                         "%llu deleted); first: %s",
                         t->verb, t->sprefix, t->dprefix, (unsigned long long)failed,
                         (unsigned long long)ld(&t->total), (unsigned long long)ld(&t->done),
                         (unsigned long long)ld(&t->skipped), (unsigned long long)ld(&t->deleted),
                         sluice_error_message(t->first_fail));
  return NULL;
}

void sluice__tree_progress(sluice__tree *t, sluice_progress *out) {
  sluice_progress pr = {.struct_size = out->struct_size};
  uint64_t moving = 0;
  uint32_t busy = 0;
  for (unsigned i = 0; i < t->nslots; i++) {
    moving += atomic_load(&t->slots[i].moving);
    pthread_mutex_lock(&t->slots[i].lock);
    busy += t->slots[i].w != NULL;
    pthread_mutex_unlock(&t->slots[i].lock);
  }
  pr.bytes_read = pr.bytes_written = ld(&t->bytes_done) + moving;
  pr.total_bytes = ld(&t->bytes_total);
  pr.parts_done = ld(&t->parts);
  pr.parts_in_flight = busy;
  pr.retries = ld(&t->retries);
  pr.objects_done = ld(&t->done);
  pr.objects_failed = ld(&t->failed);
  pr.objects_skipped = ld(&t->skipped);
  pr.objects_deleted = ld(&t->deleted);
  pr.objects_total = ld(&t->total);
  pr.objects_would_copy = ld(&t->would_copy);
  pr.objects_would_delete = ld(&t->would_delete);
  size_t n = out->struct_size < sizeof(pr) ? out->struct_size : sizeof(pr);
  memcpy(out, &pr, n);
}

void sluice__tree_free(sluice__tree *t) {
  if (!t) return;
  for (unsigned i = 0; t->slots && i < t->nslots; i++) pthread_mutex_destroy(&t->slots[i].lock);
  free(t->slots);
  while (t->qlen) {
    sluice__tree_item_free(t->q[t->qhead]);
    t->qhead = (t->qhead + 1) % t->qcap;
    t->qlen--;
  }
  free(t->q);
  pthread_mutex_destroy(&t->qlock);
  pthread_cond_destroy(&t->qcond);
  pthread_cond_destroy(&t->qroom);
  pthread_mutex_destroy(&t->res_lock);
  sluice__budget_destroy(&t->budget);
  sluice__rate_free(t->rate);
  sluice_error_free(t->first_fail);
  sluice_error_free(t->fatal);
  sluice__tree_opts_clear(&t->o);
  free(t->sprefix);
  free(t->dprefix);
  if (t->src) sluice__operator_unref(t->src);
  if (t->dst) sluice__operator_unref(t->dst);
  free(t);
}

/* The tree as a job's work (pipeline/job.c). */
static sluice_error *tree_job_run(void *t) { return sluice__tree_run(t); }
static void tree_job_progress(void *t, sluice_progress *out) { sluice__tree_progress(t, out); }
static void tree_job_cancel(void *t) { sluice__tree_cancel(t); }
static void tree_job_free(void *t) { sluice__tree_free(t); }
static const sluice__job_work_vt tree_job = {tree_job_run, tree_job_progress, tree_job_cancel,
                                             tree_job_free};

/* dir as a normalised listing prefix: "" or "a/b/". */
static sluice_error *prefix_of(const char *what, const char *dir, char **out) {
  char *d = sluice__tree_prefix(dir);
  if (!d) return sluice__error_oom();
  sluice_error *err = sluice__path_check(what, d, SLUICE__PATH_DIR);
  if (err) {
    free(d);
    return err;
  }
  *out = d;
  return NULL;
}

sluice_error *sluice_tree_start(sluice_operator *src, const char *src_dir, sluice_operator *dst,
                                const char *dst_dir, const sluice_options *opts, sluice_job **out) {
  if (out) *out = NULL;
  if (!src || !src_dir || !dst || !dst_dir || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "tree_start: src, src_dir, dst, dst_dir and out must be non-NULL");
  sluice__tree *t = calloc(1, sizeof(*t));
  if (!t) return sluice__error_oom();
  sluice_error *err = sluice__tree_opts_parse(opts, &t->o);
  t->verb = t->o.sync ? "sync" : "copy";
  pthread_mutex_init(&t->qlock, NULL);
  pthread_cond_init(&t->qcond, NULL);
  pthread_cond_init(&t->qroom, NULL);
  pthread_mutex_init(&t->res_lock, NULL);
  sluice__budget_init(&t->budget, t->o.memory_limit);
  t->src = src;
  sluice__operator_ref(src);
  t->dst = dst;
  sluice__operator_ref(dst);
  if (!err) err = prefix_of("tree_start: source", src_dir, &t->sprefix);
  if (!err) err = prefix_of("tree_start: destination", dst_dir, &t->dprefix);
  if (!err && src == dst && !strcmp(t->sprefix, t->dprefix))
    err = sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                        "tree_start: '%s' is both the source and the destination", t->sprefix);
  if (!err) {
    t->dst_has_dirs = dst->vt->create_dir != NULL;
    t->nslots = t->o.transfers;
    t->qcap = 2 * (size_t)t->o.transfers;
    t->q = calloc(t->qcap, sizeof(*t->q));
    t->slots = calloc(t->nslots, sizeof(*t->slots));
    if (!t->slots) t->nslots = 0;
    for (unsigned i = 0; i < t->nslots; i++) {
      t->slots[i].t = t;
      pthread_mutex_init(&t->slots[i].lock, NULL);
    }
    if (!t->q || !t->slots) err = sluice__error_oom();
  }
  if (!err && t->o.bwlimit && !(t->rate = sluice__rate_new(t->o.bwlimit)))
    err = sluice__error_oom();
  if (!err) return sluice__job_start(&tree_job, t, out);
  sluice__tree_free(t);
  return err;
}
