/* SPDX-License-Identifier: MIT */
/* Tree jobs: what the job thread (pipeline/tree.c) and the planning
 * helpers (pipeline/tree_plan.c) share. */
#ifndef SLUICE_PIPELINE_TREE_H
#define SLUICE_PIPELINE_TREE_H

#include "pipeline.h"

enum sluice__tree_compare { SLUICE__CMP_SIZE_MTIME, SLUICE__CMP_SIZE, SLUICE__CMP_CHECKSUM };

/* sluice_tree_start()'s options, validated. */
typedef struct sluice__tree_opts {
  int sync, del, dry_run, fail_fast;
  int stream;                /* never copy inside the store, even when src == dst */
  enum sluice__tree_compare compare;
  char **include, **exclude; /* NULL-terminated glob lists, or NULL */
  char *from, *to;           /* range of relative paths, or NULL */
  unsigned transfers;
  uint64_t memory_limit;
  uint64_t bwlimit;          /* 0: none */
  size_t chunk;              /* objects up to this size take the small path */
  unsigned readers;
  uint64_t large_need;       /* budget a large object takes */
  sluice_options *wopts;     /* writer options for large objects */
  sluice_object_cb object_cb;
  void *object_userdata;
} sluice__tree_opts;

/* pipeline/tree_plan.c */
sluice_error *sluice__tree_opts_parse(const sluice_options *opts, sluice__tree_opts *out);
void sluice__tree_opts_clear(sluice__tree_opts *o);
/* Whether rel passes the range and the include/exclude globs. */
int sluice__tree_selected(const sluice__tree_opts *o, const char *rel);
/* Sync: whether the destination object d already matches the source s
 * under o->compare. */
int sluice__tree_same(const sluice__tree_opts *o, const sluice_metadata *s,
                      const sluice_metadata *d);
/* Whether rel can name a file under a directory without leaving it or
 * being read as another name: no empty, "." or ".." segment. */
int sluice__tree_rel_is_plain(const char *rel);
/* dir as a listing prefix: "" or ending in '/' (malloc'd), or NULL. */
char *sluice__tree_prefix(const char *dir);

/* pipeline/tree.c */
typedef struct sluice__tree sluice__tree;
/* Runs the whole job on the calling thread (the job's); returns its outcome. */
sluice_error *sluice__tree_run(sluice__tree *t);
void sluice__tree_cancel(sluice__tree *t);
void sluice__tree_progress(sluice__tree *t, sluice_progress *out);
void sluice__tree_free(sluice__tree *t);

/* pipeline/job.c: a job whose thread runs sluice__tree_run(t); takes t. */
sluice_error *sluice__job_start_tree(sluice__tree *t, sluice_job **out);

#endif
