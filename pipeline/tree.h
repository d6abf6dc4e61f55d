/* SPDX-License-Identifier: MIT */
/* Tree jobs: what the job thread (pipeline/tree.c), its queue
 * (pipeline/tree_queue.c), its walk and checks (tree_walk.c,
 * tree_compare.c) and the planning helpers (tree_plan.c) share.  Calls go
 * down that list, never up: tree_plan.c <- tree_queue.c <- tree_walk.c,
 * tree_compare.c <- tree.c. */
#ifndef SLUICE_PIPELINE_TREE_H
#define SLUICE_PIPELINE_TREE_H

#include "budget.h"
#include "pipeline.h"

enum sluice__tree_compare { SLUICE__CMP_SIZE_MTIME, SLUICE__CMP_SIZE, SLUICE__CMP_CHECKSUM };

/* sluice_tree_start()'s options, validated. */
typedef struct sluice__tree_opts {
  int sync, del, dry_run, fail_fast;
  int stream;          /* never copy inside the store, even when src == dst */
  int verify_required; /* verify=required: an unverified read fails its object */
  enum sluice__tree_compare compare;
  char **include, **exclude; /* NULL-terminated glob lists, or NULL */
  char *from, *to;           /* range of relative paths, or NULL */
  unsigned transfers;
  uint64_t memory_limit;
  uint64_t bwlimit; /* 0: none */
  size_t chunk;     /* objects up to this size take the small path */
  unsigned readers;
  uint64_t large_need;   /* budget a large object takes */
  sluice_options *wopts; /* writer options for large objects */
  sluice_object_cb object_cb;
  void *object_userdata;
} sluice__tree_opts;

/* pipeline/tree_plan.c */
sluice_error *sluice__tree_opts_parse(const sluice_options *opts, sluice__tree_opts *out);
void sluice__tree_opts_clear(sluice__tree_opts *o);
/* Whether rel passes the range and the include/exclude globs. */
int sluice__tree_selected(const sluice__tree_opts *o, const char *rel);
/* Sync: whether the destination object d already matches the source s
 * under o->compare.  For compare=checksum, what the listings cannot
 * settle a worker does (tree_compare.c): with an MD5 listed on one side
 * only, the other side's bytes decide (HASH_SRC or HASH_DST, the listed
 * MD5 in hex in md5); with a multipart ETag, the full-object CRCs the
 * stores keep (CRC); with no ETag on either side (two file trees), both
 * sides' bytes (HASH_BOTH). */
enum {
  SLUICE__TREE_DIFFERENT,
  SLUICE__TREE_SAME,
  SLUICE__TREE_HASH_SRC,
  SLUICE__TREE_HASH_DST,
  SLUICE__TREE_CRC,
  SLUICE__TREE_HASH_BOTH
};
int sluice__tree_same(const sluice__tree_opts *o, const sluice_metadata *s,
                      const sluice_metadata *d, char md5[33]);
/* Whether rel can name a file under a directory without leaving it or
 * being read as another name: no empty, "." or ".." segment. */
int sluice__tree_rel_is_plain(const char *rel);
/* dir as a listing prefix: "" or ending in '/' (malloc'd), or NULL. */
char *sluice__tree_prefix(const char *dir);

/* The job's state (pipeline/tree.c runs it) */
typedef struct sluice__tree sluice__tree;

struct sluice__item {
  int del;       /* delete the destination object, not copy */
  char *path;    /* as listed: the source object, or the destination one to delete */
  char *rel;     /* relative to the directories */
  uint64_t size; /* listed */
  int64_t mtime; /* listed, -1 unknown */
  char *etag;    /* listed, or NULL */
  /* SLUICE__TREE_HASH_SRC/DST or _CRC: checked before copying (above) */
  int hash;
  char md5[33];
};

struct sluice__slot {
  sluice__tree *t;
  pthread_t thread;
  pthread_mutex_t lock; /* w and r against cancel */
  sluice_writer *w;
  sluice_reader *r;
  atomic_uint_fast64_t moving; /* bytes of a large object sent so far */
  const char *verified;        /* how its last object's bytes were checked, or NULL */
};

struct sluice__tree {
  sluice_operator *src, *dst;
  char *sprefix, *dprefix;
  const char *verb; /* "copy" or "sync", for messages */
  sluice__tree_opts o;
  int dst_has_dirs;
  sluice__budget budget;
  sluice__rate *rate;

  pthread_mutex_t qlock;
  pthread_cond_t qcond; /* workers: an item came, or the queue closed */
  pthread_cond_t qroom; /* the dispatcher: half the queue is free again */
  unsigned qidle;       /* workers waiting on qcond */
  int qfull_wait;       /* the dispatcher waits on qroom */
  struct sluice__item **q;
  size_t qcap, qhead, qlen;
  int qclosed;

  struct sluice__slot *slots;
  unsigned nslots;

  atomic_int stop; /* cancel or fail_fast: wind everything down */
  atomic_int canceled;
  pthread_mutex_t res_lock; /* the callback and the errors below */
  sluice_error *first_fail; /* the first failed object's error */
  sluice_error *fatal;      /* a listing's error, or fail_fast's */

  atomic_uint_fast64_t done, failed, skipped, deleted, total;
  atomic_uint_fast64_t would_copy, would_delete; /* dry_run's copies and deletions */
  atomic_uint_fast64_t bytes_done, bytes_total;
  /* Finished objects' parts (one for a small or server-side copy) and the
   * requests their writers and sources resent. */
  atomic_uint_fast64_t parts, retries;
};

/* pipeline/tree_queue.c: the queue, the outcomes, stopping */

/* Counts an object's outcome and tells the callback (serialised).  Takes
 * err; with fail_fast a failure stops the job.  verified: how a copied
 * object's bytes were checked (sluice_reader_verified), or NULL. */
void sluice__tree_report(sluice__tree *t, const char *rel, uint64_t bytes,
                         sluice_object_action action, sluice_error *err, const char *verified);
/* Queues it for a worker (taken; freed if the queue is closed: -1). */
int sluice__tree_queue(sluice__tree *t, struct sluice__item *it);
void sluice__tree_item_free(struct sluice__item *it);
/* A worker's next item (taken), or NULL once the queue is closed and empty. */
struct sluice__item *sluice__tree_pop(sluice__tree *t);
/* No more items: wakes every waiting worker and the dispatcher. */
void sluice__tree_close_queue(sluice__tree *t);
/* Stops everything: cancel and fail_fast. */
void sluice__tree_stop(sluice__tree *t);

/* The destination path of an item (malloc'd), or NULL. */
char *sluice__tree_dst_path(const sluice__tree *t, const struct sluice__item *it);

/* pipeline/tree_walk.c: lists the source (and for sync the destination),
 * decides, queues; returns a listing's error. */
sluice_error *sluice__tree_walk(sluice__tree *t);

/* pipeline/tree_compare.c: for an item planned with hash set, whether the
 * destination already holds the source's bytes (*same), by reading the
 * side that lists no checksum or asking the stores for their CRCs.  With
 * nothing to compare, *same is 0: the object is copied. */
sluice_error *sluice__tree_check_same(sluice__tree *t, const struct sluice__item *it, int *same);

/* pipeline/tree.c: the workers and the job.  sluice__tree_run runs the
 * whole job on the calling thread (the job's); returns its outcome. */
sluice_error *sluice__tree_run(sluice__tree *t);
void sluice__tree_cancel(sluice__tree *t);
void sluice__tree_progress(sluice__tree *t, sluice_progress *out);
void sluice__tree_free(sluice__tree *t);

#endif
