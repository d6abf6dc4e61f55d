/* SPDX-License-Identifier: MIT */
/*
 * libsluice: stream data between storage services with bounded memory.
 *
 * Conventions that hold for every function below (read these once); a
 * function's own comment says only where it differs or adds to them.
 *
 * Handles.  Every type is opaque.  Callers hold pointers and never see a
 * layout, so new fields never break the ABI.  A handle returned through an
 * out-parameter belongs to the caller, who frees it with the matching
 * sluice_*_free(); passing NULL to any *_free is a no-op.  Strings and
 * buffers returned through `char **` / `void **` out-parameters belong to
 * the caller too (sluice_free()).  A `const char *` a function returns
 * belongs to the object it was read from and lives as long as that object
 * (or is static where the comment says so): never free it.
 *
 * Errors.  Every fallible function returns a `sluice_error *`: NULL means
 * success; anything else is a newly allocated error that the caller owns and
 * releases with sluice_error_free().  An error keeps its kind
 * (sluice_error_kind()) all the way up, carries a retryable flag, the cause
 * beneath it (errno, libcurl code, the server's error code or HTTP status:
 * sluice_error_cause_type()) and a NUL-terminated message naming the
 * operation, the path and the cause (one printable line: control
 * characters and bytes that are not UTF-8, from a key or a server's reply,
 * appear escaped as \n, \033...).  On failure, out-parameters are set to
 * NULL/0 and nothing the call would have created is left behind.  No
 * function aborts the process on a NULL or malformed argument: it returns
 * SLUICE_ERR_INVALID_ARGUMENT.  When even the error cannot be allocated, a
 * static out-of-memory error is returned; sluice_error_free() on it is a
 * no-op, so callers need not care.  Functions that return no error (the
 * accessors) answer NULL, 0 or -1 for a NULL handle, as each says.
 *
 * Options.  Options are name/value pairs on an opaque sluice_options object
 * (setters, not a struct), so adding an option never changes the ABI and a
 * program built against an older header keeps working.  A consumer rejects
 * names it does not know with SLUICE_ERR_INVALID_ARGUMENT, so a typo is an
 * error rather than a silently ignored setting.  Every option, its unit,
 * default and range is listed under "Option reference" below.
 *
 * Threads.  The library has no global state to initialise and no call that
 * must come first.  (The first s3 or http operator calls libcurl's
 * curl_global_init() once; a program that uses libcurl itself on other
 * threads should call curl_global_init() before starting them, as libcurl
 * asks of every program.)  An operator may be used from any number of
 * threads at once, and so may the one-shot calls on it (sluice_stat(),
 * sluice_read(), sluice_write(), ...).  A reader, writer or lister belongs
 * to one thread at a time: the caller serialises calls on it, though it may
 * pass it between threads.  A job may be queried, waited for and cancelled
 * from any thread.  Errors and metadata are not changed by any call but
 * their *_free, so any number of threads may read them (a lister's entry
 * belongs to the lister).  An options object may be read by any number of
 * calls at once while nobody sets anything on it.
 *
 * Paths.  Paths are relative to the operator's root; a trailing '/' names
 * a directory and "" the root.  On an object store (s3, memory) a path is
 * the key, used byte for byte: "a//b", "a/./b", "a/../d" and "/x" are keys
 * of their own, as S3 allows.  The fs service maps paths onto files, so it
 * refuses (invalid argument, naming the path and why) a path that names no
 * file as given: a leading '/', an empty component, "." or "..", and
 * never goes outside its root.  Nor does fs make a file or directory
 * (sluice_write(), sluice_create_dir(), a writer) whose name holds a C1
 * control (U+0080..U+009F) or bytes that are not UTF-8, which terminals
 * may act on wherever the name is printed: refused the same way, never
 * renamed.  What is already on the disk is used as it is: a directory so
 * named is written into, a file read, listed or removed.  The http service ignores a leading '/'
 * (backward compatible: the URL joins endpoint and path with one) and
 * refuses the same.  Every service refuses control characters and paths
 * over 4096 bytes.  sluice_operator_from_uri() cleans a local file path
 * as POSIX does ("/tmp//x" is "/tmp/x").
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

/* Marks a call on its way out: a program that still calls it gets a
 * compiler warning quoting msg (say what to call instead), and the call
 * keeps working, with the same ABI, until the next soname removes it.
 * Written before the declaration:
 *   SLUICE_DEPRECATED("use sluice_new_call()") SLUICE_EXTERN int sluice_old_call(void);
 * GCC and clang; empty for other compilers. */
#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define SLUICE_DEPRECATED(msg)
#endif

/* The version of this header.  These three lines are the only place the
 * version is written: configure.ac reads them for AC_INIT (and so for
 * sluice.pc and the tarball name), and a test fails if the two disagree. */
#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0
/* The same as one number that grows with every release, for comparisons
 * in code and in #if: 0xMMmmpp, one byte per component (0.1.0 is
 * 0x000100, 1.12.3 would be 0x010c03), as libcurl's LIBCURL_VERSION_NUM. */
#define SLUICE_VERSION_NUM \
  ((SLUICE_VERSION_MAJOR << 16) | (SLUICE_VERSION_MINOR << 8) | SLUICE_VERSION_PATCH)

/* The version of the library actually loaded, which may be newer than the
 * header a program was built with:
 *   if (sluice_version_num() < SLUICE_VERSION_NUM) -> older than the header
 * sluice_version() returns it as text ("0.1.0"), in static storage.  Both
 * are constant, cannot fail, and may be called from any thread at any
 * time, before any other call. */
SLUICE_EXTERN const char *sluice_version(void);
SLUICE_EXTERN unsigned int sluice_version_num(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* What went wrong, in terms a caller can act on.  New kinds are only ever
 * appended at the end; none is renumbered or removed, so a value keeps its
 * meaning in every later version and may be stored, logged or sent over
 * the wire.  A program built against an older header may therefore
 * see a kind it has no name for; sluice_strerror() and sluice_err_name()
 * still answer for it. */
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
  SLUICE_ERR_PARTIAL,
  /* The service refused what was sent, not what the caller asked for: a
   * body whose digest did not match on every attempt (S3 BadDigest), a
   * part too small or too large, a request the service could not parse.
   * The caller's own mistakes (a bad bucket name, a key too long) stay
   * SLUICE_ERR_INVALID_ARGUMENT. */
  SLUICE_ERR_REJECTED
} sluice_errkind;

typedef struct sluice_error sluice_error;

/* A short description of a kind for people ("not found"), lower case, to
 * be read rather than parsed: the wording may improve between versions.
 * For a value outside the enum (a newer library's kind): "unknown error
 * kind".  Never NULL; static storage; any thread; cannot fail. */
SLUICE_EXTERN const char *sluice_strerror(sluice_errkind kind);
/* The kind's identifier, exactly as the enum constant is spelt
 * ("SLUICE_ERR_NOT_FOUND", "SLUICE_OK"): stable across versions, for logs,
 * metrics labels and language bindings.  For a value outside the enum:
 * "SLUICE_ERR_UNKNOWN", a name that no kind will ever be given.  Never
 * NULL; static storage; any thread; cannot fail. */
SLUICE_EXTERN const char *sluice_err_name(sluice_errkind kind);
/* Accessors.  NULL means success: kind SLUICE_OK, message "ok", not
 * retryable, HTTP status 0.  The message is owned by the error and lives
 * until the error is freed; it may quote text a server sent, but never
 * holds a control character or a byte that is not UTF-8: what it quotes
 * is escaped as sluice_escape(text, 0) escapes it.
 * They read the error only: any thread, never fail.
 * sluice_error_retryable(): non-zero when the same call may succeed if
 * made again (a timeout, a throttled or dropped request); the library has
 * already retried such requests max_attempts times before giving up. */
SLUICE_EXTERN sluice_errkind sluice_error_kind(const sluice_error *err);
SLUICE_EXTERN const char *sluice_error_message(const sluice_error *err);
SLUICE_EXTERN int sluice_error_retryable(const sluice_error *err);
/* HTTP status of the reply behind the error, or 0 when there was none
 * (no reply, or a service that does not speak HTTP). */
SLUICE_EXTERN int sluice_error_http_status(const sluice_error *err);
/* Frees err and its message.  Once per error, from any thread; NULL and
 * the static out-of-memory error are no-ops. */
SLUICE_EXTERN void sluice_error_free(sluice_error *err);

/* ---- the cause behind an error ---- */

/* Beneath its kind, an error may record what the layer below reported, so
 * a program can act on it without parsing the message (which also names
 * it).  Values are only ever appended, as for sluice_errkind. */
typedef enum sluice_cause_type {
  SLUICE_CAUSE_NONE = 0, /* the library's own finding (a bad argument, a
                          * missing object in a memory store...) */
  SLUICE_CAUSE_ERRNO,    /* a system call failed: sluice_error_errno() */
  SLUICE_CAUSE_CURL,     /* the transfer failed inside libcurl (no reply,
                          * or a broken one): sluice_error_curl_code() */
  SLUICE_CAUSE_SERVICE,  /* the server replied with an error code of its
                          * own: sluice_error_service_code(), and the HTTP
                          * status beside it */
  SLUICE_CAUSE_HTTP      /* the server replied with an HTTP status and no
                          * code: sluice_error_http_status() */
} sluice_cause_type;

/* Which of the accessors below has an answer; SLUICE_CAUSE_NONE for NULL
 * (success), for the static out-of-memory error and for errors the library
 * found itself.  The cause stays with the error through every layer: a
 * copy that fails in its writer reports the writer's cause.  Like the other
 * accessors, these read the error only: any thread, never fail. */
SLUICE_EXTERN sluice_cause_type sluice_error_cause_type(const sluice_error *err);
/* The errno value (ENOENT, ENOSPC...) for SLUICE_CAUSE_ERRNO, else 0. */
SLUICE_EXTERN int sluice_error_errno(const sluice_error *err);
/* libcurl's CURLcode (CURLE_COULDNT_CONNECT...) for SLUICE_CAUSE_CURL,
 * else 0 (CURLE_OK).  An int, so that this header needs no curl.h. */
SLUICE_EXTERN int sluice_error_curl_code(const sluice_error *err);
/* The service's own error code, exactly as the server sent it (S3's
 * <Error><Code>: "NoSuchKey", "SlowDown"...), for SLUICE_CAUSE_SERVICE,
 * else NULL.  Owned by err and valid until sluice_error_free(err).  It is
 * the server's text: escape it before showing it to a person.  S3 answers a
 * HEAD (sluice_stat, opening a reader) with a bare 404 whether the key or
 * the bucket is missing; the s3 service then asks for the bucket, once per
 * operator, and reports "NoSuchKey" or "NoSuchBucket" as a GET would. */
SLUICE_EXTERN const char *sluice_error_service_code(const sluice_error *err);

/* ------------------------------------------------------------------ */
/* Memory and text from the library                                   */
/* ------------------------------------------------------------------ */

/* Frees a string or buffer the library returned to the caller
 * (sluice_read()'s buffer, path_out, url_out).  Any thread; NULL is a
 * no-op.  Only for memory the library returned: handles have their own
 * *_free. */
SLUICE_EXTERN void sluice_free(void *ptr);

/* Also write '\' as "\\", so that every output maps back to one input
 * (a listing); without it escaping twice changes nothing (messages). */
#define SLUICE_ESCAPE_BACKSLASH 1u

/* A copy of text that is safe to show a person.  A key a server listed
 * may hold any byte: a newline forges a line, an ESC drives the terminal.
 * Each C0 control, DEL, C1 control (U+0080..U+009F, which some terminals
 * obey) and byte that is not part of valid UTF-8 is written as a C escape
 * the way `ls -b` writes it: \a \b \t \n \v \f \r by name, any other as
 * three octal digits (ESC is \033).  Printable UTF-8 is kept.
 * flags: 0 or SLUICE_ESCAPE_BACKSLASH.  Returns a new string owned by the
 * caller (sluice_free()), or NULL when text is NULL, flags has an unknown
 * bit, or memory runs out.  Any thread. */
SLUICE_EXTERN char *sluice_escape(const char *text, unsigned flags);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct sluice_options sluice_options;

/* Progress of a copy; see sluice_job_progress() and the progress callback.
 * Fields may be added at the end only; struct_size tells the library how
 * much the caller has. */
typedef struct sluice_progress {
  size_t struct_size;     /* caller sets to sizeof(sluice_progress) */
  uint64_t bytes_read;    /* read from the source so far */
  uint64_t bytes_written; /* acknowledged by the destination */
  uint64_t total_bytes;   /* UINT64_MAX when the source size is unknown */
  /* Parts written (a tree job: every part of the objects it has finished
   * with, one for an object sent in one request or copied inside the
   * store, also those of objects that then failed). */
  uint64_t parts_done;
  uint32_t parts_in_flight;
  uint32_t ring_used; /* chunks queued between readers and workers */
  uint32_t ring_capacity;
  /* Requests sent again after a failed attempt: parts, single PUTs, ranged
   * GETs, commits and aborts (a tree job: those of the objects it has
   * finished with). */
  uint64_t retries;
  /* Tree jobs (sluice_tree_start); 0 for a single-object job.  Each object
   * the job considers ends in exactly one of done (copied), skipped,
   * deleted, failed, or in a dry run would-copy or would-delete;
   * objects_total counts those seen so far (listing is streamed, so it
   * grows until the listings end). */
  uint64_t objects_done;
  uint64_t objects_failed;
  uint64_t objects_skipped;
  uint64_t objects_deleted;
  uint64_t objects_total;
  /* dry_run: the objects a real run would copy and delete (objects_done,
   * objects_deleted and bytes_written stay 0; total_bytes is what it would
   * copy). */
  uint64_t objects_would_copy;
  uint64_t objects_would_delete;
} sluice_progress;

/* Called once per completed chunk, on one of the writer's worker threads,
 * while the copy runs; never twice at once (calls are serialised).  progress
 * is valid during the call only.  Keep it short: the worker waits for it.
 * It must not call into the library for the same writer, reader or job:
 * to stop the copy, set a flag that the thread running it acts on. */
typedef void (*sluice_progress_cb)(const sluice_progress *progress, void *userdata);

/* Returns a new empty options object, or NULL when out of memory (the one
 * constructor that returns no error).  The caller owns it
 * (sluice_options_free); consumers copy what they need, so it may be freed
 * or changed right after the call it was passed to returns.  Any thread;
 * see Threads above for sharing one. */
SLUICE_EXTERN sluice_options *sluice_options_new(void);
SLUICE_EXTERN void sluice_options_free(sluice_options *opts);
/* Sets name to a copy of value, replacing an earlier value; name and value
 * are copied.  Names and values are checked by the call that reads them,
 * not here.  Errors: invalid argument (NULL opts, name or value, empty
 * name), out of memory; opts is unchanged on error.  One thread at a time
 * per opts. */
SLUICE_EXTERN sluice_error *sluice_options_set(sluice_options *opts, const char *name,
                                               const char *value);
/* The same with value written in decimal ("65536"). */
SLUICE_EXTERN sluice_error *sluice_options_set_uint(sluice_options *opts, const char *name,
                                                    uint64_t value);
/* The value last set for name, or NULL (also for a NULL opts or name).
 * Owned by opts: valid until name is set again or opts is freed. */
SLUICE_EXTERN const char *sluice_options_get(const sluice_options *opts, const char *name);
/* Progress callback (NULL: none) and its userdata for sluice_write_from(),
 * sluice_job_start() and sluice_copy(); userdata stays the caller's.
 * Errors: invalid argument for a NULL opts. */
SLUICE_EXTERN sluice_error *sluice_options_set_progress(sluice_options *opts, sluice_progress_cb cb,
                                                        void *userdata);

/* Option reference.  Every option is optional unless marked required.
 * Values are strings, parsed by the call that reads them:
 *   size    a whole number of bytes, optionally followed (a space between
 *           allowed, any case) by K, M, G, T or KiB, MiB, GiB, TiB, powers
 *           of 1024, or by KB, MB, GB, TB, powers of 1000 as in SI:
 *           "65536", "64K", "8MiB"; "5 MB" is 5000000, never 5 MiB
 *   count   a whole decimal number, without a unit ("1K" is refused)
 *   bool    true/false, yes/no, on/off or 1/0 (any case)
 *   text    taken as given
 * A value that does not parse or is out of range fails the call reading it
 * with INVALID_ARGUMENT (writer, copy, reader and list options) or
 * CONFIG_INVALID (operator options), naming the option and the range.
 *
 * Writer options: sluice_writer_open(), sluice_write(),
 * sluice_writer_from_fd() and sluice_copy().
 *   name           unit   default  range           meaning
 *   chunk          size   8 MiB    64 KiB..5 GiB   bytes per chunk; on S3 the
 *                                                  size of each multipart part
 *   concurrent     count  4        1..1024         chunks written to the
 *                                                  service at once (a local
 *                                                  file or an fd takes one at
 *                                                  a time: parallel writes
 *                                                  into one file only queue
 *                                                  on its lock)
 *   queue_depth    count  4        1..1024         filled chunks waiting
 *                                                  between readers and workers
 *   content_type   text   none     no control      the stored Content-Type
 *                                  characters      (s3, memory; UNSUPPORTED on
 *                                                  fs and fds); none: S3 stores
 *                                                  its own default
 *   if_not_exists  bool   false                    fail with ALREADY_EXISTS
 *                                                  instead of replacing what is
 *                                                  at the path (s3, fs, memory;
 *                                                  UNSUPPORTED on fds)
 *   cache_control  text   none     no control      s3 only: the object's
 *                                  characters      Cache-Control
 *   user_metadata  text   none     up to 8 pairs   s3 only: "name=value&n2=v2",
 *                                                  stored as x-amz-meta-<name>;
 *                                                  names of letters, digits,
 *                                                  '-' and '_', values without
 *                                                  control characters; read
 *                                                  back by sluice_stat()
 *                                                  (sluice_metadata_user())
 *   checksum       text   auto     auto, crc64nvme, s3 only: what each part
 *                                  crc32c, crc32,  carries for the store to
 *                                  md5, sha256,    verify.  auto: a full-object
 *                                  none            CRC64NVME where the store
 *                                                  shows it checks
 *                                                  x-amz-checksum-*, else
 *                                                  Content-MD5.  A store that
 *                                                  reports another object
 *                                                  checksum than the one sent
 *                                                  fails the write with IO:
 *                                                  the object is committed but
 *                                                  did not verify
 * Buffer memory of a writer is at most chunk x (queue_depth + concurrent +
 * readers), whatever the object size (readers is 1 without write_from).
 *
 * Copy options: sluice_write_from(), sluice_job_start(), and sluice_copy()
 * beside the writer options.
 *   readers        count  1        1..64           threads filling chunks from
 *                                                  the source in parallel
 *                                                  (positioned reads; a stream
 *                                                  is always read by one)
 *   bwlimit        bytes/s 0 (none) any             aggregate rate, taken one
 *                                                  part at a time
 *   plus the progress callback (sluice_options_set_progress()).
 *
 * Tree options: sluice_tree_start() (beside chunk, concurrent, queue_depth,
 * readers, content_type, if_not_exists and bwlimit, for every object).
 *   mode           text   copy     copy, sync      sync: only what differs
 *   delete         bool   false                    sync: delete what only the
 *                                                  destination has
 *   compare        text   size_mtime size_mtime,   sync: how objects are
 *                                  size, checksum  compared
 *   dry_run        bool   false                    report, change nothing
 *   include        globs  all      one per line    paths to take (fnmatch)
 *   exclude        globs  none     one per line    paths to leave alone
 *   from, to       text   none     any             key range [from, to)
 *   fail_fast      bool   false                    first failure ends the job
 *   transfers      count  16       1..1024         objects in flight
 *   memory_limit   size   256 MiB  >= 3 x chunk    buffer budget of the job
 *   stream         bool   false                    no server-side copies
 *   verify         text   auto     auto, required  required: an object whose
 *                                                  bytes could not be checked
 *                                                  fails (see the reader's)
 * (see sluice_tree_start() for what each does).
 *
 * Reader options: sluice_reader_open().
 *   offset         size   0        any             first byte to read
 *   length         size   to the   any             bytes to read from offset
 *                         end                      (the object may end sooner)
 *   concurrent     count  1        1..256          chunks fetched ahead of the
 *                                                  caller in parallel (ranged
 *                                                  GETs on S3 and HTTP)
 *   chunk          size   8 MiB    64 KiB..1 GiB   bytes per fetch ahead; used
 *                                                  only when concurrent > 1
 *   verify         text   auto     auto, required  auto: a whole-object read
 *                                                  is checked where the store
 *                                                  allows (see Verified reads
 *                                                  below); required: a read
 *                                                  that cannot be checked
 *                                                  fails (at open when that
 *                                                  is known, else at the end,
 *                                                  before write_from lets
 *                                                  anything be committed)
 * A reader holds at most 2 x concurrent chunks when concurrent > 1;
 * otherwise one 8 MiB block on s3 and http, and no buffer of its own on fs,
 * memory and fds.
 *
 * List options: sluice_list().
 *   recursive      bool   false                    walk the whole tree and
 *                                                  yield objects only
 *
 * Operator options: sluice_operator_new(), sluice_operator_from_uri().
 * fs
 *   root           text   required                 the directory every path is
 *                                                  under; must exist (from a
 *                                                  URI: "/")
 *   fsync          bool   false                    a write's data, its name
 *                                                  and any directory it made
 *                                                  reach stable storage before
 *                                                  close returns
 *   direct_io      bool   true                     an object of 32 MiB or more
 *                                                  whose size is known (a
 *                                                  copy, not a stream), in
 *                                                  chunks of 1 MiB or more,
 *                                                  is written with O_DIRECT
 *                                                  where the filesystem takes
 *                                                  it: a steady rate, half the
 *                                                  CPU, no page-cache churn
 * memory: no options.
 * s3 (settings not given as options come from the AWS environment
 * variables and ~/.aws files, in the order the AWS CLI uses; an option set
 * to "" is refused, being most likely an unexpanded variable)
 *   bucket         text   required                 1..255 letters, digits,
 *                                                  '.', '-', '_' (from a URI:
 *                                                  the URI's)
 *   root           text   ""                       key prefix every path is
 *                                                  under ("backups/2026/");
 *                                                  no ".."
 *   region         text   $AWS_REGION, $AWS_DEFAULT_REGION, the profile's
 *                         region; us-east-1 when only an endpoint is known;
 *                         one of them is required
 *   endpoint       text   $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, the
 *                         profile's endpoint_url, else
 *                         https://s3.<region>.amazonaws.com; http:// or
 *                         https://host[:port], for S3-compatible stores
 *   access_key_id, secret_access_key, session_token
 *                  text   $AWS_ACCESS_KEY_ID..., then the profile in the
 *                         shared credentials and config files; both keys
 *                         or neither; never shown in any message
 *   profile        text   $AWS_PROFILE, else "default"; a named profile
 *                         must exist
 *   anonymous      bool   false                    unsigned requests, for
 *                                                  public buckets; excludes
 *                                                  credentials
 *   virtual_host_style
 *                  bool   true on AWS for a bucket that is a DNS label,
 *                         false for a given endpoint: bucket.host/key
 *                         rather than host/bucket/key
 *   ca_file        text   system CAs               PEM file of CAs to trust
 *                                                  (must be readable)
 *   max_attempts   count  5        1..20           tries per request, the first
 *                                                  included, for retryable
 *                                                  failures
 *   payload_signing
 *                  text   unsigned unsigned|sha256 UNSIGNED-PAYLOAD for a
 *                                                  body with its own checksum
 *                                                  (each part and object
 *                                                  carries one unless
 *                                                  checksum=none; a small
 *                                                  body without one is
 *                                                  signed), or a SHA-256 of
 *                                                  every body
 *   connect_timeout
 *                  count  10000    1..600000       milliseconds to connect
 *   low_speed_limit
 *                  size   1024     0..1 GiB        bytes per second below which
 *                                                  a transfer counts as stalled
 *                                                  (0: never)
 *   low_speed_time count  30       1..3600         seconds a transfer may stay
 *                                                  below low_speed_limit before
 *                                                  the attempt is abandoned
 *                                                  (TIMEOUT, retried)
 *   stall_timeout  count  50       0..86400        seconds a request may move
 *                                                  no byte, across all its
 *                                                  attempts, before it fails
 *                                                  with TIMEOUT and is not
 *                                                  tried again (0: no limit).
 *                                                  A copy to a server that
 *                                                  stops answering then ends
 *                                                  in about two budgets (the
 *                                                  transfer, then the abort of
 *                                                  its multipart upload); a
 *                                                  transfer whose bytes keep
 *                                                  moving is never cut by it.
 *                                                  A body the stopped server's
 *                                                  socket buffers take whole
 *                                                  (an object of a few MiB)
 *                                                  looks like one a busy
 *                                                  server is still working on:
 *                                                  each attempt then waits out
 *                                                  low_speed_time (about 3
 *                                                  minutes with the defaults)
 * http (read-only)
 *   endpoint       text   required                 http[s]://host[:port][/base]
 *                                                  (from a URI: the URI's)
 *   ca_file, max_attempts, connect_timeout, low_speed_limit, low_speed_time,
 *   stall_timeout         as for s3
 */

/* ------------------------------------------------------------------ */
/* Operator                                                            */
/* ------------------------------------------------------------------ */

typedef struct sluice_operator sluice_operator;
typedef struct sluice_metadata sluice_metadata;
typedef struct sluice_lister sluice_lister;
typedef struct sluice_entry sluice_entry;

/* Opens a service by scheme: "fs", "memory" (a private, thread-safe store
 * that lives as long as the operator), "s3" or "http" (read-only), with the
 * operator options of the reference above.  Nothing is sent to a server
 * here: a wrong endpoint or key shows at the first request.  opts may be
 * NULL and may be freed once this returns.  *out is owned by the caller
 * (sluice_operator_free).  Any thread.  Errors: invalid argument (NULL
 * scheme or out; an option the service does not know), unsupported
 * (unknown scheme), config invalid (bad or missing option value, no
 * credentials, an unreadable ~/.aws file: naming the setting and where it
 * was looked for), out of memory. */
SLUICE_EXTERN sluice_error *sluice_operator_new(const char *scheme, const sluice_options *opts,
                                                sluice_operator **out);
/* Opens the service a URI names and returns the path inside it:
 *   /abs/path, file:///abs/path, fs:///abs/path -> fs rooted at "/"
 *   memory://path, mem://path                  -> a new memory store
 *   s3://bucket/key                            -> s3 (opts: credentials, region...)
 *   http://host[:port]/path, https://...       -> http (read-only)
 * The path of s3:// and mem:// is everything after the bucket's (or the
 * scheme's) "/", byte for byte: s3://b/a//b is the key "a//b" and
 * s3://b//x the key "/x".  A local path is cleaned as POSIX resolves it
 * (repeated '/' and "." components go) and given relative to "/".
 * opts (may be NULL) are the service's operator options; the URI's bucket
 * (s3) or endpoint (http) replaces the option of that name.  *out is owned
 * by the caller (sluice_operator_free), *path_out too (sluice_free; the
 * http path is %-decoded).  Any thread.  Errors: as sluice_operator_new(),
 * plus invalid argument for a malformed URI (no bucket, no host, a relative
 * file path, a query string) and unsupported for another scheme. */
SLUICE_EXTERN sluice_error *sluice_operator_from_uri(const char *uri, const sluice_options *opts,
                                                     sluice_operator **out, char **path_out);
/* Releases the caller's reference; call it once, after the calls made on
 * op have returned.  Readers, writers, listers and jobs opened on it keep
 * it alive until they are freed, so the order of frees does not matter;
 * the last one closes the service (connections, the memory store's
 * contents). */
SLUICE_EXTERN void sluice_operator_free(sluice_operator *op);
/* "fs", "memory", "s3" or "http": static storage; NULL for a NULL op. */
SLUICE_EXTERN const char *sluice_operator_scheme(const sluice_operator *op);

/* Metadata of path.  *out owned by the caller (sluice_metadata_free).  Any
 * thread.  Errors: invalid argument (NULL op or out, a path the service
 * refuses: see "Paths" above), not found, permission denied, and a service's
 * network or I/O failures. */
SLUICE_EXTERN sluice_error *sluice_stat(sluice_operator *op, const char *path,
                                        sluice_metadata **out);
/* Metadata accessors.  They read m only (any thread) and answer for a NULL
 * m: size 0, is_dir 0, mtime -1, strings NULL. */
SLUICE_EXTERN uint64_t sluice_metadata_size(const sluice_metadata *m);
SLUICE_EXTERN int sluice_metadata_is_dir(const sluice_metadata *m);
/* Seconds since the epoch, or -1 when the service does not say. */
SLUICE_EXTERN int64_t sluice_metadata_mtime(const sluice_metadata *m);
/* Owned by m; NULL when the service does not say.  The ETag is the
 * service's, as it gave it: compare it, do not parse it. */
SLUICE_EXTERN const char *sluice_metadata_etag(const sluice_metadata *m);
SLUICE_EXTERN const char *sluice_metadata_content_type(const sluice_metadata *m);
/* User metadata: the name/value pairs a writer stored with the object (the
 * user_metadata writer option; x-amz-meta-<name> headers on s3, names as
 * the store gives them back, lowercase on S3).  sluice_stat() fills them on
 * s3; listings never do, and fs, memory and http keep none: the count is 0
 * there.  sluice_metadata_user() sets *name and *value (either may be NULL)
 * to pair i, owned by m, and returns 0; for i at or past the count it sets
 * them to NULL and returns -1. */
SLUICE_EXTERN size_t sluice_metadata_user_count(const sluice_metadata *m);
SLUICE_EXTERN int sluice_metadata_user(const sluice_metadata *m, size_t i, const char **name,
                                       const char **value);
/* Frees metadata from sluice_stat().  Not for sluice_entry_metadata()'s,
 * which the lister owns. */
SLUICE_EXTERN void sluice_metadata_free(sluice_metadata *m);

/* Reads bytes [offset, offset+length) (length UINT64_MAX: to the end) into a
 * new buffer, *buf_out owned by the caller (sluice_free; never NULL on
 * success, even for 0 bytes); *len_out may be shorter than asked when the
 * object ends.  This holds the range in memory: use a reader for large
 * objects.  Any thread.  Errors: invalid argument, not found, is a
 * directory, range not satisfiable (offset past the end of a non-empty
 * object), condition not match (the object changed during the read), out of
 * memory (a range larger than memory), network and I/O failures. */
SLUICE_EXTERN sluice_error *sluice_read(sluice_operator *op, const char *path, uint64_t offset,
                                        uint64_t length, void **buf_out, size_t *len_out);
/* Writes a whole object from memory (a writer under the hood) with writer
 * options (opts may be NULL).  buf stays the caller's and is not used after
 * the return.  Nothing is visible at path unless the whole write succeeds;
 * on error a multipart upload is aborted and a temporary file removed.
 * Any thread.  Errors: as sluice_writer_open() and sluice_writer_close(). */
SLUICE_EXTERN sluice_error *sluice_write(sluice_operator *op, const char *path, const void *buf,
                                         size_t len, const sluice_options *opts);
/* Deletes an object, or an empty directory (trailing '/').  Deleting what
 * does not exist succeeds, as it does on S3.  Any thread.  Errors: invalid
 * argument (the root, a bad path), is a directory (a directory named
 * without its '/'), i/o (a directory that is not empty), permission denied,
 * unsupported (http), network failures. */
SLUICE_EXTERN sluice_error *sluice_delete(sluice_operator *op, const char *path);
/* Deletes everything under path: a directory ("dir/", its contents and,
 * where the service has directories, the directory itself) or, on object
 * stores, every key with that prefix (S3: DeleteObjects, 1,000 keys a
 * request).  Deleting what does not exist succeeds.  The root itself
 * ("" or "/") is refused (invalid argument): delete what is in it by name.
 * Not atomic: on error some objects may already be gone; the error names
 * the first that could not be deleted.  A listing that yields a key
 * outside path fails the call (unexpected) before that key's batch is
 * sent: nothing outside path is deleted.  Any thread; blocks until done. */
SLUICE_EXTERN sluice_error *sluice_delete_all(sluice_operator *op, const char *path);
/* Copies object src to dst within one operator.  Where the service can,
 * the bytes never pass through this process (S3: CopyObject, or
 * UploadPartCopy parts for objects over 5 GiB); elsewhere they stream
 * through a reader and a writer with bounded memory.  opts: writer options
 * (content_type, if_not_exists, chunk, concurrent...), and readers and a
 * progress callback for a streamed copy.  dst appears only when the copy
 * is complete; on error nothing is left at dst (a multipart copy is
 * aborted).  Any thread; blocks until done.  Errors: as sluice_stat() for
 * src and sluice_writer_open() for dst, plus condition not match when src
 * changes during the copy. */
SLUICE_EXTERN sluice_error *sluice_copy(sluice_operator *op, const char *src, const char *dst,
                                        const sluice_options *opts);
/* Moves the object src to dst within op.  On fs it is rename(2), atomic:
 * dst is the old file or the new one, never a mix, and src is gone in the
 * same step (parents of dst are created; a directory is refused).  On the
 * other services it is sluice_copy() (server-side on s3) followed by
 * sluice_delete() of src, not atomic: meanwhile both paths exist, dst
 * appears only once complete, and when the delete fails its error is
 * returned with the object at both paths.  Any thread; blocks until done.
 * Errors: as sluice_copy() and sluice_delete(); is a directory for a
 * path ending in '/' and, on fs, for a directory at src or in dst's place. */
SLUICE_EXTERN sluice_error *sluice_rename(sluice_operator *op, const char *src, const char *dst);
/* Creates a directory (path must end in '/') and its parents; one that
 * exists already is success.  On s3 it writes the folder marker the S3
 * console and OpenDAL write, a zero-byte object whose key is path ("a/b/"),
 * and nothing for the parents (a prefix exists once a key starts with it);
 * sluice_stat() then finds the directory and listings show it, without the
 * marker as an object of its own.  Any thread.  Errors: invalid argument
 * (no trailing '/'), already exists (a file is in the way), permission
 * denied, the store's network failures, unsupported on services without
 * directories (memory, http). */
SLUICE_EXTERN sluice_error *sluice_create_dir(sluice_operator *op, const char *path);

/* A presigned URL: anyone holding it may perform that one request (method
 * "GET", "PUT", "HEAD" or "DELETE", in any case, on path) without
 * credentials until it expires, expires_seconds from now (1 .. 604800, S3's
 * limit of 7 days).  Computed locally: nothing is sent, and the object
 * need not exist.  The URL carries a signature, not the secret key.
 * *url_out owned by the caller (sluice_free).  Any thread.  Errors:
 * unsupported for services without signed URLs (fs, memory, http), config
 * invalid for an anonymous s3 operator, invalid argument (method, expiry,
 * path). */
SLUICE_EXTERN sluice_error *sluice_presign(sluice_operator *op, const char *method,
                                           const char *path, uint64_t expires_seconds,
                                           char **url_out);

/* Lists entries under path (a directory: "" or "dir/").  Option
 * recursive=true walks the whole tree and yields objects only; otherwise
 * one level, with sub-directories as entries ending in '/'.
 * Order, every service: entry paths ascend in the byte order of their
 * UTF-8 bytes (strcmp, unsigned), S3's ListObjectsV2 order, so two
 * listings of the same tree on different services give the same sequence
 * and can be merged in one pass.  A recursive listing yields a
 * directory's objects where "dir/" sorts: "a-b", "a.b", "a/x", "a0" ('-'
 * and '.' sort before '/').  A one-level listing yields "sub/" entries at
 * that place among the objects.  Memory: fs reads one directory at a time
 * (its names, for each directory on the current path, never the tree);
 * s3 holds one page of 1,000 keys; memory holds one entry.  Listings are
 * not snapshots: what changes during one may or may not show.
 * Every entry lies under path: a listing (a server's reply) that yields
 * one outside it fails with unexpected at sluice_lister_next(), rather
 * than pass off a key nobody asked for as one of path's.
 * Entries are fetched as sluice_lister_next() asks, so listing a huge
 * tree holds little memory.  *out owned by the caller
 * (sluice_lister_free).  Any thread.  Errors: invalid argument (bad path or
 * option), not found (a directory that does not exist, on fs), and the
 * service's failures (these may also come from sluice_lister_next()
 * instead). */
SLUICE_EXTERN sluice_error *sluice_list(sluice_operator *op, const char *path,
                                        const sluice_options *opts, sluice_lister **out);
/* Next entry, or *entry_out = NULL at the end (and on every call after
 * it).  The entry is owned by the lister and valid until the next call or
 * the free.  One thread at a time per lister.  Errors: the service's
 * (permission denied, not found for a missing bucket, network...); the
 * lister may be freed after one. */
SLUICE_EXTERN sluice_error *sluice_lister_next(sluice_lister *l, const sluice_entry **entry_out);
/* Path relative to the operator's root, owned by the entry; NULL for a
 * NULL e. */
SLUICE_EXTERN const char *sluice_entry_path(const sluice_entry *e);
/* The entry's metadata, owned by the entry (do not sluice_metadata_free
 * it); NULL for a NULL e.  Fields a listing does not give (content type,
 * often mtime) read as absent. */
SLUICE_EXTERN const sluice_metadata *sluice_entry_metadata(const sluice_entry *e);
SLUICE_EXTERN void sluice_lister_free(sluice_lister *l);

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

typedef struct sluice_reader sluice_reader;

/* Verified reads.  A read of a whole object from s3 is checked against
 * what the store keeps of it, on the reading threads as the bytes arrive:
 * the full-object CRC (x-amz-checksum-*) where the store keeps one (AWS);
 * else the ETag, which is the MD5 of a single-part object's bytes, and of a
 * multipart object the MD5 of its parts' MD5s (checked when the part size
 * is known: sluice records it as metadata x-amz-meta-sluice-part-size
 * when it uploads, and AWS answers HEAD ?partNumber=1); else rclone's
 * x-amz-meta-md5chksum.  Bytes that differ fail the read that completes
 * the object with IO, retryable (a whole object fetched in one request is
 * fetched once more first; a tree job copies such an object once more),
 * and write_from then aborts its writer.  Not
 * checked: a ranged read (offset, length), an object encrypted with
 * SSE-KMS or SSE-C whose store keeps no CRC, a multipart object of
 * unknown part size, http (its ETags are no digests), and a reader whose
 * bytes were read out of order.  fs, memory and fd readers read their
 * origin directly: nothing stands between to check, and verify=required
 * does not apply to them. */

/* Opens a streaming reader on path; opts (may be NULL) takes offset,
 * length, chunk, concurrent and verify (reader options in the reference
 * above).
 * The object's size is read here (a HEAD on s3 and http), and on s3 and
 * http every later read is pinned to that version, so a replaced object
 * fails with condition not match rather than mixing two versions.  *out
 * owned by the caller (sluice_reader_free).  Any thread.  Errors: invalid
 * argument (bad option or path), not found, is a directory, range not
 * satisfiable, permission denied, network failures. */
SLUICE_EXTERN sluice_error *sluice_reader_open(sluice_operator *op, const char *path,
                                               const sluice_options *opts, sluice_reader **out);
/* A reader over an open file descriptor (a pipe, a socket, stdin): read
 * sequentially, size unknown.  The fd stays the caller's: it is not
 * closed by sluice_reader_free(), and must stay open until then.  *out
 * owned by the caller.  Any thread.  Errors: invalid argument (negative fd,
 * an fd not open for reading). */
SLUICE_EXTERN sluice_error *sluice_reader_from_fd(int fd, sluice_reader **out);

/* A source written by the caller: what a daemon holds in memory, a
 * generator, a decoder, read by the library as any other reader (by
 * sluice_reader_read(), sluice_write_from(), jobs).  ctx is the caller's;
 * the library passes it back and never looks inside.
 *
 * Every callback returns 0 on success or a positive errno value
 * (ENOENT, EIO, ...) for a failure, which fails the read or the copy with
 * the kind that errno means and the errno as its cause
 * (sluice_error_cause_type()); a copy's writer then aborts and nothing is
 * committed.  Any other value, or more bytes than asked for, fails it with
 * UNEXPECTED: the library checks what a callback returns.  No callback may
 * call into the library for the reader it serves (or a copy reading it). */
typedef struct sluice_source_ops {
  /* sizeof(sluice_source_ops) as the caller was compiled with it: fields
   * are only ever added at the end, and the library reads only those the
   * caller has. */
  size_t struct_size;
  /* Required.  The next bytes in order, at most len (> 0) into buf, which
   * the library lends for this call only; *n = their count, 0 at the end
   * (and then at every later call).  May block.  Called by one thread at
   * a time, not always the same one. */
  int (*read)(void *ctx, void *buf, size_t len, size_t *n);
  /* Optional (NULL: the source is a stream, read only by read).  len bytes
   * at byte off of the source (off < size), into buf lent for the call;
   * *n = len, fewer only at the end.  Used only when size is known, by
   * several threads at once (write_from's readers, read-ahead), each with
   * its own buffer and range: it must be safe to call concurrently. */
  int (*pread)(void *ctx, void *buf, size_t len, uint64_t off, size_t *n);
  /* Optional, any thread, at any time until release: makes a read or
   * pread blocked in this source return soon (any errno; the copy is
   * being canceled).  A job's cancel calls it; a source that can block
   * for long (waiting for a peer) needs it for cancel to be prompt. */
  void (*interrupt)(void *ctx);
  /* Optional: the last call on ctx, from sluice_reader_free() (or from
   * sluice_reader_from_source() when it fails), after every other
   * callback has returned. */
  void (*release)(void *ctx);
} sluice_source_ops;

/* A reader over a caller's source.  ops is copied (it need not outlive
 * the call); ctx is passed to every callback.  size: the bytes the source
 * holds, or UINT64_MAX when unknown (a stream; pread is then never used).
 * name (copied; NULL: "source") names it in messages.  *out owned by the
 * caller (sluice_reader_free() releases ctx).  Any thread.  Errors:
 * invalid argument (NULL ops, read or out; struct_size smaller than the
 * first version's), out of memory; on error release is called too, so
 * ctx is the library's from the moment this is called. */
SLUICE_EXTERN sluice_error *sluice_reader_from_source(const sluice_source_ops *ops, void *ctx,
                                                      uint64_t size, const char *name,
                                                      sluice_reader **out);
/* Reads up to len bytes into buf; *n_out = 0 means the end (and stays
 * so).  Blocks until at least one byte or the end.  Memory: see the reader
 * options (at most 2 x concurrent chunks with read-ahead, else one 8 MiB
 * block on s3 and http, nothing on fs, memory and fds).  One thread at a time per reader.
 * Errors: the service's (network, timeout, condition not match when the
 * object changed, I/O from an fd); the reader should then be freed. */
SLUICE_EXTERN sluice_error *sluice_reader_read(sluice_reader *r, void *buf, size_t len,
                                               size_t *n_out);
/* Bytes left to read when known, else UINT64_MAX (also for a NULL r and
 * for fd readers).  Does not block. */
SLUICE_EXTERN uint64_t sluice_reader_size(const sluice_reader *r);
/* How the bytes read were checked against the store's record of the
 * object (Verified reads, above), once every byte was read and matched:
 * "crc64nvme", "crc32c", "crc32", "md5" (a single-part ETag or a stored
 * MD5), "etag-md5" (a multipart ETag); otherwise "none" (also before the
 * end, and for a NULL r).  A static string.  Any thread, once the reads
 * (or the write_from or job reading r) have returned. */
SLUICE_EXTERN const char *sluice_reader_verified(const sluice_reader *r);
/* Moves the reader as lseek(2) moves a file offset: to offset (whence
 * SEEK_SET of <stdio.h>), to the position plus offset (SEEK_CUR) or to the
 * end plus offset (SEEK_END).  Positions count from the start of the range
 * the reader was opened on (its offset option), and the end is that
 * range's.  A position past the end is allowed: reads there return the end.
 * *pos_out (may be NULL) is the new position; SEEK_CUR with offset 0 asks
 * for it and changes nothing.  A seek drops any read-ahead (the next read
 * starts it again from the new position) and turns off the whole-object
 * checks of the reads that follow, as a ranged read has none; on s3 and
 * http a reader without read-ahead then fetches each read as one ranged
 * GET.  One thread at a time per reader.  Errors, leaving the reader
 * unchanged: invalid argument (NULL r, an unknown whence, a position before
 * 0 or past INT64_MAX), unsupported (a reader over a stream: an fd, a
 * source whose size is unknown). */
SLUICE_EXTERN sluice_error *sluice_reader_seek(sluice_reader *r, int64_t offset, int whence,
                                               uint64_t *pos_out);
/* Stops any read-ahead threads, waits for them and frees the reader. */
SLUICE_EXTERN void sluice_reader_free(sluice_reader *r);

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

typedef struct sluice_writer sluice_writer;

/* Opens a writer on path with writer options (see the reference above; may
 * be NULL).  Nothing appears at path until sluice_writer_close() succeeds.
 * *out owned by the caller (sluice_writer_free).  Any thread.  Errors:
 * invalid argument (bad option, naming it; bad path), unsupported
 * (content_type or if_not_exists on a service without them; http), is a
 * directory, already exists (if_not_exists and something is there now; on
 * fs, memory and s3 it is checked again when close commits), permission
 * denied, network failures. */
SLUICE_EXTERN sluice_error *sluice_writer_open(sluice_operator *op, const char *path,
                                               const sluice_options *opts, sluice_writer **out);
/* Copies len bytes into chunk buffers (buf stays the caller's); each full
 * chunk goes to the upload workers.  Until the object fills one chunk its
 * bytes are kept in one buffer of their size and no thread is started: an
 * object under one chunk goes in one request at close.  Blocks only while
 * every buffer is queued or in flight (backpressure).  One thread at a time
 * per writer.
 * Errors: invalid argument after close or write_from, canceled after
 * abort, and the first error of an earlier chunk, reported here or at
 * close; the writer is then aborted and every later write or close returns
 * that error again. */
SLUICE_EXTERN sluice_error *sluice_writer_write(sluice_writer *w, const void *buf, size_t len);
/* Sends what is buffered, waits for every chunk and commits the object.
 * Returns the first error of the writer's life (after aborting: nothing
 * appears at path).  Idempotent: a second close returns the same outcome
 * again.  One thread at a time per writer. */
SLUICE_EXTERN sluice_error *sluice_writer_close(sluice_writer *w);
/* Discards everything; nothing appears at path (the S3 multipart upload
 * is aborted, a temporary file removed).  Idempotent; after a successful
 * close it does nothing (the object stays).  One thread at a time per
 * writer.  Returns an error only for a NULL w: cleaning up is best effort,
 * and an AbortMultipartUpload the server refused leaves the upload open
 * there. */
SLUICE_EXTERN sluice_error *sluice_writer_abort(sluice_writer *w);
/* A writer onto an open file descriptor (a pipe, stdout): bytes arrive in
 * order, through a bounded reorder stage when chunks finish out of order.
 * A stream cannot be un-written, so abort only stops it: what was already
 * written stays written.  The fd stays the caller's (not closed by the
 * writer) and must stay open until sluice_writer_free().  opts as for
 * sluice_writer_open (content_type and if_not_exists are unsupported).
 * *out owned by the caller.  Any thread.  Errors: invalid argument (bad
 * option, an fd not open for writing), unsupported. */
SLUICE_EXTERN sluice_error *sluice_writer_from_fd(int fd, const sluice_options *opts,
                                                  sluice_writer **out);

/* A sink written by the caller: where a daemon's copies go (a database, a
 * socket protocol of its own, a test double).  The same conventions as
 * sluice_source_ops: callbacks return 0 or a positive errno value, which
 * fails the write with that cause (anything else fails it with
 * UNEXPECTED); ctx is the caller's; no callback may call into the library
 * for the writer it serves. */

/* Parts reach write_part one at a time, in index order. */
#define SLUICE_SINK_ORDERED 1u

typedef struct sluice_sink_ops {
  size_t struct_size; /* sizeof(sluice_sink_ops), as for sources */
  /* Required.  Writes part index (from 0) of the object: len bytes at byte
   * offset, from buf, which the library lends for this call only.  Every
   * part holds chunk bytes (the writer option) but the last, which may be
   * shorter; a part is written once.  The part is done when this returns.
   * Called on the writer's worker threads, up to max_in_flight at once in
   * any order (one at a time, in order, with SLUICE_SINK_ORDERED), or on
   * the thread that calls sluice_writer_close() for an object that fits
   * in one chunk. */
  int (*write_part)(void *ctx, uint64_t index, uint64_t offset, const void *buf, size_t len);
  /* Required.  Every part was written (size bytes in nparts parts; 0 and 0
   * for an empty object): make the object visible.  Once, on the thread
   * that calls sluice_writer_close().  On failure abort is called next. */
  int (*commit)(void *ctx, uint64_t size, uint64_t nparts);
  /* Required.  Discard what was written: the writer failed (a part, the
   * source or commit failed, or a verification), was aborted, or is freed
   * unclosed.  At most once, never after a commit that succeeded, on the
   * thread that ends the writer; no write_part is running any more. */
  void (*abort)(void *ctx);
  /* Optional, any thread: makes a write_part or commit in progress return
   * soon (any errno).  A job's cancel calls it. */
  void (*interrupt)(void *ctx);
  /* Optional: the last call on ctx, from sluice_writer_free() (or from
   * sluice_writer_from_sink() when it fails). */
  void (*release)(void *ctx);
  unsigned flags;         /* 0 or SLUICE_SINK_ORDERED */
  unsigned max_in_flight; /* most write_part calls at once; 0: the writer's concurrent */
} sluice_sink_ops;

/* A writer onto a caller's sink.  ops is copied; ctx is passed to every
 * callback; name (copied; NULL: "sink") names it in messages.  opts as for
 * sluice_writer_open() (chunk, concurrent, queue_depth; content_type and
 * if_not_exists are refused as unsupported).  *out owned by the caller
 * (sluice_writer_free() releases ctx).  Any thread.  Errors: invalid
 * argument (NULL ops, write_part, commit, abort or out; struct_size
 * smaller than the first version's; an unknown flag; a bad option),
 * unsupported, out of memory; on error release is called too. */
SLUICE_EXTERN sluice_error *sluice_writer_from_sink(const sluice_sink_ops *ops, void *ctx,
                                                    const char *name, const sluice_options *opts,
                                                    sluice_writer **out);
/* Frees the writer, aborting it first unless it was closed: a writer is
 * never committed by accident.  Waits for its worker threads. */
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
 * accepts only close (which commits) or abort.  r and w stay the caller's
 * (free them after).  Blocks the calling thread until r is drained; no
 * other thread may use r or w meanwhile.  Errors: invalid argument (bad
 * option; w already written to), and the first error of the reader or the
 * writer, kind and cause kept; the writer is then aborted. */
SLUICE_EXTERN sluice_error *sluice_write_from(sluice_writer *w, sluice_reader *r,
                                              const sluice_options *opts);

/* ------------------------------------------------------------------ */
/* Non-blocking copy job (for daemons with their own event loop)       */
/* ------------------------------------------------------------------ */

typedef struct sluice_job sluice_job;

/* Starts sluice_write_from(w, r, opts) followed by sluice_writer_close(w)
 * on a thread of its own and returns at once.  The job borrows w and r:
 * do not use or free them until the job has ended (sluice_job_wait() or
 * fd readable).  *out owned by the caller (sluice_job_free).  Any thread.
 * Errors: invalid argument (bad option), and failure to start the thread
 * or its eventfd (the errno is the cause); w and r are then untouched. */
SLUICE_EXTERN sluice_error *sluice_job_start(sluice_writer *w, sluice_reader *r,
                                             const sluice_options *opts, sluice_job **out);
/* A file descriptor that becomes readable (and stays so) when the job has
 * ended, for poll/epoll/libuv.  Owned by the job; do not read or close it.
 * Returns -1 for a NULL job.  Any thread. */
SLUICE_EXTERN int sluice_job_fd(const sluice_job *job);
/* Non-zero once the job has ended; 0 for a NULL job.  Any thread. */
SLUICE_EXTERN int sluice_job_done(const sluice_job *job);
/* Fills *out (set out->struct_size first; fields beyond it are left
 * alone).  Any thread, any time, also after the end.  Errors: invalid
 * argument (NULL job or out, struct_size 0). */
SLUICE_EXTERN sluice_error *sluice_job_progress(const sluice_job *job, sluice_progress *out);
/* Asks the job to stop; it ends soon with SLUICE_ERR_CANCELED and the
 * destination aborted.  Does not wait.  Any thread; harmless after the
 * end or for NULL. */
SLUICE_EXTERN void sluice_job_cancel(sluice_job *job);
/* Blocks until the job ends and returns a copy of its outcome (NULL for
 * success), owned by the caller.  May be called more than once, from any
 * thread.  Errors: invalid argument for a NULL job. */
SLUICE_EXTERN sluice_error *sluice_job_wait(sluice_job *job);
/* Cancels the job if it is running, waits for it and frees it; w and r are
 * then the caller's again.  No other call on the job may run meanwhile. */
SLUICE_EXTERN void sluice_job_free(sluice_job *job);

/* ------------------------------------------------------------------ */
/* Multipart uploads left open                                         */
/* ------------------------------------------------------------------ */

/* A writer that is closed or aborted leaves nothing behind, but a process
 * killed mid-upload (SIGKILL, power loss) leaves its multipart upload open
 * on the server, which keeps, and bills, the parts already sent until the
 * upload is aborted.  These calls find such uploads and remove them. */

typedef struct sluice_upload_lister sluice_upload_lister;
typedef struct sluice_upload sluice_upload;

/* Lists the multipart uploads in progress whose path starts with prefix
 * (relative to the operator's root; "" for all, "dir/" for a directory,
 * "dir/na" for every path beginning so).  Pages are fetched as
 * sluice_upload_lister_next() needs them (S3: ListMultipartUploads, up to
 * 1,000 a page), so memory does not grow with the number of uploads.
 * Uploads started after the call may or may not be listed.  *out is owned
 * by the caller (sluice_upload_lister_free) and keeps op alive; like a
 * lister, it belongs to one thread at a time.  Errors: invalid argument
 * (NULL, or a prefix every service refuses: see "Paths" above),
 * unsupported (a service without multipart uploads: fs, memory, http);
 * errors from the server (no such bucket, permission denied) come from the
 * first next(). */
SLUICE_EXTERN sluice_error *sluice_uploads_list(sluice_operator *op, const char *prefix,
                                                sluice_upload_lister **out);
/* Next upload, or *upload_out = NULL at the end.  The upload is owned by
 * the lister and valid until the next call or the free.  An error leaves
 * the lister usable only for free. */
SLUICE_EXTERN sluice_error *sluice_upload_lister_next(sluice_upload_lister *l,
                                                      const sluice_upload **upload_out);
/* The upload's path (relative to the root) and its id, owned by the
 * upload; NULL for a NULL upload. */
SLUICE_EXTERN const char *sluice_upload_path(const sluice_upload *u);
SLUICE_EXTERN const char *sluice_upload_id(const sluice_upload *u);
/* When the upload was started, seconds since the epoch (the server's
 * clock), or -1 when the server does not say. */
SLUICE_EXTERN int64_t sluice_upload_initiated(const sluice_upload *u);
SLUICE_EXTERN void sluice_upload_lister_free(sluice_upload_lister *l);

/* Aborts the multipart upload upload_id of path: the server drops its
 * parts and the id stops being valid.  Aborting an upload that a writer is
 * still sending makes that writer fail.  Any thread.  Errors: invalid
 * argument, is a directory (path ends in '/'), unsupported (as above), not
 * found (no such upload: already completed or aborted), and the server's
 * errors. */
SLUICE_EXTERN sluice_error *sluice_upload_abort(sluice_operator *op, const char *path,
                                                const char *upload_id);

/* ------------------------------------------------------------------ */
/* Tree transfers: many objects, one job, one memory budget            */
/* ------------------------------------------------------------------ */

typedef struct sluice_object_result sluice_object_result;

/* Values are only ever appended, as for sluice_errkind. */
typedef enum sluice_object_action {
  SLUICE_OBJECT_COPIED = 1,  /* written at the destination */
  SLUICE_OBJECT_SKIPPED,     /* sync: already the same at the destination */
  SLUICE_OBJECT_DELETED,     /* sync with delete: existed only at the destination */
  SLUICE_OBJECT_FAILED,      /* see sluice_object_result_error() */
  SLUICE_OBJECT_WOULD_COPY,  /* dry_run: a real run would copy it (nothing written) */
  SLUICE_OBJECT_WOULD_DELETE /* dry_run: a real run would delete it (nothing deleted) */
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
/* Bytes copied, or the object's size when skipped, deleted, or in a dry
 * run would be copied or deleted. */
SLUICE_EXTERN uint64_t sluice_object_result_bytes(const sluice_object_result *r);
SLUICE_EXTERN sluice_object_action sluice_object_result_action(const sluice_object_result *r);
/* Why the object failed (NULL otherwise).  Owned by the result. */
SLUICE_EXTERN const sluice_error *sluice_object_result_error(const sluice_object_result *r);
/* How a copied object's bytes were checked, as sluice_reader_verified()
 * says ("none" for every other action, for a copy inside one store and
 * for a NULL r).  A static string. */
SLUICE_EXTERN const char *sluice_object_result_verified(const sluice_object_result *r);

/* Starts a job that copies every object under src_dir (on src) to the same
 * relative path under dst_dir (on dst) and returns at once; the job is the
 * same sluice_job as sluice_job_start()'s: its fd becomes readable at the
 * end, sluice_job_progress() fills the objects_* fields too, and
 * sluice_job_cancel()/wait()/free() behave the same (a cancel stops every
 * transfer in flight and aborts its upload: no partial object or file is
 * left; objects already finished stay).  src_dir and dst_dir are
 * directories or key prefixes ("" is the root; "dir" means "dir/"), used as
 * given like any path (on S3 "/dir" is the prefix of keys "/dir/...").  src
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
 *                 "checksum": sizes and checksums: the MD5s the stores
 *                 list (an S3 ETag without "-N"); where one side lists an
 *                 MD5 and the other nothing (a local file), that file's
 *                 MD5; for a multipart object (its ETag is never taken
 *                 for an MD5), the full-object CRC its store keeps (one
 *                 HEAD), against the other store's or the file's; two
 *                 local files are both read.  An object store's bytes
 *                 are never read for this.  When no
 *                 checksum can be compared, the object is copied (counted
 *                 as copied), never skipped on a guess
 *   dry_run       "true": decide and report everything, write and delete
 *                 nothing: each object the real run would copy or delete
 *                 is reported as SLUICE_OBJECT_WOULD_COPY or _WOULD_DELETE
 *                 (the callback lists them) and counted in
 *                 objects_would_copy / objects_would_delete, never as
 *                 copied or deleted
 *   include       glob(s) a relative path must match (fnmatch(3), '*'
 *                 matches '/' too); several, one per line ("a*\nb*")
 *   exclude       glob(s), one per line: matching paths are left alone
 *                 (neither copied nor deleted)
 *   from, to      relative-path range [from, to) in listing (byte) order:
 *                 shards that share boundaries cover a tree exactly once;
 *                 pick boundaries from a listing (every Nth key).  The
 *                 listing stops at `to`
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
 * that a store with directories cannot hold (empty, "." or ".." segments;
 * on fs also a C1 control or bytes that are not UTF-8, see Paths) fails
 * that object; nothing is ever written outside dst_dir.  A listing is
 * input from a server, held to its promises: a key outside its directory,
 * a key listed twice or one out of byte order fails the job (UNEXPECTED,
 * the listing's error) rather than be copied under a name nobody asked
 * for, copied twice, merged wrongly or stop `to` early.
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
