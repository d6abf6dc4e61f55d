/* SPDX-License-Identifier: MIT */
/*
 * Writing an S3 object.  An object that fits in its first chunk is one
 * PutObject, sent at close (the chunk is kept until then, so nothing is
 * visible before close; this is the one place a writer holds one chunk
 * beyond its pool); anything larger is a multipart upload: CreateMultipartUpload
 * when the first part needs it, UploadPart for every chunk as soon as it
 * is full (up to `concurrent` in flight, in any order), and on close
 * CompleteMultipartUpload with the ETags in part order.  Any failure or
 * cancel aborts the upload so nothing is left behind.
 *
 * Each writer worker owns one curl multi handle and per_worker easy
 * handles (curl forbids sharing a handle between threads); it sleeps in
 * curl_multi_poll and is woken with curl_multi_wakeup.  A part's chunk
 * stays with the part until it succeeds, so a retry resends it without
 * re-reading the source.
 *
 * Integrity (option checksum; docs/design.md, "Checksums"): every part
 * and every PutObject carries a checksum of its bytes, computed while they
 * are in the chunk, that the store checks (BadDigest on a mismatch, which
 * is retried: the chunk is still here).  Which one depends on what the
 * store verifies: x-amz-checksum-* only where the store shows it knows
 * them (its reply to CreateMultipartUpload names the algorithm back, or
 * its reply to a PutObject echoes the value sent, as AWS's do), else
 * Content-MD5, which every S3 store checks.  What a store has shown is
 * remembered by the operator (ck_verified), so after the first object of a
 * tree the small ones carry the CRC alone, not an MD5 as well.  For the
 * full-object CRCs, the parts' CRCs are combined in order into the
 * object's, sent at Complete and compared with the value the store
 * reports.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "checksum.h"
#include "error.h"
#include "s3/s3.h"
#include "s3/s3_error.h"
#include "s3/xml.h"

#define PARTS_PER_WORKER 8u
#define SLUICE__S3_MAX_META 8
/* Largest object S3 accepts: 10,000 parts of 5 GiB (AWS's user guide says
 * "up to 50 TB" since 2025; it was 5 TiB before, and some compatible
 * stores still stop there and answer with their own error). */
#define MAX_OBJECT (SLUICE__S3_MAX_PARTS * SLUICE__S3_MAX_PART)

typedef struct s3_sink {
  sluice__sink base;
  sluice__s3 *s3;
  char *key, *path;
  char *content_type;
  char *cache_control;
  /* x-amz-meta-* headers from user_metadata, names and values owned. */
  char *meta_names[SLUICE__S3_MAX_META], *meta_values[SLUICE__S3_MAX_META];
  size_t nmeta;
  int if_not_exists;
  pthread_mutex_t lock; /* upload_id creation and the etags table */
  char *upload_id;
  sluice_error *create_err; /* CreateMultipartUpload failed: every part fails */
  char **etags;             /* by part index */
  size_t netags;
  struct part_sum { /* by part index, beside etags */
    uint64_t crc, len;
    char b64[SLUICE__CK_MAX_B64];
  } * sums;
  sluice__ck_alg ck_alg; /* the x-amz-checksum algorithm; NONE: none */
  int ck_auto;           /* option absent or "auto": the x-amz one only where verified */
  int ck_md5;            /* "md5", or auto: Content-MD5 (where no x-amz one is verified) */
  int ck_store;          /* Create's reply named ck_alg back: the store checks it */
  unsigned char *single; /* the whole object, when it fits in one chunk */
  size_t single_len;
  int have_single;
  atomic_int interrupted; /* a job's cancel: synchronous requests stop */
  int done;               /* committed or aborted */
} s3_sink;

typedef struct part {
  sluice__httpreq_req req;
  sluice__chunk *chunk;
  char number[16];
  char ck_b64[SLUICE__CK_MAX_B64]; /* x-amz-checksum-<alg> of this part */
  uint64_t crc;                    /* its CRC, for the object's */
  int active;                      /* in the multi handle */
  int waiting;                     /* failed, retry at req.retry_at_ms */
} part;

typedef struct s3_worker {
  s3_sink *sink;
  CURLM *multi;
  part parts[PARTS_PER_WORKER];
} s3_worker;

/* Headers that describe the object: sent with PutObject and with
 * CreateMultipartUpload (parts carry none). */
static void object_headers(const s3_sink *ss, sluice__httpreq_req *r) {
  if (ss->content_type) sluice__httpreq_header(r, "Content-Type", ss->content_type);
  if (ss->cache_control) sluice__httpreq_header(r, "Cache-Control", ss->cache_control);
  for (size_t i = 0; i < ss->nmeta; i++)
    sluice__httpreq_header(r, ss->meta_names[i], ss->meta_values[i]);
}

/* user_metadata "k1=v1&k2=v2" -> x-amz-meta-k1: v1 ... */
static sluice_error *parse_metadata(s3_sink *ss, const char *spec) {
  const char *p = spec;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (!eq || eq == p || ss->nmeta == SLUICE__S3_MAX_META)
      return sluice__error(
          SLUICE_ERR_INVALID_ARGUMENT,
          "s3: write '%s': user_metadata must be up to %d 'name=value' pairs joined "
          "by '&'",
          ss->path, SLUICE__S3_MAX_META);
    for (const char *c = p; c < eq; c++)
      if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_'))
        return sluice__error(
            SLUICE_ERR_INVALID_ARGUMENT,
            "s3: write '%s': user_metadata name '%.*s' may hold only letters, digits, "
            "'-' and '_'",
            ss->path, (int)(eq - p), p);
    for (const char *c = eq + 1; c < p + len; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        return sluice__error(
            SLUICE_ERR_INVALID_ARGUMENT,
            "s3: write '%s': user_metadata value of '%.*s' holds a control character", ss->path,
            (int)(eq - p), p);
    if ((size_t)(eq - p) == strlen(SLUICE__S3_PART_SIZE_META) - 11 &&
        !strncasecmp(p, SLUICE__S3_PART_SIZE_META + 11, (size_t)(eq - p)))
      return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                           "s3: write '%s': user_metadata name '%.*s' is sluice's own (the part "
                           "size a download checks the ETag with)",
                           ss->path, (int)(eq - p), p);
    char *name = NULL, *value = strndup(eq + 1, (size_t)(p + len - eq - 1));
    if (asprintf(&name, "x-amz-meta-%.*s", (int)(eq - p), p) < 0) name = NULL;
    if (!name || !value) {
      free(name);
      free(value);
      return sluice__error_oom();
    }
    ss->meta_names[ss->nmeta] = name;
    ss->meta_values[ss->nmeta++] = value;
    p += len + (amp ? 1 : 0);
  }
  return NULL;
}

static sluice_error *not_exists_error(const char *path, sluice_error *err) {
  /* If-None-Match: * that fails is 412: the object exists.  (Swift says
   * 412 with code InvalidRequest, hence the status check.) */
  if (sluice_error_kind(err) != SLUICE_ERR_CONDITION_NOT_MATCH &&
      sluice_error_http_status(err) != 412)
    return err;
  sluice_error_free(err);
  return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "s3: write '%s': the object already exists",
                       path);
}

/* FULL_OBJECT for the CRCs (the object's own CRC, whatever the part
 * size); SHA-256 has only COMPOSITE (a digest of the parts' digests). */
static const char *checksum_type(sluice__ck_alg alg) {
  return sluice__ck_is_crc(alg) ? "FULL_OBJECT" : "COMPOSITE";
}

/* Creates the multipart upload once; the first part to need it waits. */
static sluice_error *ensure_upload(s3_sink *ss) {
  pthread_mutex_lock(&ss->lock);
  sluice_error *err = NULL;
  if (!ss->upload_id && !ss->create_err && atomic_load(&ss->interrupted)) {
    ss->create_err =
        sluice__error(SLUICE_ERR_CANCELED, "s3: CreateMultipartUpload '%s': canceled", ss->path);
  } else if (!ss->upload_id && !ss->create_err) {
    /* Not interruptible: a create cut off after the server acted on it
     * leaves an upload whose id never arrives, which nobody can abort.  It
     * is one short request; the cancel is honoured right after it. */
    sluice__httpreq_req r = {.op = "CreateMultipartUpload",
                             .retries = ss->base.retries,
                             .path = ss->path,
                             .method = "POST",
                             .key = ss->key};
    sluice__httpreq_query(&r, "uploads", "");
    object_headers(ss, &r);
    /* Every part but the last has this size (the writer fixed it before
     * the first part): a download checks the object's ETag with it where
     * the store keeps no checksum (lib/s3/s3.c). */
    char part_size[24];
    snprintf(part_size, sizeof(part_size), "%zu", ss->base.chunk);
    sluice__httpreq_header(&r, SLUICE__S3_PART_SIZE_META, part_size);
    if (ss->ck_alg) {
      sluice__httpreq_header(&r, "x-amz-checksum-algorithm", sluice__ck_s3_name(ss->ck_alg));
      sluice__httpreq_header(&r, "x-amz-checksum-type", checksum_type(ss->ck_alg));
    }
    err = sluice__s3_perform(ss->s3, &r);
    if (!err)
      err = sluice__s3_xml_upload_id(r.resp.data ? r.resp.data : "", r.resp.len, &ss->upload_id);
    /* The recognition: a store that checks x-amz-checksum-* says which
     * algorithm the upload has (AWS: x-amz-checksum-algorithm in the
     * reply); Swift 2.30 ignores the headers and says nothing. */
    ss->ck_store =
        !err && ss->ck_alg && !strcasecmp(r.checksum_algorithm, sluice__ck_s3_name(ss->ck_alg));
    if (ss->ck_store) atomic_fetch_or(&ss->s3->ck_verified, 1u << ss->ck_alg);
    sluice__httpreq_req_cleanup(&r);
    ss->create_err = err;
  }
  err = sluice__error_copy(ss->create_err);
  pthread_mutex_unlock(&ss->lock);
  return err;
}

static sluice_error *record_etag(s3_sink *ss, uint64_t index, const char *etag, const part *p) {
  if (!*etag)
    return sluice__error(SLUICE_ERR_UNEXPECTED,
                         "s3: UploadPart '%s' part %" PRIu64 ": no ETag in the reply", ss->path,
                         index + 1);
  char *copy = strdup(etag);
  if (!copy) return sluice__error_oom();
  pthread_mutex_lock(&ss->lock);
  if (index >= ss->netags) {
    size_t n = ss->netags ? ss->netags : 64;
    while (n <= index) n *= 2;
    char **t = realloc(ss->etags, n * sizeof(*t));
    if (t) ss->etags = t;
    struct part_sum *s = t ? realloc(ss->sums, n * sizeof(*s)) : NULL;
    if (!s) {
      pthread_mutex_unlock(&ss->lock);
      free(copy);
      return sluice__error_oom();
    }
    memset(t + ss->netags, 0, (n - ss->netags) * sizeof(*t));
    memset(s + ss->netags, 0, (n - ss->netags) * sizeof(*s));
    ss->sums = s;
    ss->netags = n;
  }
  free(ss->etags[index]);
  ss->etags[index] = copy;
  ss->sums[index].crc = p->crc;
  ss->sums[index].len = p->chunk->len;
  memcpy(ss->sums[index].b64, p->ck_b64, sizeof(p->ck_b64));
  pthread_mutex_unlock(&ss->lock);
  return NULL;
}

/* The integrity headers of an UploadPart (Create has run, so ck_store is
 * known): the x-amz-checksum one where the store checks it or the user
 * asked for it by name, and Content-MD5 wherever the store is not known to
 * check the x-amz one (so no part goes unverified when MD5 would be). */
static sluice_error *part_checksum(s3_sink *ss, part *p, const unsigned char *buf, size_t len) {
  int send_ck = ss->ck_alg && (ss->ck_store || !ss->ck_auto);
  p->req.content_md5 = !ss->ck_store && (ss->ck_md5 || send_ck);
  if (!send_ck) return NULL;
  if (sluice__ck_is_crc(ss->ck_alg)) {
    p->crc = sluice__ck_crc(ss->ck_alg, 0, buf, len);
    sluice__ck_crc_b64(ss->ck_alg, p->crc, p->ck_b64);
  } else {
    sluice_error *err = sluice__ck_b64_of(ss->ck_alg, buf, len, p->ck_b64);
    if (err) return err;
  }
  sluice__httpreq_header(&p->req, sluice__ck_header(ss->ck_alg), p->ck_b64);
  return NULL;
}

/* ---- the worker side ---- */

static sluice_error *w_init(sluice__sink *s, void **wctx) {
  s3_worker *w = calloc(1, sizeof(*w));
  if (!w) return sluice__error_oom();
  w->sink = (s3_sink *)s;
  if (!(w->multi = curl_multi_init())) {
    free(w);
    return sluice__error_oom();
  }
  *wctx = w;
  return NULL;
}

static part *free_slot(s3_worker *w) {
  for (unsigned i = 0; i < PARTS_PER_WORKER; i++)
    if (!w->parts[i].chunk) return &w->parts[i];
  return NULL;
}

static void start_attempt(s3_worker *w, part *p) {
  sluice_error *err = sluice__httpreq_setup(&w->sink->s3->net, &p->req);
  if (!err && curl_multi_add_handle(w->multi, p->req.easy) != CURLM_OK)
    err = sluice__error(SLUICE_ERR_UNEXPECTED, "s3: %s '%s': curl_multi_add_handle failed",
                        p->req.op, w->sink->path);
  if (err) {
    sluice__chunk *c = p->chunk;
    p->chunk = NULL;
    w->sink->base.part_done(c, err);
    return;
  }
  p->active = 1;
}

static void w_submit(sluice__sink *s, void *wctx, sluice__chunk *c) {
  s3_worker *w = wctx;
  s3_sink *ss = (s3_sink *)s;
  part *p = free_slot(w);
  if (!p) { /* cannot happen: the pipeline keeps at most per_worker here */
    s->part_done(c, sluice__error(SLUICE_ERR_UNEXPECTED, "s3: no free part slot"));
    return;
  }
  CURL *easy = p->req.easy;
  memset(&p->req, 0, sizeof(p->req));
  p->req.easy = easy;
  p->chunk = c;
  p->req.retries = ss->base.retries;
  p->req.path = ss->path;
  p->req.key = ss->key;
  p->req.method = "PUT";
  p->req.body = c->buf;
  p->req.body_len = c->len;
  p->ck_b64[0] = '\0';
  p->crc = 0;
  if (c->index == 0 && c->last) {
    /* The whole object is this chunk: one PutObject, at commit. */
    p->chunk = NULL;
    sluice_error *err = NULL;
    pthread_mutex_lock(&ss->lock);
    if (!(ss->single = malloc(c->len ? c->len : 1)))
      err = sluice__error_oom();
    else
      memcpy(ss->single, c->buf, c->len);
    ss->single_len = c->len;
    ss->have_single = !err;
    pthread_mutex_unlock(&ss->lock);
    s->part_done(c, err);
    return;
  } else {
    if (c->index >= SLUICE__S3_MAX_PARTS) {
      p->chunk = NULL;
      s->part_done(c, sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                                    "s3: write '%s': more than %u parts; use a larger chunk "
                                    "(a stream can hold at most chunk x %u bytes)",
                                    ss->path, SLUICE__S3_MAX_PARTS, SLUICE__S3_MAX_PARTS));
      return;
    }
    sluice_error *err = ensure_upload(ss);
    if (err) {
      p->chunk = NULL;
      s->part_done(c, err);
      return;
    }
    p->req.op = "UploadPart";
    snprintf(p->number, sizeof(p->number), "%" PRIu64, c->index + 1);
    sluice__httpreq_query(&p->req, "partNumber", p->number);
    sluice__httpreq_query(&p->req, "uploadId", ss->upload_id);
    if ((err = part_checksum(ss, p, c->buf, c->len))) {
      p->chunk = NULL;
      s->part_done(c, err);
      return;
    }
  }
  start_attempt(w, p);
}

static void finish_part(s3_worker *w, part *p, CURLcode rc) {
  s3_sink *ss = w->sink;
  curl_multi_remove_handle(w->multi, p->req.easy);
  p->active = 0;
  int retry;
  sluice_error *err = sluice__httpreq_finish(&ss->s3->net, &p->req, rc, &retry);
  if (err && retry && p->req.attempts < ss->s3->cfg.net.max_attempts) {
    sluice_error_free(err);
    p->waiting = 1;
    p->req.retry_at_ms = sluice__httpreq_now_ms() + sluice__httpreq_backoff_ms(p->req.attempts);
    return;
  }
  if (err && sluice_error_http_status(err))
    err = sluice__httpreq_error_note_attempts(err, (int)p->req.attempts);
  sluice__chunk *c = p->chunk;
  if (!err) err = record_etag(ss, c->index, p->req.etag, p);
  sluice__httpreq_req_cleanup(&p->req);
  p->chunk = NULL;
  ss->base.part_done(c, err);
}

/* Runs curl and reports finished parts; returns how many finished. */
static int pump(s3_worker *w) {
  int running, done = 0;
  curl_multi_perform(w->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(w->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    part *p = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
    CURLcode rc = m->data.result;
    /* p->req is reused by finish_part: take what we need from m first. */
    finish_part(w, p, rc);
    done++;
  }
  return done;
}

static void w_drive(sluice__sink *s, void *wctx) {
  s3_worker *w = wctx;
  (void)s;
  if (pump(w)) return;
  /* Sleep until a socket is ready, a retry is due, or wake(). */
  int64_t now = sluice__httpreq_now_ms(), next = -1;
  for (unsigned i = 0; i < PARTS_PER_WORKER; i++) {
    part *p = &w->parts[i];
    if (!p->chunk || !p->waiting) continue;
    if (p->req.retry_at_ms <= now) {
      p->waiting = 0;
      start_attempt(w, p);
    } else if (next < 0 || p->req.retry_at_ms < next) {
      next = p->req.retry_at_ms;
    }
  }
  int timeout = next < 0 ? 1000 : (int)(next - now);
  curl_multi_poll(w->multi, NULL, 0, timeout, NULL);
  pump(w);
}

static void w_wake(sluice__sink *s, void *wctx) {
  (void)s;
  curl_multi_wakeup(((s3_worker *)wctx)->multi);
}

static void w_fini(sluice__sink *s, void *wctx) {
  s3_worker *w = wctx;
  for (unsigned i = 0; i < PARTS_PER_WORKER; i++) {
    part *p = &w->parts[i];
    if (p->chunk) {
      if (p->active) curl_multi_remove_handle(w->multi, p->req.easy);
      sluice__chunk *c = p->chunk;
      p->chunk = NULL;
      s->part_done(c, sluice__error(SLUICE_ERR_CANCELED, "s3: %s '%s': canceled",
                                    p->req.op ? p->req.op : "UploadPart", w->sink->path));
    }
    sluice__httpreq_req_cleanup(&p->req);
    if (p->req.easy) curl_easy_cleanup(p->req.easy);
  }
  curl_multi_cleanup(w->multi);
  free(w);
}

/* ---- commit and abort, on the caller's thread ---- */

static sluice_error *s3_size_hint(sluice__sink *s, uint64_t size) {
  s3_sink *ss = (s3_sink *)s;
  if (size > MAX_OBJECT)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "s3: write '%s': %" PRIu64
                         " bytes is more than S3's largest object "
                         "(10,000 parts of 5 GiB)",
                         ss->path, size);
  /* Grow the part size (in whole MiB) until 10,000 parts hold the object. */
  uint64_t need = (size + SLUICE__S3_MAX_PARTS - 1) / SLUICE__S3_MAX_PARTS;
  if (need > s->chunk) s->chunk = (size_t)(((need + (1u << 20) - 1) >> 20) << 20);
  return NULL;
}

/* if_not_exists on a store without conditional writes (Swift's s3api
 * answers 501): a HEAD just before the write.  Another writer can slip in
 * between the two; the store gives no way to close that window. */
static sluice_error *check_absent(sluice__s3 *s3, const char *path) {
  sluice_metadata m = {.mtime = -1};
  sluice_error *err = sluice__s3_head(s3, path, &m);
  sluice__metadata_clear(&m);
  if (!err)
    return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "s3: write '%s': the object already exists",
                         path);
  if (sluice_error_kind(err) != SLUICE_ERR_NOT_FOUND) return err;
  sluice_error_free(err);
  return NULL;
}

/* Runs r with If-None-Match: * when asked, falling back to check_absent()
 * on stores that refuse conditional writes.  See s3.h. */
sluice_error *sluice__s3_perform_conditional(sluice__s3 *s3, sluice__httpreq_req *r,
                                             int if_not_exists) {
  int conditional = if_not_exists && !atomic_load(&s3->no_conditional_writes);
  if (if_not_exists && !conditional) {
    sluice_error *err = check_absent(s3, r->path);
    if (err) return err;
  }
  if (conditional) sluice__httpreq_header(r, "If-None-Match", "*");
  sluice_error *err = sluice__s3_perform(s3, r);
  if (conditional && err && sluice_error_kind(err) == SLUICE_ERR_UNSUPPORTED) {
    sluice_error_free(err);
    atomic_store(&s3->no_conditional_writes, 1);
    r->nheaders--;
    r->attempts = 0;
    if ((err = check_absent(s3, r->path))) return err;
    err = sluice__s3_perform(s3, r);
  }
  return err && if_not_exists ? not_exists_error(r->path, err) : err;
}

/* A store's reported checksum of the whole object differs from ours: the
 * object is there (nothing can undo a commit) but it is not what was sent. */
static sluice_error *not_verified(const s3_sink *ss, const char *op, const char *theirs,
                                  const char *ours) {
  char shown[64];
  size_t n = 0;
  /* The store's text, shown only as the base64 it should be. */
  for (; theirs[n] && n < sizeof(shown) - 1; n++)
    shown[n] = isalnum((unsigned char)theirs[n]) || strchr("+/=-", theirs[n]) ? theirs[n] : '?';
  shown[n] = '\0';
  return sluice__error(SLUICE_ERR_IO,
                       "s3: %s '%s': the object is committed but did not verify: the store reports "
                       "%s %s, the data sent has %s",
                       op, ss->path, sluice__ck_s3_name(ss->ck_alg), shown, ours);
}

static sluice_error *put_body(s3_sink *ss, const unsigned char *body, size_t len) {
  if (!body) body = (const unsigned char *)"";
  /* Unless the store has shown that it checks x-amz-checksum-<alg>, this
   * request may be the one that tells: Content-MD5 goes too. */
  int known = ss->ck_alg && (atomic_load(&ss->s3->ck_verified) & (1u << ss->ck_alg));
  sluice__httpreq_req r = {.op = "PutObject",
                           .cancel = &ss->interrupted,
                           .retries = ss->base.retries,
                           .path = ss->path,
                           .method = "PUT",
                           .key = ss->key,
                           .body = body,
                           .body_len = len,
                           .content_md5 = !known && (ss->ck_md5 || ss->ck_alg)};
  char ck[SLUICE__CK_MAX_B64] = "";
  object_headers(ss, &r);
  sluice_error *err = ss->ck_alg ? sluice__ck_b64_of(ss->ck_alg, body, len, ck) : NULL;
  if (err) return err;
  if (ss->ck_alg) sluice__httpreq_header(&r, sluice__ck_header(ss->ck_alg), ck);
  err = sluice__s3_perform_conditional(ss->s3, &r, ss->if_not_exists);
  /* A store that checks the header echoes it; one that reports another
   * value for it has stored something else. */
  int echoed = !err && ss->ck_alg && r.checksum[0] &&
               !strcasecmp(r.checksum_name, sluice__ck_name(ss->ck_alg));
  if (echoed && strcmp(r.checksum, ck) != 0)
    err = not_verified(ss, "PutObject", r.checksum, ck);
  else if (echoed)
    atomic_fetch_or(&ss->s3->ck_verified, 1u << ss->ck_alg);
  sluice__httpreq_req_cleanup(&r);
  return err;
}

/* The object's checksum from its parts': the CRCs combined in part order;
 * for SHA-256 (COMPOSITE), the digest of the parts' digests and "-N". */
static sluice_error *object_checksum(const s3_sink *ss, uint64_t nparts,
                                     char out[SLUICE__CK_MAX_B64 + 8]) {
  if (sluice__ck_is_crc(ss->ck_alg)) {
    uint64_t acc = ss->sums[0].crc;
    for (uint64_t i = 1; i < nparts; i++)
      acc = sluice__ck_combine(ss->ck_alg, acc, ss->sums[i].crc, ss->sums[i].len);
    sluice__ck_crc_b64(ss->ck_alg, acc, out);
    return NULL;
  }
  sluice__checksum ck;
  sluice_error *err = sluice__ck_init(&ck, ss->ck_alg);
  if (err) return err;
  for (uint64_t i = 0; i < nparts; i++) {
    unsigned char raw[SLUICE__CK_MAX_RAW];
    if (sluice__ck_raw_from_b64(ss->ck_alg, ss->sums[i].b64, raw) != 0) {
      sluice__ck_cleanup(&ck);
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "s3: CompleteMultipartUpload '%s': part %" PRIu64 " has no checksum",
                           ss->path, i + 1);
    }
    sluice__ck_update(&ck, raw, sluice__ck_size(ss->ck_alg));
  }
  unsigned char raw[SLUICE__CK_MAX_RAW];
  sluice__ck_b64(raw, sluice__ck_final(&ck, raw), out);
  snprintf(out + strlen(out), 8, "-%" PRIu64, nparts);
  return NULL;
}

static sluice_error *complete(s3_sink *ss, uint64_t nparts) {
  for (uint64_t i = 0; i < nparts; i++)
    if (i >= ss->netags || !ss->etags[i])
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "s3: CompleteMultipartUpload '%s': part %" PRIu64 " has no ETag",
                           ss->path, i + 1);
  char *body = NULL;
  size_t len = 0;
  /* Part checksums go in the XML only when Create declared the algorithm
   * to a store that took it (AWS then requires them). */
  int with_ck = ss->ck_alg && ss->ck_store;
  char **cks = with_ck ? calloc(nparts, sizeof(*cks)) : NULL;
  char whole[SLUICE__CK_MAX_B64 + 8] = "";
  sluice_error *err = with_ck && !cks ? sluice__error_oom() : NULL;
  for (uint64_t i = 0; cks && i < nparts; i++) cks[i] = ss->sums[i].b64;
  if (!err && with_ck) err = object_checksum(ss, nparts, whole);
  if (!err)
    err = sluice__s3_xml_complete_body_checksums((const char *const *)ss->etags,
                                                 (const char *const *)cks,
                                                 sluice__ck_xml(ss->ck_alg), nparts, &body, &len);
  free(cks);
  if (err) return err;
  sluice__httpreq_req r = {.op = "CompleteMultipartUpload",
                           .cancel = &ss->interrupted,
                           .retries = ss->base.retries,
                           .path = ss->path,
                           .method = "POST",
                           .key = ss->key,
                           .body = (unsigned char *)body,
                           .body_len = len};
  sluice__httpreq_query(&r, "uploadId", ss->upload_id);
  if (with_ck && sluice__ck_is_crc(ss->ck_alg)) {
    /* The object's CRC, for the store to check against its own. */
    sluice__httpreq_header(&r, "x-amz-checksum-type", "FULL_OBJECT");
    sluice__httpreq_header(&r, sluice__ck_header(ss->ck_alg), whole);
  }
  err = sluice__s3_perform_conditional(ss->s3, &r, ss->if_not_exists);
  /* S3 may answer 200 and still report an error in the body. */
  if (!err)
    err = sluice__s3_xml_complete_result(r.resp.data ? r.resp.data : "", r.resp.len,
                                         "CompleteMultipartUpload", ss->path);
  if (!err && with_ck) {
    /* What the store says it holds, from the reply's XML (or its header). */
    char *theirs = NULL;
    err = sluice__s3_xml_complete_checksum(r.resp.data ? r.resp.data : "", r.resp.len,
                                           sluice__ck_xml(ss->ck_alg), &theirs);
    const char *t =
        theirs ? theirs
               : (!strcasecmp(r.checksum_name, sluice__ck_name(ss->ck_alg)) ? r.checksum : "");
    if (!err && *t && strcmp(t, whole) != 0)
      err = not_verified(ss, "CompleteMultipartUpload", t, whole);
    free(theirs);
  }
  sluice__httpreq_req_cleanup(&r);
  free(body);
  return err;
}

static sluice_error *s3_commit(sluice__sink *s, uint64_t total_size, uint64_t nparts) {
  s3_sink *ss = (s3_sink *)s;
  (void)total_size;
  if (ss->done) return NULL;
  sluice_error *err;
  if (!ss->upload_id)
    err = put_body(ss, ss->single, ss->single_len);
  else
    err = complete(ss, nparts);
  if (!err) ss->done = 1;
  return err;
}

/* A small object in one PutObject on the caller's thread, straight from
 * the caller's buffer: no worker, no copy (the tree job's small objects). */
static sluice_error *s3_put(sluice__sink *s, const void *buf, size_t len) {
  s3_sink *ss = (s3_sink *)s;
  sluice_error *err = put_body(ss, buf, len);
  if (!err) ss->done = 1;
  return err;
}

static void s3_abort(sluice__sink *s) {
  s3_sink *ss = (s3_sink *)s;
  if (ss->done) return;
  ss->done = 1;
  if (!ss->upload_id) return;
  sluice__httpreq_req r = {.op = "AbortMultipartUpload",
                           .retries = ss->base.retries,
                           .path = ss->path,
                           .method = "DELETE",
                           .key = ss->key};
  sluice__httpreq_query(&r, "uploadId", ss->upload_id);
  /* Nothing to report to: the writer already carries the first error.  An
   * upload that cannot be aborted is left for the bucket's lifecycle rule. */
  sluice_error_free(sluice__s3_perform(ss->s3, &r));
  sluice__httpreq_req_cleanup(&r);
}

static void s3_sink_free(sluice__sink *s) {
  s3_sink *ss = (s3_sink *)s;
  s3_abort(s);
  for (size_t i = 0; i < ss->netags; i++) free(ss->etags[i]);
  free(ss->etags);
  free(ss->sums);
  free(ss->upload_id);
  free(ss->single);
  sluice_error_free(ss->create_err);
  free(ss->content_type);
  free(ss->cache_control);
  for (size_t i = 0; i < ss->nmeta; i++) {
    free(ss->meta_names[i]);
    free(ss->meta_values[i]);
  }
  free(ss->key);
  free(ss->path);
  pthread_mutex_destroy(&ss->lock);
  free(ss);
}

static void s3_sink_interrupt(sluice__sink *s) { atomic_store(&((s3_sink *)s)->interrupted, 1); }

static const struct sluice__sink_vt s3_sink_vt = {
    .interrupt = s3_sink_interrupt,
    .worker_init = w_init,
    .submit = w_submit,
    .drive = w_drive,
    .wake = w_wake,
    .worker_fini = w_fini,
    .size_hint = s3_size_hint,
    .commit = s3_commit,
    .put = s3_put,
    .abort = s3_abort,
    .free = s3_sink_free,
};

sluice_error *sluice__s3_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out) {
  sluice__s3 *s3 = svc;
  if (p->chunk < SLUICE__S3_MIN_PART || p->chunk > SLUICE__S3_MAX_PART)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "s3: write '%s': chunk must be between 5 MiB and 5 GiB (S3 part limits)",
                         path);
  s3_sink *ss = calloc(1, sizeof(*ss));
  if (!ss) return sluice__error_oom();
  pthread_mutex_init(&ss->lock, NULL);
  ss->s3 = s3;
  ss->key = sluice__s3_key(s3, path);
  ss->path = strdup(path);
  ss->content_type = p->content_type ? strdup(p->content_type) : NULL;
  ss->if_not_exists = p->if_not_exists;
  ss->base.vt = &s3_sink_vt;
  ss->base.chunk = p->chunk;
  ss->base.per_worker = p->concurrent < PARTS_PER_WORKER ? p->concurrent : PARTS_PER_WORKER;
  ss->base.path = ss->path;
  const char *cc = sluice_options_get(p->opts, "cache_control");
  for (int i = 0; i < 2; i++) {
    const char *v = i ? cc : p->content_type;
    for (const char *c = v; c && *c; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f) {
        s3_sink_free(&ss->base);
        return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                             "s3: write '%s': %s holds a control character", path,
                             i ? "cache_control" : "content_type");
      }
  }
  if (cc) ss->cache_control = strdup(cc);
  if (!ss->key || !ss->path || (p->content_type && !ss->content_type) ||
      (cc && !ss->cache_control)) {
    s3_sink_free(&ss->base);
    return sluice__error_oom();
  }
  const char *ck = sluice_options_get(p->opts, "checksum");
  ss->ck_auto = !ck || !strcasecmp(ck, "auto");
  if (ss->ck_auto) {
    ss->ck_alg = SLUICE__CK_CRC64NVME;
    ss->ck_md5 = 1;
  } else if (sluice__ck_parse(ck, &ss->ck_alg) != 0) {
    s3_sink_free(&ss->base);
    return sluice__error(
        SLUICE_ERR_INVALID_ARGUMENT,
        "s3: write '%s': checksum must be auto, crc64nvme, crc32c, crc32, md5, sha256 "
        "or none",
        path);
  } else if (ss->ck_alg == SLUICE__CK_MD5) {
    ss->ck_alg = SLUICE__CK_NONE; /* Content-MD5, not an x-amz-checksum */
    ss->ck_md5 = 1;
  }
  const char *meta = sluice_options_get(p->opts, "user_metadata");
  sluice_error *merr = meta ? parse_metadata(ss, meta) : NULL;
  if (merr) {
    s3_sink_free(&ss->base);
    return merr;
  }
  if (p->if_not_exists) {
    /* Tell the user early; the conditional request at the end decides. */
    sluice_metadata m = {.mtime = -1};
    sluice_error *err = sluice__s3_head(s3, path, &m);
    sluice__metadata_clear(&m);
    if (!err)
      err = sluice__error(SLUICE_ERR_ALREADY_EXISTS, "s3: write '%s': the object already exists",
                          path);
    else if (sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND) {
      sluice_error_free(err);
      err = NULL;
    }
    if (err) {
      s3_sink_free(&ss->base);
      return err;
    }
  }
  *out = &ss->base;
  return NULL;
}
