/* SPDX-License-Identifier: MIT */
/*
 * S3 XML (internal): parses the replies S3 sends and builds the request
 * bodies it takes, with libxml2's tree API on in-memory documents.
 *
 * Parsing.  Elements are matched by local name, whatever their namespace
 * (S3 replies carry xmlns="http://s3.amazonaws.com/doc/2006-03-01/", some
 * compatible services none).  Leading whitespace is skipped (S3 sends
 * spaces to keep a long CompleteMultipartUpload alive before the XML
 * declaration).  The parser never touches the network, never loads or
 * expands entities and refuses any document with a document type
 * declaration (S3 never sends one), so entity bombs and external entities
 * cannot run; bodies over SLUICE__S3_XML_MAX_BODY are refused unread.
 * libxml2 is initialised once per process (pthread_once), after which
 * every function here may be called from any number of threads at once.
 *
 * Errors follow sluice.h.  A reply that is not well-formed XML, has the
 * wrong root or lacks a required element is SLUICE_ERR_UNEXPECTED (not
 * retryable) with a message naming the operation and the problem, e.g.
 * "s3: ListObjectsV2 reply: no <IsTruncated>".  NULL out-parameters are
 * SLUICE_ERR_INVALID_ARGUMENT; allocation failure SLUICE_ERR_OUT_OF_MEMORY.
 * Every string returned is malloc'd (free()); on error out-structs are left
 * zeroed (their *_clear is still safe to call).
 */
#ifndef SLUICE_LIB_S3_XML_H
#define SLUICE_LIB_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

/* Replies larger than this are refused without being parsed. */
#define SLUICE__S3_XML_MAX_BODY ((size_t)64 << 20)
/* S3's limits on the request bodies built here. */
#define SLUICE__S3_MAX_PARTS 10000
#define SLUICE__S3_MAX_DELETE_KEYS 1000

/* ------------------------------------------------------------------ */
/* Error documents                                                     */
/* ------------------------------------------------------------------ */

/* <Error><Code>NoSuchKey</Code><Message>...</Message>...</Error>.  Returns
 * 0 and sets *code and *message to malloc'd strings (NULL when the element
 * is absent), or -1 with both NULL when body is not an S3 error document
 * (empty, not XML, another root, or out of memory): the caller then
 * falls back to the HTTP status alone.  code or message may be NULL when
 * the caller does not want it. */
int sluice__s3_xml_error(const char *body, size_t len, char **code, char **message);

/* ------------------------------------------------------------------ */
/* CreateMultipartUpload                                               */
/* ------------------------------------------------------------------ */

/* InitiateMultipartUploadResult -> its non-empty UploadId (*upload_id,
 * malloc'd; NULL on error). */
sluice_error *sluice__s3_xml_upload_id(const char *body, size_t len, char **upload_id);

/* ------------------------------------------------------------------ */
/* CopyObject / UploadPartCopy                                         */
/* ------------------------------------------------------------------ */

/* CopyObjectResult / CopyPartResult (root_name) -> its <ETag> (malloc'd).
 * UploadPartCopy sends the part's ETag only there. */
sluice_error *sluice__s3_xml_copy_etag(const char *body, size_t len, const char *root_name,
                                       const char *op, char **etag);

/* ------------------------------------------------------------------ */
/* ListObjectsV2                                                       */
/* ------------------------------------------------------------------ */

typedef struct sluice__s3_object {
  char *key; /* never NULL or empty */
  uint64_t size;
  char *etag;    /* as S3 gives it, quotes included; NULL when absent */
  int64_t mtime; /* LastModified as seconds since the epoch (UTC); -1 when absent */
} sluice__s3_object;

typedef struct sluice__s3_list_page {
  sluice__s3_object *objects; /* <Contents>, in reply order */
  size_t nobjects;
  char **prefixes; /* <CommonPrefixes><Prefix>, in reply order */
  size_t nprefixes;
  int truncated;     /* <IsTruncated>true */
  char *next_token;  /* <NextContinuationToken>: never NULL or empty when
                     * truncated; NULL when absent otherwise */
  int64_t key_count; /* <KeyCount>, -1 when absent (informational) */
} sluice__s3_list_page;

/* Parses a ListBucketResult into *out (zeroed first).  Required: the root,
 * <IsTruncated>, <Key> and <Size> in every <Contents>, <Prefix> in every
 * <CommonPrefixes>, and a <NextContinuationToken> when truncated.  A
 * malformed <Size>, <KeyCount> or <LastModified> is an error too.  When the
 * reply says <EncodingType>url</EncodingType> (the request asked for
 * encoding-type=url), keys and prefixes are percent-decoded ('+' is a
 * space); a key that decodes to a NUL byte is refused.  On error *out is
 * zeroed. */
sluice_error *sluice__s3_xml_list_objects(const char *body, size_t len, sluice__s3_list_page *out);
/* Frees everything in p (fully or partly filled, or zeroed) and zeroes it.
 * NULL is a no-op. */
void sluice__s3_list_page_clear(sluice__s3_list_page *p);

/* ------------------------------------------------------------------ */
/* ListMultipartUploads                                                */
/* ------------------------------------------------------------------ */

typedef struct sluice__s3_upload {
  char *key;
  char *upload_id;
  int64_t initiated; /* <Initiated> as seconds since the epoch; -1 when absent */
} sluice__s3_upload;

typedef struct sluice__s3_uploads_page {
  sluice__s3_upload *uploads; /* <Upload>, in reply order */
  size_t n;
  int truncated;
  char *next_key_marker;       /* never NULL or empty when truncated */
  char *next_upload_id_marker; /* NULL when absent */
} sluice__s3_uploads_page;

/* Parses a ListMultipartUploadsResult into *out.  Required: <IsTruncated>,
 * <Key> and <UploadId> in every <Upload>, <NextKeyMarker> when truncated;
 * <Initiated>, when present, must be an ISO-8601 time.
 * <EncodingType>url decodes keys and NextKeyMarker as above. */
sluice_error *sluice__s3_xml_list_uploads(const char *body, size_t len,
                                          sluice__s3_uploads_page *out);
void sluice__s3_uploads_page_clear(sluice__s3_uploads_page *p);

/* ------------------------------------------------------------------ */
/* ListParts                                                           */
/* ------------------------------------------------------------------ */

/* Only the tests call it today (to see what a server holds of an upload).
 * It stays here because resuming an upload left open will read its parts
 * with it, and because it parses with this file's hardened reader (no DTD,
 * one error shape), which the tests should not get a copy of. */

typedef struct sluice__s3_part {
  uint32_t number; /* 1..10000 */
  char *etag;      /* NULL when absent */
  uint64_t size;
} sluice__s3_part;

typedef struct sluice__s3_parts_page {
  sluice__s3_part *parts;
  size_t n;
  int truncated;
  uint32_t next_part_number_marker; /* required when truncated, else 0 */
} sluice__s3_parts_page;

/* Parses a ListPartsResult.  Required: <IsTruncated>, <PartNumber> and
 * <Size> in every <Part>, <NextPartNumberMarker> when truncated. */
sluice_error *sluice__s3_xml_list_parts(const char *body, size_t len, sluice__s3_parts_page *out);
void sluice__s3_parts_page_clear(sluice__s3_parts_page *p);

/* ------------------------------------------------------------------ */
/* CompleteMultipartUpload                                             */
/* ------------------------------------------------------------------ */

/* The request body
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
 *   <Part><PartNumber>1</PartNumber><ETag>"..."</ETag></Part>...
 * where etags[i] is the ETag of part i+1, escaped as XML text.  n must be
 * 1..10000 and every ETag non-empty, valid UTF-8 made of characters XML can
 * carry (else SLUICE_ERR_INVALID_ARGUMENT).  *body is malloc'd and
 * NUL-terminated, *len its length without the NUL. */
sluice_error *sluice__s3_xml_complete_body(const char *const *etags, size_t n, char **body,
                                           size_t *len);

/* Same, with checksums[i] (base64, or NULL for none) of part i+1 in an
 * <element> (ChecksumCRC64NVME, ...) of its <Part>, as S3 requires when the
 * upload was created with x-amz-checksum-algorithm.  checksums NULL: none. */
sluice_error *sluice__s3_xml_complete_body_checksums(const char *const *etags,
                                                     const char *const *checksums,
                                                     const char *element, size_t n, char **body,
                                                     size_t *len);

/* The text of <element> (ChecksumCRC64NVME, ...) of a
 * CompleteMultipartUploadResult, trimmed, in *value (malloc'd), or NULL
 * when there is none.  Returns NULL or an error (unparseable, no memory). */
sluice_error *sluice__s3_xml_complete_checksum(const char *body, size_t len, const char *element,
                                               char **value);

/* Checks the body of a 200 reply to CompleteMultipartUpload, which S3 may
 * use to report a failure: NULL for a CompleteMultipartUploadResult; for an
 * <Error> document, sluice__s3_error_from_reply(200, code, message, op,
 * path) (so InternalError is retryable); anything else is UNEXPECTED.  op
 * may be NULL ("CompleteMultipartUpload"); path names the object. */
sluice_error *sluice__s3_xml_complete_result(const char *body, size_t len, const char *op,
                                             const char *path);

/* ------------------------------------------------------------------ */
/* DeleteObjects                                                       */
/* ------------------------------------------------------------------ */

/* The request body
 *   <Delete xmlns="..."><Quiet>true</Quiet><Object><Key>k</Key></Object>...</Delete>
 * for n = 1..1000 keys, each non-empty valid UTF-8 that XML can carry
 * (S3 keys with other control characters cannot be sent this way: delete
 * them one by one), else SLUICE_ERR_INVALID_ARGUMENT naming the key's
 * index.  Note that S3 requires a Content-MD5 (or x-amz-checksum-*) header
 * with this body.  *body malloc'd and NUL-terminated. */
sluice_error *sluice__s3_xml_delete_body(const char *const *keys, size_t n, char **body,
                                         size_t *len);

/* Checks a DeleteObjects reply (DeleteResult).  NULL when it holds no
 * <Error> entry (entries with code NoSuchKey are ignored: deleting what
 * does not exist succeeds).  Otherwise the first entry becomes
 * sluice__s3_error_from_reply(200, Code, Message, op, Key), with
 * "; <n> more keys failed" appended when there were others.  An <Error>
 * root is reported the same way without a key; anything else is
 * UNEXPECTED.  op may be NULL ("DeleteObjects"). */
sluice_error *sluice__s3_xml_delete_result(const char *body, size_t len, const char *op);

#endif
