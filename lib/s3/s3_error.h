/* SPDX-License-Identifier: MIT */
/*
 * S3 error replies as sluice errors (internal): an HTTP status plus the S3
 * error code of the reply body becomes a sluice_error with the right kind,
 * retryable flag and HTTP status, and a message naming the operation and
 * the object.  Transport failures are the request engine's
 * (sluice__httpreq_error_from_transport, lib/httpreq/httpreq.h).
 *
 * Every function here is pure (no shared state) and may be called from any
 * number of threads at once.  Each returns a new error owned by the caller
 * (sluice_error_free); on allocation failure it returns the static
 * out-of-memory error, never NULL.  op and path may be NULL: the message then
 * says "request" and leaves the path out.
 *
 * How a reply is classified.  A known S3 error code decides first (S3 puts a
 * code on nearly every error, and a 200 reply to CompleteMultipartUpload or
 * CopyObject may carry one too); an unknown or absent code falls back to the
 * status (sluice__httpreq_status_kind):
 *
 *   code / status                                         kind               retryable
 *   NoSuchKey NoSuchBucket NoSuchUpload NoSuchVersion, 404 NOT_FOUND          no
 *   AccessDenied SignatureDoesNotMatch InvalidAccessKeyId
 *     ExpiredToken InvalidToken RequestTimeTooSkewed ...,
 *     401, 403                                            PERMISSION_DENIED  no
 *   BucketAlreadyExists BucketAlreadyOwnedByYou, 409      ALREADY_EXISTS     no
 *   PreconditionFailed, 412, 304                          CONDITION_NOT_MATCH no
 *   ConditionalRequestConflict (409)                      CONDITION_NOT_MATCH yes
 *   InvalidRange, 416                                     RANGE_NOT_SATISFIABLE no
 *   InvalidArgument KeyTooLongError InvalidRequest
 *     InvalidBucketName MetadataTooLarge, 414 (what the
 *     caller named or gave)                               INVALID_ARGUMENT   no
 *   BadDigest XAmzContentSHA256Mismatch (corrupted on
 *     the way: resent)                                    REJECTED           yes
 *   InvalidDigest EntityTooSmall EntityTooLarge InvalidPart
 *     InvalidPartOrder MalformedXML MissingContentLength,
 *     400 411 413 (the store refused what was sent)       REJECTED           no
 *   RequestTimeout (400), 408                             TIMEOUT            yes
 *   IncompleteBody (400: the body was cut short)          NETWORK            yes
 *   SlowDown ServiceUnavailable Throttling ..., 429, 503  RATE_LIMITED       yes
 *   InternalError OperationAborted, 500                   UNEXPECTED         yes
 *   502, 504 (a gateway in front of S3 failed: the request
 *     may never have reached S3)                          NETWORK            yes
 *   NotImplemented, 501, 405                              UNSUPPORTED        no
 *   PermanentRedirect AuthorizationHeaderMalformed, other 3xx
 *     (wrong endpoint or region)                          CONFIG_INVALID     no
 *   any other 4xx                                         UNEXPECTED         no
 *   any other 5xx                                         UNEXPECTED         yes
 *   anything else (a 2xx with an unknown code, 0, ...)    UNEXPECTED         no
 *
 * BadDigest and XAmzContentSHA256Mismatch messages add that the data was
 * corrupted in transit.  A 412 stays CONDITION_NOT_MATCH here: a caller that
 * sent If-None-Match: * (if_not_exists) turns it into ALREADY_EXISTS itself.
 */
#ifndef SLUICE_LIB_S3_S3_ERROR_H
#define SLUICE_LIB_S3_S3_ERROR_H

#include "sluice.h"

/* The error for an S3 reply.  op is the S3 action ("UploadPart"), path the
 * object key as the user named it; code and message come from the reply's
 * <Error> document (sluice__s3_xml_error) and may be NULL.  Message:
 *   "s3: <op> '<path>': <Code>: <Message> (HTTP <status>)"
 *   "s3: <op> '<path>': <Code> (HTTP <status>)"        no message
 *   "s3: <op> '<path>': <Message> (HTTP <status>)"     no code
 *   "s3: <op> '<path>': HTTP <status>"                 neither
 * The error records http_status and the retryable flag of the table above. */
sluice_error *sluice__s3_error_from_reply(int http_status, const char *code, const char *message,
                                          const char *op, const char *path);

/* Non-zero when a reply with this status and code (may be NULL) is worth
 * retrying: the retryable column of the table above, for the retry loop. */
int sluice__s3_retryable_status(int http_status, const char *code);

#endif
