/* SPDX-License-Identifier: MIT */
/*
 * libsluice: stream data between storage services with bounded memory.
 *
 * Conventions that hold for every function below (read these once):
 *
 * Handles.  Every type is opaque.  Callers hold pointers and never see a
 * layout, so new fields never break the ABI.  A handle is freed by the
 * matching sluice_*_free(); passing NULL to any *_free is a no-op.
 *
 * Errors.  Every fallible function returns a `sluice_error *`: NULL means
 * success; anything else is a newly allocated error that the caller owns and
 * releases with sluice_error_free().  An error keeps its kind
 * (sluice_error_kind()) all the way up, carries a retryable flag and a
 * NUL-terminated message naming the operation, the path and the cause.  On
 * failure, out-parameters are set to NULL/0.  No function aborts the process
 * on a NULL or malformed argument: it returns SLUICE_ERR_INVALID_ARGUMENT.
 * When even the error cannot be allocated, a static out-of-memory error is
 * returned; sluice_error_free() on it is a no-op, so callers need not care.
 *
 * Options.  Options are name/value pairs on an opaque sluice_options object
 * (setters, not a struct), so adding an option never changes the ABI and a
 * program built against an older header keeps working.  A consumer rejects
 * names it does not know with SLUICE_ERR_INVALID_ARGUMENT, so a typo is an
 * error rather than a silently ignored setting.
 *
 * Threads.  Unless a function says otherwise, an operator may be used from
 * any number of threads at once; a reader, writer or lister belongs to one
 * thread at a time (the caller serialises); a job may be queried and
 * cancelled from any thread.
 *
 * Paths.  Paths are relative to the operator's root; a leading '/' is
 * ignored; a trailing '/' names a directory.  ".." never escapes the root.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SLUICE_BUILDING) && defined(__GNUC__)
#define SLUICE_EXTERN __attribute__((visibility("default")))
#else
#define SLUICE_EXTERN
#endif

#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0

/* "0.1.0".  Static storage; any thread. */
SLUICE_EXTERN const char *sluice_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum sluice_errkind {
  SLUICE_OK = 0,
  SLUICE_ERR_NOT_FOUND,
  SLUICE_ERR_PERMISSION_DENIED,
  SLUICE_ERR_ALREADY_EXISTS,
  SLUICE_ERR_IS_A_DIRECTORY,
  SLUICE_ERR_INVALID_ARGUMENT,
  SLUICE_ERR_CONFIG_INVALID,
  SLUICE_ERR_UNSUPPORTED,
  SLUICE_ERR_RATE_LIMITED,
  SLUICE_ERR_CONDITION_NOT_MATCH,
  SLUICE_ERR_RANGE_NOT_SATISFIABLE,
  SLUICE_ERR_IO,
  SLUICE_ERR_NETWORK,
  SLUICE_ERR_TIMEOUT,
  SLUICE_ERR_CANCELED,
  SLUICE_ERR_OUT_OF_MEMORY,
  SLUICE_ERR_UNEXPECTED,
  /* A tree job (sluice_tree_start) ended with some objects failed and the
   * rest done; the message gives the counts and the first failure. */
  SLUICE_ERR_PARTIAL
} sluice_errkind;

typedef struct sluice_error sluice_error;

/* Short constant name of a kind ("not found").  Static; any thread. */
SLUICE_EXTERN const char *sluice_strerror(sluice_errkind kind);
/* Accessors.  NULL means success: kind SLUICE_OK, message "ok", not
 * retryable.  The message is owned by the error and lives until it is
 * freed.  Any thread. */
SLUICE_EXTERN sluice_errkind sluice_error_kind(const sluice_error *err);
SLUICE_EXTERN const char *sluice_error_message(const sluice_error *err);
SLUICE_EXTERN int sluice_error_retryable(const sluice_error *err);
/* HTTP status behind the error, or 0 when there was none. */
SLUICE_EXTERN int sluice_error_http_status(const sluice_error *err);
SLUICE_EXTERN void sluice_error_free(sluice_error *err);

/* Frees memory the library returned to the caller (strings, buffers). */
SLUICE_EXTERN void sluice_free(void *ptr);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct sluice_options sluice_options;

/* Progress of a copy; see sluice_job_progress().  Fields may be added at
 * the end only; struct_size tells the library how much the caller has. */
typedef struct sluice_progress {
  size_t struct_size;        /* caller sets to sizeof(sluice_progress) */
  uint64_t bytes_read;       /* read from the source so far */
  uint64_t bytes_written;    /* acknowledged by the destination */
  uint64_t total_bytes;      /* UINT64_MAX when the source size is unknown */
  uint64_t parts_done;
  uint32_t parts_in_flight;
  uint32_t ring_used;        /* chunks queued between readers and workers */
  uint32_t ring_capacity;
  uint64_t retries;
  /* Tree jobs (sluice_tree_start); 0 for a single-object job.  Each object
   * the job considers ends in exactly one of done (copied), skipped,
   * deleted or failed; objects_total counts those seen so far (listing is
   * streamed, so it grows until the listings end). */
  uint64_t objects_done;
  uint64_t objects_failed;
  uint64_t objects_skipped;
  uint64_t objects_deleted;
  uint64_t objects_total;
} sluice_progress;

/* Called once per completed chunk, on a worker thread, while the copy runs.
 * Keep it short: the worker waits for it.  It must not call back into the
 * job's writer or reader. */
typedef void (*sluice_progress_cb)(const sluice_progress *progress, void *userdata);

/* Returns a new empty options object (NULL only when out of memory).  The
 * caller owns it; consumers copy what they need, so it may be freed right
 * after the call it was passed to.  One thread at a time. */
SLUICE_EXTERN sluice_options *sluice_options_new(void);
SLUICE_EXTERN void sluice_options_free(sluice_options *opts);
/* Sets name to a copy of value (replacing an earlier value).  Sizes accept
 * the suffixes K, M, G, KiB, MiB, GiB (all powers of 1024).  Errors:
 * invalid argument for NULL or empty name, out of memory. */
SLUICE_EXTERN sluice_error *sluice_options_set(sluice_options *opts, const char *name,
                                               const char *value);
SLUICE_EXTERN sluice_error *sluice_options_set_uint(sluice_options *opts, const char *name,
                                                    uint64_t value);
/* The value last set for name, or NULL.  Owned by opts. */
SLUICE_EXTERN const char *sluice_options_get(const sluice_options *opts, const char *name);
/* Progress callback for sluice_write_from() and sluice_job_start(). */
SLUICE_EXTERN sluice_error *sluice_options_set_progress(sluice_options *opts,
                                                        sluice_progress_cb cb,
                                                        void *userdata);

/* Writer and copy options (all optional):
 *   chunk          bytes per chunk/part            default 8 MiB (64 KiB..5 GiB)
 *   concurrent     chunks in flight to the service default 4     (1..1024)
 *   queue_depth    chunks queued between stages    default 4     (1..1024)
 *   readers        source threads in write_from    default 1     (1..64)
 *   content_type   stored type, where supported
 *   if_not_exists  "true": fail with ALREADY_EXISTS rather than replace
 *   cache_control  s3: the object's Cache-Control
 *   user_metadata  s3: "name=value&name2=value2" (up to 8), as x-amz-meta-*
 * Buffer memory of a writer is at most chunk x (queue_depth + concurrent +
 * readers), whatever the object size.
 * Reader options: offset, length (a byte range; length absent = to the end),
 * and for sequential reads of a large object, concurrent (default 1) and
 * chunk (default 8 MiB): concurrent > 1 fetches the next chunks in parallel
 * (ranged GETs on S3) and delivers them in order, holding at most
 * 2 x concurrent chunks. */

/* ------------------------------------------------------------------ */
/* Operator                                                            */
/* ------------------------------------------------------------------ */

typedef struct sluice_operator sluice_operator;
typedef struct sluice_metadata sluice_metadata;
typedef struct sluice_lister sluice_lister;
typedef struct sluice_entry sluice_entry;

/* Opens a service by scheme: "fs" (option root, required: an existing
 * directory), "memory" (no options; a private, thread-safe store), "s3"
 * (bucket, region, endpoint, credentials...: see README) or "http"
 * (endpoint; read-only).
 * s3 and http take option stall_timeout: seconds, default 50, 0..86400 (0:
 * none).  A request that moves no byte for that long, across all its
 * attempts, fails with SLUICE_ERR_TIMEOUT and is not tried again, so a copy
 * to a server that stops answering ends in about two budgets (the transfer,
 * then the abort of a multipart upload) instead of waiting out every
 * attempt's low-speed window.  A transfer whose bytes keep moving, however
 * slowly overall, is never cut by it.
 * *out is owned by the caller: sluice_operator_free().  Errors: invalid
 * argument, unsupported (unknown scheme), config invalid (bad or missing
 * option, naming it). */
SLUICE_EXTERN sluice_error *sluice_operator_new(const char *scheme, const sluice_options *opts,
                                                sluice_operator **out);
/* Opens the service a URI names and returns the path inside it:
 *   /abs/path, file:///abs/path, fs:///abs/path -> fs rooted at "/"
 *   memory://path, mem://path                  -> a new memory store
 *   s3://bucket/key                            -> s3 (opts: credentials, region...)
 *   http://host[:port]/path, https://...       -> http (read-only)
 * *path_out is owned by the caller (sluice_free).  opts may be NULL. */
SLUICE_EXTERN sluice_error *sluice_operator_from_uri(const char *uri, const sluice_options *opts,
                                                     sluice_operator **out, char **path_out);
/* Frees the operator.  Readers, writers, listers and jobs opened on it keep
 * it alive until they are freed, so the order of frees does not matter. */
SLUICE_EXTERN void sluice_operator_free(sluice_operator *op);
/* "fs", "memory", ...  Owned by op. */
SLUICE_EXTERN const char *sluice_operator_scheme(const sluice_operator *op);

/* Metadata of path.  *out owned by caller (sluice_metadata_free). */
SLUICE_EXTERN sluice_error *sluice_stat(sluice_operator *op, const char *path,
                                        sluice_metadata **out);
SLUICE_EXTERN uint64_t sluice_metadata_size(const sluice_metadata *m);
SLUICE_EXTERN int sluice_metadata_is_dir(const sluice_metadata *m);
/* Seconds since the epoch, or -1 when the service does not say. */
SLUICE_EXTERN int64_t sluice_metadata_mtime(const sluice_metadata *m);
/* Owned by m; NULL when the service does not say. */
SLUICE_EXTERN const char *sluice_metadata_etag(const sluice_metadata *m);
SLUICE_EXTERN const char *sluice_metadata_content_type(const sluice_metadata *m);
SLUICE_EXTERN void sluice_metadata_free(sluice_metadata *m);

/* Reads bytes [offset, offset+length) (length UINT64_MAX: to the end) into a
 * new buffer, *buf_out owned by the caller (sluice_free); *len_out may be
 * shorter than asked when the object ends.  This holds the range in memory:
 * use a reader for large objects.  Errors: not found, is a directory, range
 * not satisfiable (offset past the end of a non-empty object). */
SLUICE_EXTERN sluice_error *sluice_read(sluice_operator *op, const char *path, uint64_t offset,
                                        uint64_t length, void **buf_out, size_t *len_out);
/* Writes a whole object from memory (a writer under the hood).  opts may
 * be NULL.  Nothing is visible at path unless the whole write succeeds. */
SLUICE_EXTERN sluice_error *sluice_write(sluice_operator *op, const char *path, const void *buf,
                                         size_t len, const sluice_options *opts);
/* Deletes an object, or an empty directory (trailing '/').  Deleting what
 * does not exist succeeds, as it does on S3. */
SLUICE_EXTERN sluice_error *sluice_delete(sluice_operator *op, const char *path);
/* Deletes everything under path: a directory ("dir/", its contents and,
 * where the service has directories, the directory itself) or, on object
 * stores, every key with that prefix (S3: DeleteObjects, 1,000 keys a
 * request).  Deleting what does not exist succeeds.  The root itself
 * ("" or "/") is refused: delete what is in it by name.  Not atomic: on
 * error some objects may already be gone; the error names the first that
 * could not be deleted. */
SLUICE_EXTERN sluice_error *sluice_delete_all(sluice_operator *op, const char *path);
/* Copies object src to dst within one operator.  Where the service can,
 * the bytes never pass through this process (S3: CopyObject, or
 * UploadPartCopy parts for objects over 5 GiB); elsewhere they stream
 * through a reader and a writer with bounded memory.  opts: writer options
 * (content_type, if_not_exists, chunk, concurrent...), and readers and a
 * progress callback for a streamed copy.  dst appears only
 * when the copy is complete. */
SLUICE_EXTERN sluice_error *sluice_copy(sluice_operator *op, const char *src, const char *dst,
                                        const sluice_options *opts);
/* Creates a directory (path must end in '/') and its parents.  Services
 * without directories return unsupported. */
SLUICE_EXTERN sluice_error *sluice_create_dir(sluice_operator *op, const char *path);

/* A presigned URL: anyone holding it may perform that one request (method
 * "GET", "PUT", "HEAD" or "DELETE" on path) without credentials until it
 * expires, expires_seconds from now (1 .. 604800, S3's limit of 7 days).
 * *url_out owned by the caller (sluice_free).  Errors: unsupported for
 * services without signed URLs (fs, memory), config invalid for an
 * anonymous s3 operator, invalid argument. */
SLUICE_EXTERN sluice_error *sluice_presign(sluice_operator *op, const char *method, const char *path,
                                           uint64_t expires_seconds, char **url_out);

/* Lists entries under path (a directory: "" or "dir/").  Option
 * recursive=true walks the whole tree and yields objects only; otherwise
 * one level, with sub-directories as entries ending in '/'.  Order is
 * unspecified.  *out owned by caller (sluice_lister_free). */
SLUICE_EXTERN sluice_error *sluice_list(sluice_operator *op, const char *path,
                                        const sluice_options *opts, sluice_lister **out);
/* Next entry, or *entry_out = NULL at the end.  The entry is owned by the
 * lister and valid until the next call or the free. */
SLUICE_EXTERN sluice_error *sluice_lister_next(sluice_lister *l, const sluice_entry **entry_out);
/* Path relative to the operator's root, owned by the entry. */
SLUICE_EXTERN const char *sluice_entry_path(const sluice_entry *e);
SLUICE_EXTERN const sluice_metadata *sluice_entry_metadata(const sluice_entry *e);
SLUICE_EXTERN void sluice_lister_free(sluice_lister *l);

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

typedef struct sluice_reader sluice_reader;

/* Opens a streaming reader on path; opts (may be NULL) takes offset,
 * length, chunk and concurrent (see the reader options above).  Nothing is read until sluice_reader_read().  *out owned by the
 * caller (sluice_reader_free).  Errors: not found, is a directory, range
 * not satisfiable. */
SLUICE_EXTERN sluice_error *sluice_reader_open(sluice_operator *op, const char *path,
                                               const sluice_options *opts, sluice_reader **out);
/* A reader over an open file descriptor (a pipe, a socket, stdin): read
 * sequentially, size unknown.  The fd stays the caller's: it is not
 * closed by sluice_reader_free(). */
SLUICE_EXTERN sluice_error *sluice_reader_from_fd(int fd, sluice_reader **out);
/* Reads up to len bytes into buf; *n_out = 0 means the end.  Blocks until
 * at least one byte or the end.  Never holds more than one chunk. */
SLUICE_EXTERN sluice_error *sluice_reader_read(sluice_reader *r, void *buf, size_t len,
                                               size_t *n_out);
/* Bytes left to read when known, else UINT64_MAX. */
SLUICE_EXTERN uint64_t sluice_reader_size(const sluice_reader *r);
SLUICE_EXTERN void sluice_reader_free(sluice_reader *r);

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

typedef struct sluice_writer sluice_writer;

/* Opens a writer on path with writer options (see above; may be NULL).
 * Nothing appears at path until sluice_writer_close() succeeds.  *out
 * owned by the caller (sluice_writer_free).  Errors: invalid argument
 * (bad option, naming it), unsupported (content_type or if_not_exists on a
 * service without them), is a directory, already exists (if_not_exists). */
SLUICE_EXTERN sluice_error *sluice_writer_open(sluice_operator *op, const char *path,
                                               const sluice_options *opts, sluice_writer **out);
/* Copies len bytes into chunk buffers; each full chunk goes to the upload
 * workers.  Blocks only while every buffer is queued or in flight
 * (backpressure).  An error from an earlier chunk is reported here or at
 * close, and the writer is then aborted. */
SLUICE_EXTERN sluice_error *sluice_writer_write(sluice_writer *w, const void *buf, size_t len);
/* Sends what is buffered, waits for every chunk and commits the object.
 * Returns the first error of the writer's life (after aborting).
 * Idempotent: a second close returns the same outcome again. */
SLUICE_EXTERN sluice_error *sluice_writer_close(sluice_writer *w);
/* Discards everything; nothing appears at path.  Idempotent; after a
 * successful close it does nothing (the object stays). */
SLUICE_EXTERN sluice_error *sluice_writer_abort(sluice_writer *w);
/* A writer onto an open file descriptor (a pipe, stdout): bytes arrive in
 * order, through a bounded reorder stage when chunks finish out of order.
 * A stream cannot be un-written, so abort only stops it: what was already
 * written stays written.  The fd stays the caller's.  opts as for
 * sluice_writer_open (content_type and if_not_exists are unsupported). */
SLUICE_EXTERN sluice_error *sluice_writer_from_fd(int fd, const sluice_options *opts,
                                                  sluice_writer **out);
/* Frees the writer, aborting it first unless it was closed: a writer is
 * never committed by accident. */
SLUICE_EXTERN void sluice_writer_free(sluice_writer *w);

/* ------------------------------------------------------------------ */
/* Pipeline                                                            */
/* ------------------------------------------------------------------ */

/* Streams everything left in r into w, the pipeline at the heart of the
 * library: `readers` threads fill chunk buffers from r (positioned reads in
 * parallel where r allows them, one sequential reader for a stream) and
 * queue them in a bounded ring; the writer's workers send them, up to
 * `concurrent` at once, in any order.  opts (may be NULL) takes readers and
 * a progress callback.  w must have had nothing written yet; afterwards it
 * accepts only close (which commits) or abort.  On error, the writer is
 * aborted and the first error is returned.  Blocks the calling thread. */
SLUICE_EXTERN sluice_error *sluice_write_from(sluice_writer *w, sluice_reader *r,
                                              const sluice_options *opts);

/* ------------------------------------------------------------------ */
/* Non-blocking copy job (for daemons with their own event loop)       */
/* ------------------------------------------------------------------ */

typedef struct sluice_job sluice_job;

/* Starts sluice_write_from(w, r, opts) followed by sluice_writer_close(w)
 * on a thread of its own and returns at once.  The job borrows w and r:
 * do not use or free them until the job has ended (sluice_job_wait() or
 * fd readable).  *out owned by the caller (sluice_job_free). */
SLUICE_EXTERN sluice_error *sluice_job_start(sluice_writer *w, sluice_reader *r,
                                             const sluice_options *opts, sluice_job **out);
/* A file descriptor that becomes readable (and stays so) when the job has
 * ended, for poll/epoll/libuv.  Owned by the job; do not read or close it.
 * Returns -1 for a NULL job. */
SLUICE_EXTERN int sluice_job_fd(const sluice_job *job);
/* Non-zero once the job has ended.  Any thread. */
SLUICE_EXTERN int sluice_job_done(const sluice_job *job);
/* Fills *out (set out->struct_size first).  Any thread, any time. */
SLUICE_EXTERN sluice_error *sluice_job_progress(const sluice_job *job, sluice_progress *out);
/* Asks the job to stop; it ends soon with SLUICE_ERR_CANCELED and the
 * destination aborted.  Any thread; harmless after the end. */
SLUICE_EXTERN void sluice_job_cancel(sluice_job *job);
/* Blocks until the job ends and returns a copy of its outcome (NULL for
 * success), owned by the caller.  May be called more than once. */
SLUICE_EXTERN sluice_error *sluice_job_wait(sluice_job *job);
/* Cancels the job if it is running, waits for it and frees it. */
SLUICE_EXTERN void sluice_job_free(sluice_job *job);

/* ------------------------------------------------------------------ */
/* Tree transfers: many objects, one job, one memory budget            */
/* ------------------------------------------------------------------ */

typedef struct sluice_object_result sluice_object_result;

typedef enum sluice_object_action {
  SLUICE_OBJECT_COPIED = 1,  /* written at the destination (or would be: dry_run) */
  SLUICE_OBJECT_SKIPPED,     /* sync: already the same at the destination */
  SLUICE_OBJECT_DELETED,     /* sync with delete: existed only at the destination */
  SLUICE_OBJECT_FAILED       /* see sluice_object_result_error() */
} sluice_object_action;

/* Called once per object a tree job has finished with, on one of the job's
 * threads.  Calls are serialised (never two at once) but not in listing
 * order.  The result and everything it returns live until the callback
 * returns.  Keep it short: a transfer slot waits for it.  It must not free
 * or wait for the job (cancel is fine). */
typedef void (*sluice_object_cb)(const sluice_object_result *result, void *userdata);

/* Sets the per-object callback for sluice_tree_start() (NULL: none). */
SLUICE_EXTERN sluice_error *sluice_options_set_object_cb(sluice_options *opts, sluice_object_cb cb,
                                                         void *userdata);
/* The object's path relative to the source and destination directories
 * (for a deletion: relative to the destination). */
SLUICE_EXTERN const char *sluice_object_result_path(const sluice_object_result *r);
/* Bytes copied (or that would be: dry_run), or the object's size when
 * skipped or deleted. */
SLUICE_EXTERN uint64_t sluice_object_result_bytes(const sluice_object_result *r);
SLUICE_EXTERN sluice_object_action sluice_object_result_action(const sluice_object_result *r);
/* Why the object failed (NULL otherwise).  Owned by the result. */
SLUICE_EXTERN const sluice_error *sluice_object_result_error(const sluice_object_result *r);

/* Starts a job that copies every object under src_dir (on src) to the same
 * relative path under dst_dir (on dst) and returns at once; the job is the
 * same sluice_job as sluice_job_start()'s: its fd becomes readable at the
 * end, sluice_job_progress() fills the objects_* fields too, and
 * sluice_job_cancel()/wait()/free() behave the same (a cancel stops every
 * transfer in flight and aborts its upload: no partial object or file is
 * left; objects already finished stay).  src_dir and dst_dir are
 * directories or key prefixes ("" is the root; "dir" means "dir/").  src
 * and dst may be the same operator.  The job holds references to both
 * operators and copies what it needs from opts.
 *
 * Listing is streamed: one thread walks the source (and for sync the
 * destination) and feeds `transfers` worker threads through a bounded
 * queue, so memory does not grow with the number of objects.  Every object
 * in flight takes its whole share of memory_limit before it starts and
 * holds it to the end (an object of at most chunk bytes: one buffer of its
 * own size; a larger one: chunk x (queue_depth + concurrent + readers),
 * reduced to fit the budget), so a mix of huge and tiny objects cannot
 * deadlock.  Peak buffer memory is memory_limit plus a look-ahead of
 * 2 x transfers listing entries.
 *
 * Options (all optional; unknown names are refused):
 *   mode          "copy" (default): every object; "sync": only objects
 *                 missing or different at the destination
 *   delete        sync only, "true": delete destination objects under
 *                 dst_dir that the source does not have (among those the
 *                 include/exclude/from/to filters select), as they are met
 *   compare       sync: "size_mtime" (default): the same when the sizes are
 *                 equal and the destination is not older than the source
 *                 (an unknown time compares by size); "size": sizes only;
 *                 "checksum": sizes and the stores' MD5s where both sides
 *                 give one without reading the data (an S3 ETag without
 *                 "-N"; a multipart ETag is never taken for an MD5).  When
 *                 either side has none, the object is copied (counted as
 *                 copied), never skipped on a guess
 *   dry_run       "true": decide and report everything, write and delete
 *                 nothing
 *   include       glob(s) a relative path must match (fnmatch(3), '*'
 *                 matches '/' too); several, one per line ("a*\nb*")
 *   exclude       glob(s), one per line: matching paths are left alone
 *                 (neither copied nor deleted)
 *   from, to      relative-path range [from, to) in listing (byte) order:
 *                 shards that share boundaries cover a tree exactly once;
 *                 pick boundaries from a listing (every Nth key)
 *   fail_fast     "true": the first failed object ends the job with its
 *                 error; default: go on, and end with SLUICE_ERR_PARTIAL
 *   transfers     objects in flight, default 16 (1..1024)
 *   memory_limit  buffer budget shared by every transfer, default 256 MiB
 *                 (at least 3 x chunk)
 *   bwlimit       bytes/s across the whole job (0: none), taken one part or
 *                 small object at a time
 *   stream        "true": copy through this process even when src and dst
 *                 are one operator whose store copies by itself (S3
 *                 CopyObject, which is the default there: no bytes move)
 *   chunk, concurrent, queue_depth, readers, content_type, if_not_exists:
 *                 as for a writer and write_from, for every object (the
 *                 first four shape a large object's pipeline)
 * Keys ending in '/' (directory markers) are not objects: ignored.  A relative path
 * that a store with directories cannot hold (empty, "." or ".." segments)
 * fails that object; nothing is ever written outside dst_dir.
 *
 * Errors at start: invalid argument (NULL handle, bad option).  The job's
 * outcome (sluice_job_wait): NULL when every object was copied, skipped or
 * deleted; the listing's error if a listing fails; canceled; with
 * fail_fast the first object's error; else SLUICE_ERR_PARTIAL.
 * *out owned by the caller (sluice_job_free).  Any thread. */
SLUICE_EXTERN sluice_error *sluice_tree_start(sluice_operator *src, const char *src_dir,
                                              sluice_operator *dst, const char *dst_dir,
                                              const sluice_options *opts, sluice_job **out);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
