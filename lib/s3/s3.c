/* SPDX-License-Identifier: MIT */
/* The s3 service: operator calls, listing and ranged reads. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "checksum.h"
#include "error.h"
#include "path.h"
#include "readcheck.h"
#include "s3/s3.h"
#include "s3/s3_error.h"
#include "s3/sigv4.h"
#include "s3/xml.h"
#include "strbuf.h"

/* Whether the request carries a checksum of its body the store verifies
 * (Content-MD5 or x-amz-checksum-*). */
static int has_body_checksum(const sluice__httpreq_pair *headers, size_t nheaders) {
  for (size_t i = 0; i < nheaders; i++)
    if (!strcasecmp(headers[i].name, "content-md5") ||
        (!strncasecmp(headers[i].name, "x-amz-checksum-", 15) &&
         strcasecmp(headers[i].name, "x-amz-checksum-algorithm") &&
         strcasecmp(headers[i].name, "x-amz-checksum-type")))
      return 1;
  return 0;
}

/* The engine's signer: SigV4 in the Authorization header, with the payload
 * hash computed on the first attempt and kept for the retries.  A body
 * with a checksum of its own goes as UNSIGNED-PAYLOAD (the store checks
 * that checksum; a SHA-256 on top was a fifth of a small object's CPU); a
 * small body without one (a request's XML) is signed, so no body reaches
 * the store unchecked.  sign_payload signs every body. */
static sluice_error *s3_sign(void *ctx, sluice__httpreq_req *r, const char *path,
                             const sluice__httpreq_pair *headers, size_t nheaders) {
  sluice__s3 *s3 = ctx;
  const sluice__s3_config *cfg = &s3->cfg;
  if (!r->payload_hash[0]) {
    sluice_error *err = NULL;
    if (cfg->sign_payload || !r->body ||
        (r->body_len < 65536 && !has_body_checksum(headers, nheaders)))
      err = sluice__sha256_hex(r->body, r->body ? r->body_len : 0, r->payload_hash);
    else
      strcpy(r->payload_hash, SLUICE__SIGV4_UNSIGNED_PAYLOAD);
    if (err) return err;
  }
  sluice__sigv4_request sreq = {
      .form = SLUICE__SIGV4_HEADER,
      .method = r->method,
      .path = path,
      .query = r->query,
      .n_query = r->nquery,
      .headers = headers,
      .n_headers = nheaders,
      .payload_hash = r->payload_hash,
      .add_content_sha256 = 1,
      .access_key_id = cfg->access_key_id,
      .secret_access_key = cfg->secret_access_key,
      .session_token = cfg->session_token,
      .region = cfg->region,
      .service = "s3",
      .key_cache = s3->keys,
      .when = time(NULL),
      .path_encoding = SLUICE__SIGV4_ENCODE_PATH_ONCE,
  };
  sluice__sigv4_result res = {0};
  sluice_error *err = sluice__sigv4_sign(&sreq, &res);
  for (size_t i = 0; !err && i < res.n_headers; i++)
    err = sluice__httpreq_add_header(r, res.headers[i].name, res.headers[i].value);
  sluice__sigv4_result_free(&res);
  return err;
}

/* The engine's error for a reply outside 2xx: from its <Error> document. */
static sluice_error *s3_reply_error(void *ctx, const sluice__httpreq_req *r) {
  (void)ctx;
  char *code = NULL, *message = NULL;
  if (r->resp.len) sluice__s3_xml_error(r->resp.data, r->resp.len, &code, &message);
  sluice_error *err = sluice__s3_error_from_reply((int)r->status, code, message, r->op, r->path);
  free(code);
  free(message);
  return err;
}

static sluice_error *s3_open(const sluice_options *config, void **svc) {
  sluice__s3 *s3 = calloc(1, sizeof(*s3));
  if (!s3) return sluice__error_oom();
  sluice_error *err = sluice__s3_config_load(config, &s3->cfg);
  if (err) {
    free(s3);
    return err;
  }
  sluice__httpreq *net = &s3->net;
  net->svc = "s3";
  net->set = &s3->cfg.net;
  net->hooks = (sluice__httpreq_hooks){
      .sign = s3->cfg.anonymous ? NULL : s3_sign, .reply_error = s3_reply_error, .ctx = s3};
  /* "https://host[:port]" -> host for the Host header, bucket placement by
   * addressing style. */
  const char *ep = s3->cfg.endpoint;
  const char *hostpart = strstr(ep, "://") + 3;
  size_t schemelen = (size_t)(hostpart - ep);
  int ok;
  if (s3->cfg.virtual_host_style) {
    ok = asprintf(&net->host, "%s.%s", s3->cfg.bucket, hostpart) >= 0 &&
         asprintf(&net->scheme_host, "%.*s%s", (int)schemelen, ep, net->host) >= 0 &&
         (net->base_path = strdup("")) != NULL;
  } else {
    ok = (net->host = strdup(hostpart)) != NULL && (net->scheme_host = strdup(ep)) != NULL &&
         asprintf(&net->base_path, "/%s", s3->cfg.bucket) >= 0;
  }
  if (!s3->cfg.anonymous) ok = ok && (s3->keys = sluice__sigv4_keycache_new()) != NULL;
  if (!ok) err = sluice__error_oom();
  if (!err) err = sluice__httpreq_init(net);
  if (err) {
    sluice__s3_close(s3);
    return err;
  }
  *svc = s3;
  return NULL;
}

void sluice__s3_close(void *svc) {
  sluice__s3 *s3 = svc;
  sluice__httpreq_cleanup(&s3->net);
  sluice__sigv4_keycache_free(s3->keys);
  sluice__s3_config_clear(&s3->cfg);
  free(s3);
}

sluice_error *sluice__s3_perform(sluice__s3 *s3, sluice__httpreq_req *r) {
  return sluice__httpreq_perform(&s3->net, r);
}

char *sluice__s3_key(const sluice__s3 *s3, const char *path) {
  char *key = NULL;
  if (asprintf(&key, "%s%s", s3->cfg.root, path) < 0) return NULL;
  return key;
}

static void fill_meta(const sluice__httpreq_req *r, sluice_metadata *out) {
  out->size = r->content_length == UINT64_MAX ? 0 : r->content_length;
  out->mtime = r->last_modified;
  out->etag = r->etag[0] ? strdup(r->etag) : NULL;
  out->content_type = r->content_type[0] ? strdup(r->content_type) : NULL;
}

/* HEAD of an object: metadata, or NOT_FOUND. */
sluice_error *sluice__s3_head(sluice__s3 *s3, const char *path, sluice_metadata *out) {
  return sluice__s3_head_checksum(s3, path, out, NULL);
}

/* A HEAD's reply has no body, so its 404 does not say whether the key or
 * the bucket is missing (S3 and Swift's s3api answer both the same way).
 * One HeadBucket tells them apart, asked only after a 404 and once per
 * operator once the bucket is found: a HEAD that succeeds costs nothing
 * more.  err is the HEAD's error, consumed. */
static sluice_error *head_not_found(sluice__s3 *s3, const char *path, sluice_error *err) {
  /* Relaxed: the flag only saves a request; a thread that misses another's
   * store asks once more and gets the same answer. */
  if (!atomic_load_explicit(&s3->bucket_exists, memory_order_relaxed)) {
    sluice__httpreq_req b = {.op = "HeadBucket", .path = path, .method = "HEAD", .head = 1};
    sluice_error *berr = sluice__s3_perform(s3, &b);
    long status = b.status;
    sluice__httpreq_req_cleanup(&b);
    if (berr) {
      sluice_error_free(berr);
      if (status != 404) return err; /* 403 and the like: cannot tell, keep the HEAD's */
      sluice_error_free(err);
      return sluice__s3_error_from_reply(404, "NoSuchBucket", "The specified bucket does not exist",
                                         "HeadObject", path);
    }
    atomic_store_explicit(&s3->bucket_exists, 1, memory_order_relaxed);
  }
  sluice_error_free(err);
  return sluice__s3_error_from_reply(404, "NoSuchKey", "The specified key does not exist",
                                     "HeadObject", path);
}

sluice_error *sluice__s3_head_checksum(sluice__s3 *s3, const char *path, sluice_metadata *out,
                                       sluice__s3_stored_checksum *ck) {
  char *key = sluice__s3_key(s3, path);
  if (!key) return sluice__error_oom();
  sluice__httpreq_req r = {
      .op = "HeadObject", .path = path, .method = "HEAD", .key = key, .head = 1};
  if (ck) sluice__httpreq_header(&r, "x-amz-checksum-mode", "ENABLED");
  sluice__strbuf user = {0};
  r.user_meta = &user;
  sluice_error *err = sluice__s3_perform(s3, &r);
  if (err && r.status == 404) err = head_not_found(s3, path, err);
  if (!err) fill_meta(&r, out);
  if (!err)
    err = user.oom ? sluice__error_oom() : sluice__metadata_set_user(out, user.data, user.len);
  sluice__strbuf_free(&user);
  if (!err && ck) {
    memcpy(ck->name, r.checksum_name, sizeof(ck->name));
    memcpy(ck->value, r.checksum, sizeof(ck->value));
    memcpy(ck->type, r.checksum_type, sizeof(ck->type));
    ck->etag_not_md5 = r.etag_not_md5;
    ck->part_size = r.meta_part_size;
    memcpy(ck->md5_b64, r.meta_md5, sizeof(ck->md5_b64));
  }
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return err;
}

/* The size of part 1 of a multipart object (HEAD ?partNumber=1), or 0
 * when the store cannot say.  A store that has no such HEAD (Swift 2.30
 * answers 405) is not asked again by this operator. */
static uint64_t first_part_size(sluice__s3 *s3, const char *path, const char *etag,
                                uint32_t nparts) {
  /* Relaxed: the flag only saves a request. */
  if (atomic_load_explicit(&s3->no_part_head, memory_order_relaxed)) return 0;
  char *key = sluice__s3_key(s3, path);
  if (!key) return 0;
  sluice__httpreq_req r = {
      .op = "HeadObject", .path = path, .method = "HEAD", .key = key, .head = 1};
  sluice__httpreq_query(&r, "partNumber", "1");
  sluice__httpreq_header(&r, "If-Match", etag);
  sluice_error *err = sluice__s3_perform(s3, &r);
  uint64_t size = 0;
  /* A store that ignored partNumber sends the whole object's size, which
   * the layout check of the ETag refuses. */
  if (!err && r.content_length != UINT64_MAX && (!r.parts_count || r.parts_count == nparts))
    size = r.content_length;
  if (err && sluice_error_kind(err) == SLUICE_ERR_UNSUPPORTED)
    atomic_store_explicit(&s3->no_part_head, 1, memory_order_relaxed);
  sluice_error_free(err);
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return size;
}

/* Where the store keeps no full-object CRC (most S3-compatible stores), a
 * whole-object read of src is checked against the ETag: a single-part
 * object's is the MD5 of its bytes, a multipart object's the MD5 of its
 * parts' MD5s, checkable when the part size is known (sluice records it
 * when it uploads; other stores answer HEAD ?partNumber=1).  ck: what a
 * HEAD said, or NULL (a listing's ETag alone). */
static void arm_etag_check(sluice__s3 *s3, const char *path, const char *etag, uint64_t size,
                           const sluice__s3_stored_checksum *ck, sluice__source *src) {
  sluice__readcheck *rc = sluice__httpreq_source_check(src);
  if (size == 0 || sluice__readcheck_armed(rc) != SLUICE__RC_NONE) return;
  if (ck && ck->etag_not_md5) {
    sluice__readcheck_stop(rc,
                           "the object is encrypted with SSE-KMS or SSE-C, so its ETag is "
                           "no MD5 of its bytes, and the store keeps no checksum of it");
    return;
  }
  uint32_t nparts = sluice__readcheck_etag_parts(etag);
  uint64_t part = ck ? ck->part_size : 0;
  if (nparts > 1 && !part) part = first_part_size(s3, path, etag, nparts);
  if (sluice__readcheck_expect_etag(rc, etag, part) != SLUICE__RC_NONE) return;
  if (ck && ck->md5_b64[0] && sluice__readcheck_expect_md5_b64(rc, ck->md5_b64) == 0) return;
  sluice__readcheck_stop(rc, nparts > 1 ? "the store keeps no checksum of this multipart "
                                          "object and does not say its part size"
                                        : "the store keeps no checksum of the object and its "
                                          "ETag is no MD5");
}

sluice_error *sluice__s3_open_source(void *svc, const char *path, uint64_t offset, uint64_t length,
                                     sluice__source **out) {
  sluice__s3 *s3 = svc;
  sluice_metadata meta = {.mtime = -1};
  char *key = NULL;
  sluice__s3_stored_checksum ck;
  sluice_error *err = sluice__s3_head_checksum(s3, path, &meta, &ck);
  if (!err && !(key = sluice__s3_key(s3, path))) err = sluice__error_oom();
  if (!err)
    err = sluice__httpreq_source_new(&s3->net, key, path, &meta, offset, length, "GetObject", out);
  if (!err) sluice__httpreq_source_expect_stored(*out, ck.name, ck.value, ck.type);
  if (!err && offset == 0 && length >= meta.size)
    arm_etag_check(s3, path, meta.etag, meta.size, &ck, *out);
  free(key);
  sluice__metadata_clear(&meta);
  return err;
}

/* A whole object as a listing just described it: no HEAD.  Its GETs are
 * pinned to the listed ETag (S3 lists the ETag a HEAD returns), and the
 * GET of the whole object asks for the stored checksum and checks it, or
 * else the listed ETag.  A multipart ETag needs the part size a HEAD
 * gives: such an object is opened as any other. */
static sluice_error *s3_open_source_listed(void *svc, const char *path,
                                           const sluice_metadata *listed, sluice__source **out) {
  sluice__s3 *s3 = svc;
  if (sluice__readcheck_etag_parts(listed->etag) > 1)
    return sluice__s3_open_source(svc, path, 0, UINT64_MAX, out);
  char *key = sluice__s3_key(s3, path);
  if (!key) return sluice__error_oom();
  sluice_error *err =
      sluice__httpreq_source_new(&s3->net, key, path, listed, 0, UINT64_MAX, "GetObject", out);
  if (!err) sluice__httpreq_source_crc_from_get(*out);
  if (!err) arm_etag_check(s3, path, listed->etag, listed->size, NULL, *out);
  free(key);
  return err;
}

/* One ListObjectsV2 page. */
static sluice_error *list_page(sluice__s3 *s3, const char *prefix, const char *delimiter,
                               const char *token, const char *max_keys, const char *path,
                               sluice__s3_list_page *page) {
  sluice__httpreq_req r = {.op = "ListObjectsV2", .path = path, .method = "GET"};
  sluice__httpreq_query(&r, "list-type", "2");
  /* Keys may hold bytes XML 1.0 cannot carry; url-encoded keys always parse. */
  sluice__httpreq_query(&r, "encoding-type", "url");
  sluice__httpreq_query(&r, "prefix", prefix);
  if (delimiter) sluice__httpreq_query(&r, "delimiter", delimiter);
  if (token) sluice__httpreq_query(&r, "continuation-token", token);
  if (max_keys) sluice__httpreq_query(&r, "max-keys", max_keys);
  sluice_error *err = sluice__s3_perform(s3, &r);
  if (!err) err = sluice__s3_xml_list_objects(r.resp.data ? r.resp.data : "", r.resp.len, page);
  sluice__httpreq_req_cleanup(&r);
  return err;
}

static sluice_error *s3_stat(void *svc, const char *path, sluice_metadata *out) {
  sluice__s3 *s3 = svc;
  size_t n = strlen(path);
  if (n && path[n - 1] != '/') {
    /* With the full-object CRC the store keeps, where it keeps one: a
     * sync compares by it (pipeline/tree_compare.c). */
    sluice__s3_stored_checksum ck;
    sluice_error *err = sluice__s3_head_checksum(s3, path, out, &ck);
    sluice__ck_alg alg;
    if (!err && sluice__ck_stored_full_crc(ck.name, ck.value, ck.type, &alg, &out->crc) == 0)
      out->crc_alg = (int)alg;
    return err;
  }
  /* A "directory" exists when some key starts with it. */
  char *prefix = sluice__s3_key(s3, path);
  if (!prefix) return sluice__error_oom();
  sluice__s3_list_page page = {0};
  sluice_error *err = list_page(s3, prefix, "/", NULL, "1", path, &page);
  if (!err && page.nobjects == 0 && page.nprefixes == 0 && *path)
    err = sluice__error(SLUICE_ERR_NOT_FOUND, "s3: stat '%s': no object under this prefix", path);
  if (!err) out->is_dir = 1;
  sluice__s3_list_page_clear(&page);
  free(prefix);
  return err;
}

static sluice_error *s3_remove(void *svc, const char *path) {
  sluice__s3 *s3 = svc;
  char *key = sluice__s3_key(s3, path);
  if (!key) return sluice__error_oom();
  sluice__httpreq_req r = {.op = "DeleteObject", .path = path, .method = "DELETE", .key = key};
  sluice_error *err = sluice__s3_perform(s3, &r);
  /* Deleting what is not there succeeds, as S3 itself answers 204. */
  if (err && sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND) {
    sluice_error_free(err);
    err = NULL;
  }
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return err;
}

/* ---- listing: one page at a time ---- */

typedef struct s3_lister {
  sluice__list base;
  sluice__s3 *s3;
  char *prefix; /* full key prefix, root included */
  char *dir;    /* as the caller named it, for messages */
  int recursive;
  sluice__s3_list_page page;
  size_t obj_i, pre_i;
  int fetched;
} s3_lister;

static sluice_error *s3_list_next(sluice__list *l, char **path, sluice_metadata *meta) {
  s3_lister *sl = (s3_lister *)l;
  size_t rootlen = strlen(sl->s3->cfg.root);
  *path = NULL;
  for (;;) {
    /* A page holds a stretch of the one sorted sequence of keys and common
     * prefixes: taking the smaller of the two heads keeps byte order. */
    int obj_left = sl->obj_i < sl->page.nobjects, pre_left = sl->pre_i < sl->page.nprefixes;
    if (obj_left && pre_left &&
        strcmp(sl->page.objects[sl->obj_i].key, sl->page.prefixes[sl->pre_i]) > 0)
      obj_left = 0;
    if (obj_left) {
      sluice__s3_object *o = &sl->page.objects[sl->obj_i++];
      size_t klen = strlen(o->key);
      /* A key outside what was asked for is never cut down to a path that
       * looks inside it: the listing is input from the network. */
      sluice_error *err = sluice__path_listed_under("s3: ListObjectsV2", sl->prefix, o->key);
      if (err) return err;
      /* "dir/" keys are folder markers (the console's "Create folder"),
       * not objects: the directories they stand for list as prefixes. */
      if (klen <= rootlen || o->key[klen - 1] == '/') continue;
      if (!(*path = strdup(o->key + rootlen))) return sluice__error_oom();
      meta->size = o->size;
      meta->mtime = o->mtime;
      meta->etag = o->etag ? strdup(o->etag) : NULL;
      return NULL;
    }
    if (pre_left) {
      const char *p = sl->page.prefixes[sl->pre_i++];
      sluice_error *err = sluice__path_listed_under("s3: ListObjectsV2", sl->prefix, p);
      if (err) return err;
      if (strlen(p) <= rootlen) continue;
      if (!(*path = strdup(p + rootlen))) return sluice__error_oom();
      meta->is_dir = 1;
      return NULL;
    }
    if (sl->fetched && !sl->page.truncated) return NULL;
    char *token = sl->page.next_token;
    sl->page.next_token = NULL;
    sluice__s3_list_page_clear(&sl->page);
    sl->obj_i = sl->pre_i = 0;
    sluice_error *err =
        list_page(sl->s3, sl->prefix, sl->recursive ? NULL : "/", token, NULL, sl->dir, &sl->page);
    free(token);
    sl->fetched = 1;
    if (err) {
      sl->page.truncated = 0;
      return err;
    }
    if (sl->page.truncated && !sl->page.next_token) {
      sl->page.truncated = 0;
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "s3: ListObjectsV2 '%s': truncated reply without a continuation token",
                           sl->dir);
    }
  }
}

static void s3_list_free(sluice__list *l) {
  s3_lister *sl = (s3_lister *)l;
  sluice__s3_list_page_clear(&sl->page);
  free(sl->prefix);
  free(sl->dir);
  free(sl);
}

static const struct sluice__list_vt s3_list_vt = {s3_list_next, s3_list_free};

static sluice_error *s3_list(void *svc, const char *dir, int recursive, sluice__list **out) {
  sluice__s3 *s3 = svc;
  s3_lister *sl = calloc(1, sizeof(*sl));
  if (!sl) return sluice__error_oom();
  sl->base.vt = &s3_list_vt;
  sl->s3 = s3;
  sl->recursive = recursive;
  sl->prefix = sluice__s3_key(s3, dir);
  sl->dir = strdup(dir);
  if (!sl->prefix || !sl->dir) {
    s3_list_free(&sl->base);
    return sluice__error_oom();
  }
  /* Object stores have no empty directories: a missing prefix lists as
   * empty, so errors (bucket, credentials) surface at the first next(). */
  *out = &sl->base;
  return NULL;
}

static sluice_error *s3_presign(void *svc, const char *method, const char *path, uint64_t expires,
                                char **url) {
  sluice__s3 *s3 = svc;
  if (s3->cfg.anonymous)
    return sluice__error(SLUICE_ERR_CONFIG_INVALID,
                         "s3: presign '%s': an anonymous operator has no credentials to sign with",
                         path);
  char *key = sluice__s3_key(s3, path), *enc = NULL, *spath = NULL;
  sluice_error *err = key ? sluice__uri_encode(key, strlen(key), 1, &enc) : sluice__error_oom();
  if (!err && asprintf(&spath, "%s/%s", s3->net.base_path, enc) < 0) err = sluice__error_oom();
  sluice__sigv4_result res = {0};
  if (!err) {
    sluice__sigv4_pair host = {"Host", s3->net.host};
    sluice__sigv4_request req = {
        .form = SLUICE__SIGV4_QUERY,
        .method = method,
        .path = spath,
        .headers = &host,
        .n_headers = 1,
        .payload_hash = SLUICE__SIGV4_UNSIGNED_PAYLOAD,
        .access_key_id = s3->cfg.access_key_id,
        .secret_access_key = s3->cfg.secret_access_key,
        .session_token = s3->cfg.session_token,
        .region = s3->cfg.region,
        .service = "s3",
        .when = time(NULL),
        .expires = (uint32_t)expires,
        .path_encoding = SLUICE__SIGV4_ENCODE_PATH_ONCE,
    };
    err = sluice__sigv4_sign(&req, &res);
  }
  if (!err && asprintf(url, "%s%s?%s", s3->net.scheme_host, spath, res.query) < 0) {
    *url = NULL;
    err = sluice__error_oom();
  }
  sluice__sigv4_result_free(&res);
  free(key);
  free(enc);
  free(spath);
  return err;
}

static const char *const s3_writer_keys[] = {"cache_control", "user_metadata", "checksum", NULL};

const sluice__service_vt sluice__s3_service = {
    .scheme = "s3",
    .writer_keys = s3_writer_keys,
    .config_keys = sluice__s3_config_keys,
    .open = s3_open,
    .close = sluice__s3_close,
    .stat = s3_stat,
    .remove = s3_remove,
    .create_dir = sluice__s3_create_dir,
    .list = s3_list,
    .open_source = sluice__s3_open_source,
    .open_source_listed = s3_open_source_listed,
    .open_sink = sluice__s3_open_sink,
    .remove_all = sluice__s3_remove_all,
    .copy = sluice__s3_copy,
    .presign = s3_presign,
    .list_uploads = sluice__s3_list_uploads,
    .abort_upload = sluice__s3_abort_upload,
};
