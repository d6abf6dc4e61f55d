/* SPDX-License-Identifier: MIT */
/*
 * Operations on many keys or whole objects that never move the bytes
 * through this process: remove_all (ListObjectsV2 + DeleteObjects) and
 * server-side copy (CopyObject, or UploadPartCopy parts for objects over
 * S3's 5 GiB CopyObject limit).
 *
 * remove_all streams: the recursive lister fetches one page (up to 1,000
 * keys) at a time and every batch of 1,000 keys is deleted as soon as it
 * is full, so memory stays bounded whatever the number of keys.  A store
 * that answers DeleteObjects with 501 NotImplemented is remembered on the
 * instance (no_multi_delete) and its keys are then deleted one by one.
 *
 * copy pins the source: the HEAD that gives its size also gives its ETag,
 * and every copy request carries x-amz-copy-source-if-match with it, so a
 * source replaced during the copy fails the copy (CONDITION_NOT_MATCH)
 * instead of producing a mix of two versions.  Swift's s3api answers that
 * condition with 412 for every multipart source, even an unchanged one: a
 * 412 with the source unchanged drops the pin for the rest of the copy,
 * and a multipart copy then checks the source's ETag again before it
 * completes.  Above the CopyObject limit the parts are copied by up to
 * `concurrent` threads (at most 16), each running synchronous requests.
 *
 * The ETag of an UploadPartCopy comes only in the reply's XML
 * (sluice__s3_xml_copy_etag).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "path.h"
#include "s3/s3.h"
#include "s3/s3_error.h"
#include "s3/xml.h"
#include "strbuf.h"

#define MiB (1ull << 20)
/* Most UploadPartCopy requests in flight at once (each is a synchronous
 * request on a thread of its own). */
#define MAX_COPY_THREADS 16u
/* CopyObject takes sources up to 5 GiB. */
#define COPY_OBJECT_LIMIT (5ull << 30)

static _Atomic uint64_t copy_part_threshold = COPY_OBJECT_LIMIT;

void sluice__s3_set_copy_part_threshold(uint64_t bytes) {
  atomic_store(&copy_part_threshold, bytes ? bytes : COPY_OBJECT_LIMIT);
}

/* Runs r, then check(r, arg) on its 2xx reply (S3 may answer 200 and
 * report an error in the body); a retryable error from the body is retried
 * like a retryable status, within the same max_attempts.  if_not_exists:
 * r may only create the object (sluice__s3_perform_conditional). */
typedef sluice_error *(*reply_check)(sluice__httpreq_req *r, void *arg);
static sluice_error *perform_checked(sluice__s3 *s3, sluice__httpreq_req *r, int if_not_exists,
                                     reply_check check, void *arg) {
  size_t nheaders = r->nheaders;
  for (;;) {
    r->nheaders = nheaders; /* without the If-None-Match of a former round */
    sluice_error *err =
        if_not_exists ? sluice__s3_perform_conditional(s3, r, 1) : sluice__s3_perform(s3, r);
    if (err) return err;
    err = check(r, arg);
    if (!err || !sluice_error_retryable(err) || r->attempts >= s3->cfg.net.max_attempts) {
      return sluice__httpreq_error_note_attempts(err, (int)r->attempts);
    }
    sluice_error_free(err);
    if ((err = sluice__httpreq_backoff_sleep(&s3->net, r))) return err;
  }
}

/* ================================================================== */
/* remove_all                                                          */
/* ================================================================== */

typedef struct del_batch {
  sluice__s3 *s3;
  size_t rootlen;  /* keys[i] + rootlen is the user's path */
  const char *dir; /* for messages */
  char *keys[SLUICE__S3_MAX_DELETE_KEYS];
  size_t n;
} del_batch;

static sluice_error *check_delete(sluice__httpreq_req *r, void *arg) {
  (void)arg;
  return sluice__s3_xml_delete_result(r->resp.data ? r->resp.data : "", r->resp.len,
                                      "DeleteObjects");
}

/* DeleteObject for each key of the batch (missing keys succeed). */
static sluice_error *delete_one_by_one(del_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    sluice_error *err = sluice__s3_service.remove(b->s3, b->keys[i] + b->rootlen);
    if (err) return err;
  }
  return NULL;
}

/* Deletes the keys of the batch and empties it. */
static sluice_error *flush_batch(del_batch *b) {
  if (b->n == 0) return NULL;
  sluice_error *err = NULL;
  int multi = !atomic_load(&b->s3->no_multi_delete);
  char *body = NULL;
  size_t len = 0;
  if (multi) {
    err = sluice__s3_xml_delete_body((const char *const *)b->keys, b->n, &body, &len);
    if (err && sluice_error_kind(err) == SLUICE_ERR_INVALID_ARGUMENT) {
      /* A key XML cannot carry (control characters): DeleteObject takes
       * it in the URL. */
      sluice_error_free(err);
      err = NULL;
      multi = 0;
    }
  }
  if (!err && multi) {
    sluice__httpreq_req r = {.op = "DeleteObjects",
                             .path = b->dir,
                             .method = "POST",
                             .body = (const unsigned char *)body,
                             .body_len = len,
                             .content_md5 = 1};
    sluice__httpreq_query(&r, "delete", "");
    err = perform_checked(b->s3, &r, 0, check_delete, NULL);
    sluice__httpreq_req_cleanup(&r);
    if (err && sluice_error_kind(err) == SLUICE_ERR_UNSUPPORTED) {
      sluice_error_free(err);
      err = NULL;
      atomic_store(&b->s3->no_multi_delete, 1);
      multi = 0;
    }
  }
  free(body);
  if (!err && !multi) err = delete_one_by_one(b);
  for (size_t i = 0; i < b->n; i++) free(b->keys[i]);
  b->n = 0;
  return err;
}

sluice_error *sluice__s3_remove_all(void *svc, const char *dir) {
  sluice__s3 *s3 = svc;
  if (!*dir)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "s3: delete_all: refusing to delete the root");
  sluice__list *l;
  sluice_error *err = sluice__s3_service.list(s3, dir, 1, &l);
  if (err) return err;
  del_batch *b = calloc(1, sizeof(*b));
  if (!b) {
    l->vt->free(l);
    return sluice__error_oom();
  }
  b->s3 = s3;
  b->rootlen = strlen(s3->cfg.root);
  b->dir = dir;
  for (;;) {
    char *path;
    if ((err = sluice__list_next_path(l, &path)) || !path) break;
    /* A key outside dir fails the whole call before its batch is sent. */
    if ((err = sluice__path_listed_under("s3: delete_all", dir, path))) {
      free(path);
      break;
    }
    char *key = sluice__s3_key(s3, path);
    free(path);
    if (!key) {
      err = sluice__error_oom();
      break;
    }
    b->keys[b->n++] = key;
    if (b->n == SLUICE__S3_MAX_DELETE_KEYS && (err = flush_batch(b))) break;
  }
  if (!err) err = flush_batch(b);
  for (size_t i = 0; i < b->n; i++) free(b->keys[i]);
  free(b);
  l->vt->free(l);
  return err;
}

/* ================================================================== */
/* copy                                                                */
/* ================================================================== */

typedef struct copy_job {
  sluice__s3 *s3;
  const char *src, *dst; /* user paths */
  char *dst_key;
  char *copy_source;    /* "/bucket/<url-encoded source key>" */
  const char *src_etag; /* from the HEAD; NULL when it gave none */
  const sluice__write_params *p;
  /* The store answered x-amz-copy-source-if-match with 412 although the
   * source still has that ETag (Swift does for multipart sources): the
   * rest of this copy goes without it. */
  atomic_int unpinned;
} copy_job;

/* Checks the 200 reply of CopyObject / UploadPartCopy, which S3 uses to
 * report a failure that happened during the copy (an <Error> document:
 * sluice__s3_error_from_reply(200, ...), so InternalError is retryable).
 * With etag, also takes the <ETag> of the <root> result (UploadPartCopy
 * sends it only there; *etag malloc'd). */
static sluice_error *copy_result(const sluice__httpreq_req *r, const char *root, char **etag) {
  const char *body = r->resp.data ? r->resp.data : "";
  char *code = NULL, *message = NULL;
  if (sluice__s3_xml_error(body, r->resp.len, &code, &message) == 0) {
    sluice_error *err = sluice__s3_error_from_reply(200, code, message, r->op, r->path);
    free(code);
    free(message);
    return err;
  }
  if (!etag) return NULL;
  return sluice__s3_xml_copy_etag(body, r->resp.len, root, r->op, etag);
}

/* The source is no longer the version the HEAD saw.  Takes err. */
static sluice_error *source_changed(const copy_job *j, sluice_error *err) {
  sluice_error_free(err);
  return sluice__error_set_http_status(
      sluice__error(SLUICE_ERR_CONDITION_NOT_MATCH,
                    "s3: copy '%s' to '%s': the source changed during the copy (its ETag is no "
                    "longer %s)",
                    j->src, j->dst, j->src_etag),
      412);
}

/* NULL when the source still has the ETag the copy started from; else
 * source_changed(), or the HEAD's error.  Takes err. */
static sluice_error *source_unchanged(const copy_job *j, sluice_error *err) {
  sluice_metadata m = {.mtime = -1};
  sluice_error *head = sluice__s3_head(j->s3, j->src, &m);
  int same = !head && m.etag && strcmp(m.etag, j->src_etag) == 0;
  sluice__metadata_clear(&m);
  if (head) {
    sluice_error_free(err);
    return head;
  }
  if (!same) return source_changed(j, err);
  sluice_error_free(err);
  return NULL;
}

/* err came from a request that carried x-amz-copy-source-if-match: was it
 * that condition's 412?  With if_not_exists, If-None-Match: * went too and
 * sluice__s3_perform_conditional reported the 412 as ALREADY_EXISTS, which
 * holds only if dst is really there. */
static int pin_failed(const copy_job *j, const sluice_error *err) {
  if (sluice_error_kind(err) == SLUICE_ERR_CONDITION_NOT_MATCH ||
      sluice_error_http_status(err) == 412)
    return 1;
  if (sluice_error_kind(err) != SLUICE_ERR_ALREADY_EXISTS) return 0;
  sluice_metadata m = {.mtime = -1};
  sluice_error *head = sluice__s3_head(j->s3, j->dst, &m);
  sluice__metadata_clear(&m);
  int absent = head && sluice_error_kind(head) == SLUICE_ERR_NOT_FOUND;
  sluice_error_free(head);
  return absent;
}

/* Runs a copy request (r has every header but the source pin) with
 * perform_checked(), pinned to the source's ETag.  A 412 of the pin with
 * the source unchanged means the store cannot match that ETag: the request
 * goes again without it, and so does the rest of the copy. */
static sluice_error *perform_copy(copy_job *j, sluice__httpreq_req *r, int if_not_exists,
                                  reply_check check, void *arg) {
  size_t nheaders = r->nheaders;
  int pinned = j->src_etag && !atomic_load(&j->unpinned);
  if (pinned) sluice__httpreq_header(r, "x-amz-copy-source-if-match", j->src_etag);
  sluice_error *err = perform_checked(j->s3, r, if_not_exists, check, arg);
  if (!err || !pinned || !pin_failed(j, err)) return err;
  if ((err = source_unchanged(j, err))) return err;
  atomic_store(&j->unpinned, 1);
  r->nheaders = nheaders; /* without the pin */
  r->attempts = 0;
  return perform_checked(j->s3, r, if_not_exists, check, arg);
}

/* dst must not exist (if_not_exists): checked before anything is copied.
 * The request that creates dst checks again (If-None-Match: *, or a HEAD
 * just before it on stores without conditional writes). */
static sluice_error *check_dst_absent(const copy_job *j) {
  sluice_metadata m = {.mtime = -1};
  sluice_error *err = sluice__s3_head(j->s3, j->dst, &m);
  sluice__metadata_clear(&m);
  if (!err)
    return sluice__error(SLUICE_ERR_ALREADY_EXISTS,
                         "s3: copy '%s' to '%s': the object already exists", j->src, j->dst);
  if (sluice_error_kind(err) != SLUICE_ERR_NOT_FOUND) return err;
  sluice_error_free(err);
  return NULL;
}

static sluice_error *check_copy_object(sluice__httpreq_req *r, void *arg) {
  (void)arg;
  return copy_result(r, "CopyObjectResult", NULL);
}

static sluice_error *check_complete(sluice__httpreq_req *r, void *arg) {
  (void)arg;
  return sluice__s3_xml_complete_result(r->resp.data ? r->resp.data : "", r->resp.len,
                                        "CompleteMultipartUpload", r->path);
}

static sluice_error *check_part(sluice__httpreq_req *r, void *arg) {
  char **etag = arg;
  free(*etag);
  *etag = NULL;
  return copy_result(r, "CopyPartResult", etag);
}

/* One CopyObject (sources up to 5 GiB). */
static sluice_error *copy_object(copy_job *j) {
  sluice__httpreq_req r = {.op = "CopyObject", .path = j->dst, .method = "PUT", .key = j->dst_key};
  sluice__httpreq_header(&r, "x-amz-copy-source", j->copy_source);
  if (j->p->content_type) {
    sluice__httpreq_header(&r, "x-amz-metadata-directive", "REPLACE");
    sluice__httpreq_header(&r, "Content-Type", j->p->content_type);
  } else {
    sluice__httpreq_header(&r, "x-amz-metadata-directive", "COPY");
  }
  sluice_error *err = perform_copy(j, &r, j->p->if_not_exists, check_copy_object, NULL);
  sluice__httpreq_req_cleanup(&r);
  return err;
}

/* ---- UploadPartCopy, for sources over the CopyObject limit ---- */

typedef struct part_copy {
  copy_job *j;
  const char *upload_id;
  uint64_t size, part_size;
  size_t nparts;
  char **etags;       /* by part index */
  atomic_size_t next; /* next part index to take */
  atomic_int failed;
  pthread_mutex_t lock; /* err */
  sluice_error *err;    /* the first failure */
} part_copy;

static sluice_error *copy_part(part_copy *pc, size_t i) {
  copy_job *j = pc->j;
  uint64_t first = (uint64_t)i * pc->part_size;
  uint64_t last = (pc->size - first > pc->part_size ? first + pc->part_size : pc->size) - 1;
  char number[16], range[64];
  snprintf(number, sizeof(number), "%zu", i + 1);
  snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
  sluice__httpreq_req r = {
      .op = "UploadPartCopy", .path = j->dst, .method = "PUT", .key = j->dst_key};
  sluice__httpreq_query(&r, "partNumber", number);
  sluice__httpreq_query(&r, "uploadId", pc->upload_id);
  sluice__httpreq_header(&r, "x-amz-copy-source", j->copy_source);
  sluice__httpreq_header(&r, "x-amz-copy-source-range", range);
  char *etag = NULL;
  sluice_error *err = perform_copy(j, &r, 0, check_part, &etag);
  sluice__httpreq_req_cleanup(&r);
  if (err) {
    free(etag);
    sluice__error_append(err, " (part %zu of %zu)", i + 1, pc->nparts);
    return err;
  }
  pc->etags[i] = etag;
  return NULL;
}

/* A copy thread: takes part indexes until none is left or a part failed. */
static void *part_worker(void *arg) {
  part_copy *pc = arg;
  while (!atomic_load(&pc->failed)) {
    size_t i = atomic_fetch_add(&pc->next, 1);
    if (i >= pc->nparts) break;
    sluice_error *err = copy_part(pc, i);
    if (!err) continue;
    pthread_mutex_lock(&pc->lock);
    if (!pc->err)
      pc->err = err;
    else
      sluice_error_free(err);
    pthread_mutex_unlock(&pc->lock);
    atomic_store(&pc->failed, 1);
  }
  return NULL;
}

/* Copies every part with up to `concurrent` requests in flight. */
static sluice_error *copy_parts(part_copy *pc, unsigned concurrent) {
  size_t nthreads = concurrent < MAX_COPY_THREADS ? concurrent : MAX_COPY_THREADS;
  if (nthreads > pc->nparts) nthreads = pc->nparts;
  pthread_t th[MAX_COPY_THREADS];
  size_t started = 0;
  /* The calling thread is one of them; fewer threads if some cannot start. */
  while (started + 1 < nthreads && pthread_create(&th[started], NULL, part_worker, pc) == 0)
    started++;
  part_worker(pc);
  for (size_t t = 0; t < started; t++) pthread_join(th[t], NULL);
  return pc->err;
}

static void abort_upload(const copy_job *j, const char *upload_id) {
  sluice__httpreq_req r = {
      .op = "AbortMultipartUpload", .path = j->dst, .method = "DELETE", .key = j->dst_key};
  sluice__httpreq_query(&r, "uploadId", upload_id);
  /* The copy already carries its first error.  An upload that cannot be
   * aborted is left for the bucket's lifecycle rule. */
  sluice_error_free(sluice__s3_perform(j->s3, &r));
  sluice__httpreq_req_cleanup(&r);
}

static sluice_error *complete_upload(const copy_job *j, const char *upload_id, char **etags,
                                     size_t nparts) {
  char *body = NULL;
  size_t len = 0;
  sluice_error *err = sluice__s3_xml_complete_body((const char *const *)etags, nparts, &body, &len);
  if (err) return err;
  sluice__httpreq_req r = {.op = "CompleteMultipartUpload",
                           .path = j->dst,
                           .method = "POST",
                           .key = j->dst_key,
                           .body = (const unsigned char *)body,
                           .body_len = len};
  sluice__httpreq_query(&r, "uploadId", upload_id);
  err = perform_checked(j->s3, &r, j->p->if_not_exists, check_complete, NULL);
  sluice__httpreq_req_cleanup(&r);
  free(body);
  return err;
}

/* Multipart copy: CreateMultipartUpload, UploadPartCopy for every range,
 * CompleteMultipartUpload; aborted on any failure. */
static sluice_error *copy_multipart(copy_job *j, uint64_t size, const char *src_type) {
  /* The writer's part size, raised until 10,000 parts hold the object (in
   * whole MiB), within S3's part limits. */
  uint64_t part = j->p->chunk < SLUICE__S3_MIN_PART ? SLUICE__S3_MIN_PART : j->p->chunk;
  uint64_t need = (size + SLUICE__S3_MAX_PARTS - 1) / SLUICE__S3_MAX_PARTS;
  need = (need + MiB - 1) / MiB * MiB;
  if (need > part) part = need;
  if (part > SLUICE__S3_MAX_PART) part = SLUICE__S3_MAX_PART;
  uint64_t nparts = (size + part - 1) / part;
  if (nparts > SLUICE__S3_MAX_PARTS)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "s3: copy '%s' to '%s': %" PRIu64
                         " bytes is more than 10,000 parts of 5 GiB",
                         j->src, j->dst, size);
  const char *type = j->p->content_type ? j->p->content_type : src_type;
  sluice__httpreq_req r = {
      .op = "CreateMultipartUpload", .path = j->dst, .method = "POST", .key = j->dst_key};
  sluice__httpreq_query(&r, "uploads", "");
  if (type) sluice__httpreq_header(&r, "Content-Type", type);
  /* As an upload does: what a download checks the ETag with. */
  char part_size[24];
  snprintf(part_size, sizeof(part_size), "%" PRIu64, part);
  sluice__httpreq_header(&r, SLUICE__S3_PART_SIZE_META, part_size);
  char *upload_id = NULL;
  sluice_error *err = sluice__s3_perform(j->s3, &r);
  if (!err) err = sluice__s3_xml_upload_id(r.resp.data ? r.resp.data : "", r.resp.len, &upload_id);
  sluice__httpreq_req_cleanup(&r);
  if (err) return err;

  part_copy pc = {
      .j = j, .upload_id = upload_id, .size = size, .part_size = part, .nparts = (size_t)nparts};
  atomic_init(&pc.next, 0);
  atomic_init(&pc.failed, 0);
  pthread_mutex_init(&pc.lock, NULL);
  if (!(pc.etags = calloc((size_t)nparts, sizeof(*pc.etags)))) err = sluice__error_oom();
  if (!err) err = copy_parts(&pc, j->p->concurrent);
  /* Parts copied without the pin may come from two versions: complete
   * only if the source is still the one the copy started from. */
  if (!err && atomic_load(&j->unpinned)) err = source_unchanged(j, NULL);
  if (!err) err = complete_upload(j, upload_id, pc.etags, pc.nparts);
  if (err) abort_upload(j, upload_id);
  for (size_t i = 0; pc.etags && i < pc.nparts; i++) free(pc.etags[i]);
  free(pc.etags);
  pthread_mutex_destroy(&pc.lock);
  free(upload_id);
  return err;
}

sluice_error *sluice__s3_copy(void *svc, const char *src, const char *dst,
                              const sluice__write_params *p) {
  sluice__s3 *s3 = svc;
  /* The s3 writer's own options would need the whole metadata replaced
   * (x-amz-metadata-directive: REPLACE) with the writer's parsing of them:
   * refused rather than ignored until copy takes them. */
  static const char *const writer_only[] = {"cache_control", "user_metadata"};
  for (size_t i = 0; i < sizeof(writer_only) / sizeof(writer_only[0]); i++)
    if (sluice_options_get(p->opts, writer_only[i]))
      return sluice__error(SLUICE_ERR_UNSUPPORTED,
                           "s3: copy '%s' to '%s': option %s is not supported by copy", src, dst,
                           writer_only[i]);
  if (p->content_type)
    for (const char *c = p->content_type; *c; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                             "s3: copy '%s' to '%s': content_type holds a control character", src,
                             dst);
  sluice_metadata m = {.mtime = -1};
  sluice_error *err = sluice__s3_head(s3, src, &m);
  if (err) {
    sluice__metadata_clear(&m);
    return sluice__error_append(err, " (the source of a copy to '%s')", dst);
  }
  copy_job j = {.s3 = s3, .src = src, .dst = dst, .src_etag = m.etag, .p = p};
  atomic_init(&j.unpinned, 0);
  char *src_key = sluice__s3_key(s3, src), *enc = NULL;
  j.dst_key = sluice__s3_key(s3, dst);
  if (!src_key || !j.dst_key) err = sluice__error_oom();
  /* S3 wants the source URL-encoded; so does Swift, which takes a raw
   * UTF-8 source for Latin-1 and answers NoSuchKey. */
  if (!err) err = sluice__uri_encode(src_key, strlen(src_key), 1, &enc);
  if (!err && asprintf(&j.copy_source, "/%s/%s", s3->cfg.bucket, enc) < 0) {
    j.copy_source = NULL;
    err = sluice__error_oom();
  }
  if (!err && p->if_not_exists) err = check_dst_absent(&j);
  if (!err) {
    if (strcmp(src, dst) == 0 && !p->content_type) {
      /* Onto itself with nothing to change: S3 refuses that request, and
       * the object already is what the copy would make. */
    } else if (m.size <= atomic_load(&copy_part_threshold)) {
      err = copy_object(&j);
    } else {
      err = copy_multipart(&j, m.size, m.content_type);
    }
  }
  free(src_key);
  free(enc);
  free(j.dst_key);
  free(j.copy_source);
  sluice__metadata_clear(&m);
  return err;
}
