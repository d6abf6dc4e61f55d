/* SPDX-License-Identifier: MIT */
/* Internals shared by the s3 service's files. */
#ifndef SLUICE_LIB_S3_S3_H
#define SLUICE_LIB_S3_S3_H

#include <stdatomic.h>

#include "httpreq/httpreq.h"
#include "s3/config.h"
#include "service.h"

extern const sluice__service_vt sluice__s3_service;

/* The S3 service instance (lib/s3/s3.c). */
typedef struct sluice__s3 {
  sluice__s3_config cfg;
  /* Where requests go (bucket by addressing style), signed with SigV4 and
   * with <Error> bodies parsed (lib/s3/s3.c). */
  sluice__httpreq net;
  /* The store answered 501 to If-None-Match: fall back to HEAD checks. */
  atomic_int no_conditional_writes;
  /* The store answered 501 to DeleteObjects: delete key by key. */
  atomic_int no_multi_delete;
  /* A HeadBucket found the bucket: a later HEAD's 404 is a missing key
   * without asking again (s3.c, head_not_found). */
  atomic_int bucket_exists;
  /* HEAD ?partNumber was answered 405 or 501 (Swift 2.30): not asked again. */
  atomic_int no_part_head;
  /* Bit (1 << alg) per x-amz-checksum algorithm the store has shown that
   * it checks (multipart.c, "Integrity"): Content-MD5 is then left out. */
  atomic_uint ck_verified;
  /* cfg's signing key for the day (lib/s3/sigv4.h); NULL when anonymous. */
  struct sluice__sigv4_keycache *keys;
} sluice__s3;

/* Runs r on s3's request engine (sluice__httpreq_perform). */
sluice_error *sluice__s3_perform(sluice__s3 *s3, sluice__httpreq_req *r);

/* S3's multipart limits: parts of 5 MiB .. 5 GiB (the last may be
 * smaller), at most SLUICE__S3_MAX_PARTS (lib/s3/xml.h) of them. */
#define SLUICE__S3_MIN_PART (5ull << 20)
#define SLUICE__S3_MAX_PART (5ull << 30)

/* The object key for a normalised path: root prefix + path (malloc'd). */
char *sluice__s3_key(const sluice__s3 *s3, const char *path);
/* HeadObject into out. */
sluice_error *sluice__s3_head(sluice__s3 *s3, const char *path, sluice_metadata *out);
/* The checksum a store keeps with an object (x-amz-checksum-<name>,
 * x-amz-checksum-type), "" where it reports none; and what tells whether
 * its ETag is an MD5 of its bytes (see sluice__httpreq_req). */
typedef struct sluice__s3_stored_checksum {
  char name[16], value[64], type[24];
  int etag_not_md5;
  uint64_t part_size; /* x-amz-meta-sluice-part-size, 0 when absent */
  char md5_b64[32];   /* rclone's x-amz-meta-md5chksum, "" when absent */
} sluice__s3_stored_checksum;
/* The metadata holding the part size of a multipart upload by sluice, so
 * that a download can check the object against its ETag. */
#define SLUICE__S3_PART_SIZE_META "x-amz-meta-sluice-part-size"
/* Same HEAD, asking for the stored checksum (x-amz-checksum-mode) into *ck. */
sluice_error *sluice__s3_head_checksum(sluice__s3 *s3, const char *path, sluice_metadata *out,
                                       sluice__s3_stored_checksum *ck);
void sluice__s3_close(void *svc);

/* HeadObject, then a source over the object (sluice__httpreq_source_new). */
sluice_error *sluice__s3_open_source(void *svc, const char *path, uint64_t offset, uint64_t length,
                                     sluice__source **out);
/* lib/s3/multipart.c */
sluice_error *sluice__s3_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out);

/* lib/s3/bulk.c: the service's remove_all (ListObjectsV2 + DeleteObjects in
 * batches of 1,000, streamed) and copy (server-side: CopyObject, or
 * UploadPartCopy parts above the copy part threshold). */
sluice_error *sluice__s3_remove_all(void *svc, const char *dir);
sluice_error *sluice__s3_copy(void *svc, const char *src, const char *dst,
                              const sluice__write_params *p);
/* Tests only: sources larger than bytes are copied in UploadPartCopy parts
 * instead of one CopyObject.  0 restores the default, 5 GiB (CopyObject's
 * limit).  Process-wide. */
void sluice__s3_set_copy_part_threshold(uint64_t bytes);

/* lib/s3/multipart.c: runs r, a request that creates the object r->path
 * names.  With if_not_exists it carries If-None-Match: * and a 412 becomes
 * ALREADY_EXISTS; on a store that answers 501 to that header (remembered in
 * s3->no_conditional_writes) a HEAD just before the request checks instead.
 * Adds at most one header to r. */
sluice_error *sluice__s3_perform_conditional(sluice__s3 *s3, sluice__httpreq_req *r,
                                             int if_not_exists);

/* lib/s3/dir.c: the service's create_dir (a "dir/" marker object). */
sluice_error *sluice__s3_create_dir(void *svc, const char *path);

/* lib/s3/uploads.c: ListMultipartUploads, one page at a time, and
 * AbortMultipartUpload (the service's list_uploads and abort_upload). */
sluice_error *sluice__s3_list_uploads(void *svc, const char *prefix, sluice__upload_list **out);
sluice_error *sluice__s3_abort_upload(void *svc, const char *path, const char *upload_id);

#endif
