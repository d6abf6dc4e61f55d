/* SPDX-License-Identifier: MIT */
/* Jobs: a copy (write_from + close) or a tree transfer (pipeline/tree.c)
 * on a thread of their own, ending on an fd.  Both kinds share this
 * handle, so a daemon polls, cancels and frees them alike. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error.h"
#include "pipeline.h"
#include "reader.h"
#include "tree.h"

struct sluice_job {
  sluice_writer *w; /* a copy job: w, r and params */
  sluice_reader *r;
  sluice__copy_params params;
  sluice__tree *tree; /* a tree job */
  pthread_t thread;
  int efd;
  atomic_int done;
  pthread_mutex_t lock; /* serialises wait() callers around the join */
  int joined;
  sluice_error *result; /* written by the job thread before done is set */
};

static void *job_main(void *arg) {
  sluice_job *j = arg;
  sluice_error *err;
  if (j->tree) {
    err = sluice__tree_run(j->tree);
  } else {
    err = sluice__write_from(j->w, j->r, &j->params);
    if (!err) err = sluice_writer_close(j->w);
  }
  j->result = err;
  /* Release: a thread that sees done also sees result. */
  atomic_store_explicit(&j->done, 1, memory_order_release);
  uint64_t one = 1;
  /* The counter is never read, so it stays readable from here on. */
  while (write(j->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  return NULL;
}

/* Starts j's thread; frees j (not what it points to) on failure. */
static sluice_error *job_launch(sluice_job *j, sluice_job **out) {
  sluice_error *err;
  j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (j->efd < 0) {
    err = sluice__error_errno(errno, "job_start: eventfd");
    free(j);
    return err;
  }
  pthread_mutex_init(&j->lock, NULL);
  int rc = pthread_create(&j->thread, NULL, job_main, j);
  if (rc) {
    close(j->efd);
    pthread_mutex_destroy(&j->lock);
    free(j);
    return sluice__error_errno(rc, "job_start: cannot start the job thread");
  }
  *out = j;
  return NULL;
}

sluice_error *sluice_job_start(sluice_writer *w, sluice_reader *r, const sluice_options *opts,
                               sluice_job **out) {
  if (out) *out = NULL;
  if (!w || !r || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "job_start: writer, reader and out must be non-NULL");
  sluice_job *j = calloc(1, sizeof(*j));
  if (!j) return sluice__error_oom();
  sluice_error *err = sluice__copy_params_parse(opts, &j->params);
  if (err) {
    free(j);
    return err;
  }
  j->w = w;
  j->r = r;
  sluice__copy_params p = j->params;
  err = job_launch(j, out);
  if (err) sluice__copy_params_clear(&p);
  return err;
}

sluice_error *sluice__job_start_tree(sluice__tree *t, sluice_job **out) {
  sluice_job *j = calloc(1, sizeof(*j));
  if (!j) {
    sluice__tree_free(t);
    return sluice__error_oom();
  }
  j->tree = t;
  sluice_error *err = job_launch(j, out);
  if (err) sluice__tree_free(t);
  return err;
}

int sluice_job_fd(const sluice_job *j) { return j ? j->efd : -1; }

int sluice_job_done(const sluice_job *j) {
  return j ? atomic_load_explicit(&j->done, memory_order_acquire) : 0;
}

sluice_error *sluice_job_progress(const sluice_job *j, sluice_progress *out) {
  if (!j || !out || out->struct_size == 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "job_progress: job and out must be non-NULL, out->struct_size set");
  if (j->tree)
    sluice__tree_progress(j->tree, out);
  else
    sluice__writer_progress(j->w, out);
  return NULL;
}

void sluice_job_cancel(sluice_job *j) {
  if (!j || sluice_job_done(j)) return;
  if (j->tree)
    sluice__tree_cancel(j->tree);
  else
    sluice__writer_cancel(j->w);
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
  sluice__tree_free(j->tree);
  sluice__copy_params_clear(&j->params);
  pthread_mutex_destroy(&j->lock);
  free(j);
}
