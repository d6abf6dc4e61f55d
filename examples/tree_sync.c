/* SPDX-License-Identifier: MIT */
/*
 * tree_sync: keep a directory or key prefix in step with another, the way a
 * nightly backup does it.
 *
 *     tree_sync [--delete] SRC_URI DST_URI
 *
 *     tree_sync /srv/photos s3://backup/photos
 *
 * sluice_tree_start() lists both sides as streams, merges them in byte
 * order and copies only what is missing or differs (size and mtime), with
 * 16 objects in flight and one 256 MiB memory budget however many objects
 * there are.  It returns a job at once: the same sluice_job as a single
 * copy, so its fd goes into the daemon's poll() loop.  Each failed object
 * is reported through the object callback; the others go on.
 *
 * Exit status: 0 in step, 1 failed (some objects, or the whole job),
 * 2 bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <sluice.h>

/* On one of the job's threads, one call at a time: keep it short. */
static void on_object(const sluice_object_result *r, void *userdata) {
  (void)userdata;
  if (sluice_object_result_action(r) == SLUICE_OBJECT_FAILED)
    fprintf(stderr, "tree_sync: %s: %s\n", sluice_object_result_path(r),
            sluice_error_message(sluice_object_result_error(r)));
}

static int report(const char *what, sluice_error *err) {
  fprintf(stderr, "tree_sync: %s: %s\n", what, sluice_error_message(err));
  sluice_error_free(err);
  return 1;
}

int main(int argc, char **argv) {
  int del = argc == 4 && !strcmp(argv[1], "--delete");
  if (argc != 3 && !del) {
    fprintf(stderr, "usage: tree_sync [--delete] SRC_URI DST_URI\n");
    return 2;
  }
  const char *src_uri = argv[argc - 2], *dst_uri = argv[argc - 1];
  int status = 1;
  sluice_error *err = NULL;
  sluice_operator *src = NULL, *dst = NULL;
  char *src_dir = NULL, *dst_dir = NULL;
  sluice_options *opts = sluice_options_new();
  sluice_job *job = NULL;
  if (!opts) {
    fprintf(stderr, "tree_sync: out of memory\n");
    return 1;
  }

  if ((err = sluice_operator_from_uri(src_uri, NULL, &src, &src_dir))) {
    status = report(src_uri, err);
    goto out;
  }
  if ((err = sluice_operator_from_uri(dst_uri, NULL, &dst, &dst_dir))) {
    status = report(dst_uri, err);
    goto out;
  }
  if ((err = sluice_options_set(opts, "mode", "sync")) ||
      (err = sluice_options_set(opts, "delete", del ? "true" : "false")) ||
      (err = sluice_options_set_object_cb(opts, on_object, NULL)) ||
      (err = sluice_tree_start(src, src_dir, dst, dst_dir, opts, &job))) {
    status = report("start", err);
    goto out;
  }

  /* A daemon would poll its own descriptors beside this one. */
  struct pollfd pfd = {.fd = sluice_job_fd(job), .events = POLLIN};
  while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
    ;
  sluice_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  if ((err = sluice_job_progress(job, &p))) {
    status = report("progress", err);
    goto out;
  }
  fprintf(stderr,
          "%" PRIu64 " copied, %" PRIu64 " already in step, %" PRIu64 " deleted, %" PRIu64
          " failed (%" PRIu64 " bytes)\n",
          p.objects_done, p.objects_skipped, p.objects_deleted, p.objects_failed, p.bytes_written);
  /* Ended: wait() returns at once with the outcome (SLUICE_ERR_PARTIAL when
   * some objects failed). */
  if ((err = sluice_job_wait(job)))
    status = report("sync", err);
  else
    status = 0;

out:
  sluice_job_free(job); /* cancels and waits if it is still running */
  sluice_options_free(opts);
  sluice_free(src_dir);
  sluice_free(dst_dir);
  sluice_operator_free(src);
  sluice_operator_free(dst);
  return status;
}
