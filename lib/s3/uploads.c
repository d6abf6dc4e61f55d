/* SPDX-License-Identifier: MIT */
/* Multipart uploads left open (a process killed mid-upload leaves one,
 * and S3 keeps its parts, and bills them, until it is aborted): listing
 * them with ListMultipartUploads, a page at a time, and aborting one. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "s3/s3.h"
#include "s3/xml.h"

typedef struct s3_upload_lister {
  sluice__upload_list base;
  sluice__s3 *s3;
  char *prefix; /* full key prefix, root included */
  char *shown;  /* as the caller named it, for messages */
  sluice__s3_uploads_page page;
  size_t i;
  int fetched;
} s3_upload_lister;

/* One page, starting after (key_marker, id_marker) when they are set. */
static sluice_error *uploads_page(s3_upload_lister *ul, const char *key_marker,
                                  const char *id_marker) {
  sluice__httpreq_req r = {.op = "ListMultipartUploads", .path = ul->shown, .method = "GET"};
  sluice__httpreq_query(&r, "uploads", "");
  /* Keys may hold bytes XML 1.0 cannot carry; url-encoded keys always parse. */
  sluice__httpreq_query(&r, "encoding-type", "url");
  sluice__httpreq_query(&r, "prefix", ul->prefix);
  if (key_marker) sluice__httpreq_query(&r, "key-marker", key_marker);
  if (id_marker) sluice__httpreq_query(&r, "upload-id-marker", id_marker);
  sluice_error *err = sluice__s3_perform(ul->s3, &r);
  if (!err)
    err = sluice__s3_xml_list_uploads(r.resp.data ? r.resp.data : "", r.resp.len, &ul->page);
  sluice__httpreq_req_cleanup(&r);
  return err;
}

static sluice_error *s3_uploads_next(sluice__upload_list *l, char **path, char **upload_id,
                                     int64_t *initiated) {
  s3_upload_lister *ul = (s3_upload_lister *)l;
  size_t rootlen = strlen(ul->s3->cfg.root);
  *path = *upload_id = NULL;
  *initiated = -1;
  for (;;) {
    if (ul->i < ul->page.n) {
      sluice__s3_upload *u = &ul->page.uploads[ul->i++];
      if (strlen(u->key) <= rootlen) continue; /* not under the root (a lax server) */
      *path = strdup(u->key + rootlen);
      *upload_id = strdup(u->upload_id);
      if (!*path || !*upload_id) {
        free(*path);
        free(*upload_id);
        *path = *upload_id = NULL;
        return sluice__error_oom();
      }
      *initiated = u->initiated;
      return NULL;
    }
    if (ul->fetched && !ul->page.truncated) return NULL;
    char *key_marker = ul->page.next_key_marker, *id_marker = ul->page.next_upload_id_marker;
    ul->page.next_key_marker = ul->page.next_upload_id_marker = NULL;
    sluice__s3_uploads_page_clear(&ul->page);
    ul->i = 0;
    sluice_error *err = uploads_page(ul, key_marker, id_marker);
    int same_place = key_marker && ul->page.truncated && ul->page.next_key_marker &&
                     !strcmp(key_marker, ul->page.next_key_marker) &&
                     (!id_marker) == (!ul->page.next_upload_id_marker) &&
                     (!id_marker || !strcmp(id_marker, ul->page.next_upload_id_marker));
    free(key_marker);
    free(id_marker);
    ul->fetched = 1;
    if (!err && same_place) /* a server that never moves on would loop forever */
      err = sluice__error(SLUICE_ERR_UNEXPECTED,
                          "s3: ListMultipartUploads '%s': the next page starts where this one did",
                          ul->shown);
    if (err) {
      ul->page.truncated = 0;
      return err;
    }
  }
}

static void s3_uploads_free(sluice__upload_list *l) {
  s3_upload_lister *ul = (s3_upload_lister *)l;
  sluice__s3_uploads_page_clear(&ul->page);
  free(ul->prefix);
  free(ul->shown);
  free(ul);
}

static const struct sluice__upload_list_vt s3_uploads_vt = {s3_uploads_next, s3_uploads_free};

sluice_error *sluice__s3_list_uploads(void *svc, const char *prefix, sluice__upload_list **out) {
  sluice__s3 *s3 = svc;
  s3_upload_lister *ul = calloc(1, sizeof(*ul));
  if (!ul) return sluice__error_oom();
  ul->base.vt = &s3_uploads_vt;
  ul->s3 = s3;
  ul->prefix = sluice__s3_key(s3, prefix);
  ul->shown = strdup(prefix);
  if (!ul->prefix || !ul->shown) {
    s3_uploads_free(&ul->base);
    return sluice__error_oom();
  }
  /* As with objects, errors (bucket, credentials) come at the first next(). */
  *out = &ul->base;
  return NULL;
}

sluice_error *sluice__s3_abort_upload(void *svc, const char *path, const char *upload_id) {
  sluice__s3 *s3 = svc;
  char *key = sluice__s3_key(s3, path);
  if (!key) return sluice__error_oom();
  sluice__httpreq_req r = {
      .op = "AbortMultipartUpload", .path = path, .method = "DELETE", .key = key};
  sluice__httpreq_query(&r, "uploadId", upload_id);
  sluice_error *err = sluice__s3_perform(s3, &r);
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return err;
}
