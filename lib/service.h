/* SPDX-License-Identifier: MIT */
/*
 * The one interface every service implements (fs, memory, s3, http).  The operator, reader, writer and pipeline know only this table,
 * never a service's internals.
 *
 * Paths reach a service exactly as the caller gave them, checked only by
 * sluice__path_check() (lib/path.c): not NULL, at most 4096 bytes, no
 * control character; "" is the root; a trailing '/' means a directory.
 * Nothing else is rewritten, because an object store's key is used byte
 * for byte: "a//b", "a/./b", "a/../d" and "/x" are keys of their own on
 * s3 and memory.  A service that maps paths onto files applies its own
 * rules and refuses what names no file as given, never mapping it onto
 * another name: fs refuses a leading '/', empty components, "." and ".."
 * (sluice__path_file_rules), with its openat2(RESOLVE_BENEATH) containment
 * as the second guard; http ignores a leading '/' and then does the same.
 *
 * Listers yield paths in ascending byte order (see sluice_list in
 * sluice.h): a sync merges two listings in one pass on that promise.
 */
#ifndef SLUICE_LIB_SERVICE_H
#define SLUICE_LIB_SERVICE_H

#include <stdatomic.h>
#include <stdint.h>

#include "bufpool.h"
#include "sluice.h"

/* ---- metadata and listing (lib/metadata.c) ---- */
struct sluice_metadata {
  uint64_t size;
  int is_dir;
  int64_t mtime;      /* -1 unknown */
  char *etag;         /* malloc'd or NULL */
  char *content_type; /* malloc'd or NULL */
  /* A full-object CRC the store keeps (a stat may fill it): its
   * sluice__ck_alg (lib/checksum.h), 0 for none, and its value. */
  int crc_alg;
  uint64_t crc;
  /* User metadata (s3: x-amz-meta-*): nuser pairs, user[2i] the name and
   * user[2i+1] the value, all malloc'd; NULL when none. */
  char **user;
  size_t nuser;
};
sluice_metadata *sluice__metadata_new(void);
void sluice__metadata_clear(sluice_metadata *m); /* frees the strings */
/* Replaces m's user metadata with the pairs in pairs[0..len): name NUL
 * value NUL, repeated (len 0: none).  OUT_OF_MEMORY leaves m without any. */
sluice_error *sluice__metadata_set_user(sluice_metadata *m, const char *pairs, size_t len);

/* A service's lister: next() sets *path to the entry's full path from the
 * root (malloc'd, caller frees; directories end in '/') and overwrites every
 * field of meta (which the caller has cleared), or sets *path = NULL at the
 * end. */
typedef struct sluice__list sluice__list;
struct sluice__list_vt {
  sluice_error *(*next)(sluice__list *l, char **path, sluice_metadata *meta);
  void (*free)(sluice__list *l);
};
struct sluice__list {
  const struct sluice__list_vt *vt;
};

/* The next path of l (*path_out NULL at the end), its metadata dropped:
 * for callers that act on names only, such as a recursive delete. */
sluice_error *sluice__list_next_path(sluice__list *l, char **path_out);

/* ---- multipart uploads left open (lib/uploads.c) ---- */

/* A service's upload lister: next() sets *path (malloc'd, from the root),
 * *upload_id (malloc'd) and *initiated (seconds since the epoch, -1
 * unknown), or *path = NULL at the end. */
typedef struct sluice__upload_list sluice__upload_list;
struct sluice__upload_list_vt {
  sluice_error *(*next)(sluice__upload_list *l, char **path, char **upload_id, int64_t *initiated);
  void (*free)(sluice__upload_list *l);
};
struct sluice__upload_list {
  const struct sluice__upload_list_vt *vt;
};

/* ---- sources: what a reader reads from ---- */
typedef struct sluice__source sluice__source;
struct sluice__source_vt {
  /* Sequential read from the source's cursor; *n = 0 at the end. */
  sluice_error *(*read)(sluice__source *s, void *buf, size_t len, size_t *n);
  /* Positioned read at off (relative to the start of the opened range),
   * safe to call from several threads at once; short only at the end.
   * NULL when the source is a stream. */
  sluice_error *(*pread)(sluice__source *s, void *buf, size_t len, uint64_t off, size_t *n);
  void (*free)(sluice__source *s);
  /* Optional, any thread: a read blocked in this source (or any later one)
   * returns a canceled error soon.  Streams that can wait forever for a
   * peer (a pipe, a socket) need it so that cancel ends a copy. */
  void (*interrupt)(sluice__source *s);
  /* Optional, any thread, after the reads: how the bytes read were checked
   * against the store's own record of the object ("crc64nvme", "crc32c",
   * "crc32", "md5", "etag-md5"; static), once every byte of it matched.
   * NULL when not (yet) verified, with *why (static, may be NULL) saying
   * why not when known.  A NULL entry: never verified. */
  const char *(*verified)(sluice__source *s, const char **why);
  /* Optional, before the reads: whether a read of every byte will be
   * checked (1), or cannot be (0, *why as above).  A NULL entry: 0. */
  int (*checkable)(sluice__source *s, const char **why);
  /* Optional.  on = 1: a reading side is about to claim every byte from
   * from to the end in ascending order, on threads that each take their
   * buffer first and finish their read without waiting for another
   * (write_from's readers, the read-ahead); a source that checks bytes in
   * order may then make a read wait for the reads before it.  on = 0:
   * that side has stopped and all its reads have returned; no read may
   * wait from then on.  Called with no read in progress. */
  void (*claims)(sluice__source *s, uint64_t from, int on);
};
struct sluice__source {
  const struct sluice__source_vt *vt;
  uint64_t size;    /* bytes in the opened range, UINT64_MAX unknown */
  const char *path; /* for messages; owned by the source */
  /* Set by the copy engine while it reads the source (NULL otherwise):
   * every request the source sends again adds one (sluice_progress.retries). */
  atomic_uint_fast64_t *retries;
};

/* ---- sinks: what a writer writes to ---- */

/* A sink is driven by the writer's worker threads.  Two shapes:
 *
 * synchronous (write_part set): a worker calls write_part() and the part is
 * done when it returns; one part in flight per worker thread.  fs, memory.
 *
 * asynchronous (submit/drive/wake set): a worker submit()s up to
 * per_worker parts and then sleeps in drive(), which returns after parts
 * finish (each reported with the sink's part_done) or after wake() is
 * called from another thread (new chunks queued, or cancel).  This is how
 * one thread keeps many requests in flight through a libcurl multi handle.
 *
 * `concurrent` counts parts in flight, so the writer starts
 * ceil(concurrent / per_worker) workers.
 */
typedef struct sluice__sink sluice__sink;
struct sluice__sink_vt {
  sluice_error *(*write_part)(sluice__sink *s, const sluice__chunk *c);

  sluice_error *(*worker_init)(sluice__sink *s, void **wctx);
  void (*submit)(sluice__sink *s, void *wctx, sluice__chunk *c);
  void (*drive)(sluice__sink *s, void *wctx);
  void (*wake)(sluice__sink *s, void *wctx); /* any thread */
  /* Ends every part still in flight with a canceled error, then frees. */
  void (*worker_fini)(sluice__sink *s, void *wctx);

  /* The source's size when known, before the first chunk: a sink may raise
   * s->chunk here (S3's 10,000-part limit).  Optional. */
  sluice_error *(*size_hint)(sluice__sink *s, uint64_t size);
  /* Every part was written: make the object visible. */
  sluice_error *(*commit)(sluice__sink *s, uint64_t total_size, uint64_t nparts);
  /* Optional: the whole object (len <= chunk) from one buffer in one
   * request on the caller's thread, committed when it returns; instead of
   * parts and commit.  Without it, a synchronous sink gets write_part and
   * commit on the caller's thread. */
  sluice_error *(*put)(sluice__sink *s, const void *buf, size_t len);
  /* Optional, any thread: a commit in progress (or any later request)
   * stops soon with a canceled error.  Used by a job's cancel. */
  void (*interrupt)(sluice__sink *s);
  /* Discard everything written so far.  Safe after a failed commit. */
  void (*abort)(sluice__sink *s);
  void (*free)(sluice__sink *s);
};
struct sluice__sink {
  const struct sluice__sink_vt *vt;
  size_t chunk;        /* part size; the writer fills chunks of this */
  unsigned per_worker; /* most parts one worker keeps in flight (1 for sync) */
  int ordered;         /* parts must reach write_part in index order */
  /* Most parts in flight at once, whatever `concurrent` asks (0: no limit).
   * A local file takes 1: parallel pwrites into one file queue on its inode
   * lock and spin (BENCHMARKS.md: 2-5x slower and unsteady), while the
   * readers keep fetching in parallel.  An fd takes parts in order anyway. */
  unsigned max_in_flight;
  const char *path; /* for messages; owned by the sink */
  /* The seam to the pipeline, set by it (pipeline/workers.c) before the
   * first part: an asynchronous sink calls part_done, on the worker thread
   * that drives the part, when the part has finished for good (after its
   * retries; takes err). */
  void (*part_done)(sluice__chunk *c, sluice_error *err);
  /* Set by the writer for the sink's life (NULL: not counted): every request
   * the sink sends again (a part, the commit, the abort) adds one
   * (sluice_progress.retries). */
  atomic_uint_fast64_t *retries;
};

/* What the writer layer has validated for the sink. */
typedef struct sluice__write_params {
  size_t chunk;
  unsigned concurrent;
  const char *content_type; /* NULL: not given */
  int if_not_exists;
  const sluice_options *opts; /* for the service's own writer options */
} sluice__write_params;

/* ---- the service table ---- */
typedef struct sluice__service_vt {
  const char *scheme;
  /* Writer options this service accepts beyond the generic ones. */
  const char *const *writer_keys;
  /* Operator options it accepts. */
  const char *const *config_keys;
  sluice_error *(*open)(const sluice_options *config, void **svc);
  void (*close)(void *svc);
  sluice_error *(*stat)(void *svc, const char *path, sluice_metadata *out);
  /* Deleting a missing object succeeds. */
  sluice_error *(*remove)(void *svc, const char *path);
  /* NULL when the service has no directories. */
  sluice_error *(*create_dir)(void *svc, const char *path);
  sluice_error *(*list)(void *svc, const char *dir, int recursive, sluice__list **out);
  /* length UINT64_MAX: to the end. */
  sluice_error *(*open_source)(void *svc, const char *path, uint64_t offset, uint64_t length,
                               sluice__source **out);
  /* Optional: the whole object as a listing just gave it (size, ETag,
   * mtime), without asking the store again: a tree job then reads a small
   * object in one request, not two.  Reads fail with CONDITION_NOT_MATCH
   * when the object is no longer the one listed. */
  sluice_error *(*open_source_listed)(void *svc, const char *path, const sluice_metadata *listed,
                                      sluice__source **out);
  sluice_error *(*open_sink)(void *svc, const char *path, const sluice__write_params *p,
                             sluice__sink **out);
  /* Deletes dir ("a/b/") and everything under it; missing: success.  NULL:
   * the operator lists recursively and deletes object by object. */
  sluice_error *(*remove_all)(void *svc, const char *dir);
  /* Copies src to dst inside the service.  NULL: the operator streams it
   * through a source and a sink. */
  sluice_error *(*copy)(void *svc, const char *src, const char *dst, const sluice__write_params *p);
  /* Moves the file src to dst in one step.  NULL: sluice_rename copies and
   * deletes. */
  sluice_error *(*rename)(void *svc, const char *src, const char *dst);
  /* NULL when the service has no signed URLs. */
  sluice_error *(*presign)(void *svc, const char *method, const char *path, uint64_t expires,
                           char **url);
  /* Multipart uploads in progress whose path starts with prefix, and
   * aborting one.  NULL when the service has no multipart uploads. */
  sluice_error *(*list_uploads)(void *svc, const char *prefix, sluice__upload_list **out);
  sluice_error *(*abort_upload)(void *svc, const char *path, const char *upload_id);
} sluice__service_vt;

extern const sluice__service_vt sluice__fs_service;
extern const sluice__service_vt sluice__memory_service;

#endif
