/* SPDX-License-Identifier: MIT */
/* Jobs: work (a copy, a tree transfer) on a thread of its own, ending on an
 * fd.  Every kind shares this handle, so a daemon polls, cancels and frees
 * them alike; the job knows a kind only through its sluice__job_work_vt. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error.h"
#include "pipeline.h"

struct sluice_job {
  const sluice__job_work_vt *vt;
  void *work;
  pthread_t thread;
  int efd;
  atomic_int done;
  pthread_mutex_t lock; /* serialises wait() callers around the join */
  int joined;
  sluice_error *result; /* written by the job thread before done is set */
};

static void *job_main(void *arg) {
  sluice_job *j = arg;
  j->result = j->vt->run(j->work);
  /* Release: a thread that sees done also sees result. */
  atomic_store_explicit(&j->done, 1, memory_order_release);
  uint64_t one = 1;
  /* The counter is never read, so it stays readable from here on. */
  while (write(j->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  return NULL;
}

sluice_error *sluice__job_start(const sluice__job_work_vt *vt, void *work, sluice_job **out) {
  sluice_error *err;
  sluice_job *j = calloc(1, sizeof(*j));
  if (!j) {
    vt->free(work);
    return sluice__error_oom();
  }
  j->vt = vt;
  j->work = work;
  j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->efd < 0) {
    err = sluice__error_errno(errno, "job_start: eventfd");
    goto fail;
  }
  pthread_mutex_init(&j->lock, NULL);
  int rc = pthread_create(&j->thread, NULL, job_main, j);
  if (rc) {
    close(j->efd);
    pthread_mutex_destroy(&j->lock);
    err = sluice__error_errno(rc, "job_start: cannot start the job thread");
    goto fail;
  }
  *out = j;
  return NULL;
fail:
  vt->free(work);
  free(j);
  return err;
}

/* ---- a copy job: write_from and close ---- */

typedef struct copy_work {
  sluice_writer *w; /* the caller's, as is r */
  sluice_reader *r;
  sluice__copy_params params;
} copy_work;

static sluice_error *copy_run(void *work) {
  copy_work *c = work;
  sluice_error *err = sluice__write_from(c->w, c->r, &c->params);
  if (!err) err = sluice_writer_close(c->w);
  return err;
}
static void copy_progress(void *work, sluice_progress *out) {
  sluice__writer_progress(((copy_work *)work)->w, out);
}
static void copy_cancel(void *work) { sluice__writer_cancel(((copy_work *)work)->w); }
static void copy_free(void *work) {
  copy_work *c = work;
  sluice__copy_params_clear(&c->params);
  free(c);
}
static const sluice__job_work_vt copy_job = {copy_run, copy_progress, copy_cancel, copy_free};

sluice_error *sluice_job_start(sluice_writer *w, sluice_reader *r, const sluice_options *opts,
                               sluice_job **out) {
  if (out) *out = NULL;
  if (!w || !r || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "job_start: writer, reader and out must be non-NULL");
  copy_work *c = calloc(1, sizeof(*c));
  if (!c) return sluice__error_oom();
  sluice_error *err = sluice__copy_params_parse(opts, &c->params);
  if (err) {
    free(c);
    return err;
  }
  c->w = w;
  c->r = r;
  return sluice__job_start(&copy_job, c, out);
}

/* ---- what every job offers ---- */

int sluice_job_fd(const sluice_job *j) { return j ? j->efd : -1; }

int sluice_job_done(const sluice_job *j) {
  return j ? atomic_load_explicit(&j->done, memory_order_acquire) : 0;
}

sluice_error *sluice_job_progress(const sluice_job *j, sluice_progress *out) {
  if (!j || !out || out->struct_size == 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "job_progress: job and out must be non-NULL, out->struct_size set");
  j->vt->progress(j->work, out);
  return NULL;
}

void sluice_job_cancel(sluice_job *j) {
  if (!j || sluice_job_done(j)) return;
  j->vt->cancel(j->work);
}

sluice_error *sluice_job_wait(sluice_job *j) {
  if (!j) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "job_wait: job is NULL");
  pthread_mutex_lock(&j->lock);
  if (!j->joined) {
    pthread_join(j->thread, NULL);
    j->joined = 1;
  }
  pthread_mutex_unlock(&j->lock);
  return sluice__error_copy(j->result);
}

void sluice_job_free(sluice_job *j) {
  if (!j) return;
  sluice_job_cancel(j);
  sluice_error_free(sluice_job_wait(j));
  close(j->efd);
  sluice_error_free(j->result);
  j->vt->free(j->work);
  pthread_mutex_destroy(&j->lock);
  free(j);
}
