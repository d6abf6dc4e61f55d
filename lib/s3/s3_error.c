/* SPDX-License-Identifier: MIT */
/* S3 error replies as sluice errors; see s3_error.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "httpreq/httpreq.h"
#include "s3/s3_error.h"

typedef struct code_row {
  const char *code;
  sluice_errkind kind;
  int retryable;
} code_row;

/* S3 error codes (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)
 * plus the throttling codes S3-compatible services use.  The code decides
 * before the status: see the table in s3_error.h. */
static const code_row code_rows[] = {
    {"NoSuchKey", SLUICE_ERR_NOT_FOUND, 0},
    {"NoSuchBucket", SLUICE_ERR_NOT_FOUND, 0},
    {"NoSuchUpload", SLUICE_ERR_NOT_FOUND, 0},
    {"NoSuchVersion", SLUICE_ERR_NOT_FOUND, 0},

    {"AccessDenied", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"SignatureDoesNotMatch", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"InvalidAccessKeyId", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"AllAccessDisabled", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"AccountProblem", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"ExpiredToken", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"InvalidToken", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"InvalidSecurity", SLUICE_ERR_PERMISSION_DENIED, 0},
    {"RequestTimeTooSkewed", SLUICE_ERR_PERMISSION_DENIED, 0},

    {"BucketAlreadyExists", SLUICE_ERR_ALREADY_EXISTS, 0},
    {"BucketAlreadyOwnedByYou", SLUICE_ERR_ALREADY_EXISTS, 0},

    {"PreconditionFailed", SLUICE_ERR_CONDITION_NOT_MATCH, 0},
    /* 409: another conditional write to the key is in progress; S3 says to
     * retry (the retry then succeeds or fails with PreconditionFailed). */
    {"ConditionalRequestConflict", SLUICE_ERR_CONDITION_NOT_MATCH, 1},

    {"InvalidRange", SLUICE_ERR_RANGE_NOT_SATISFIABLE, 0},

    /* What the caller asked for: a name or a value the caller gave. */
    {"InvalidArgument", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"KeyTooLongError", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidRequest", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidBucketName", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"MetadataTooLarge", SLUICE_ERR_INVALID_ARGUMENT, 0},

    /* What was sent: bytes that arrived other than they left, parts the
     * store will not take.  Nothing the caller typed can fix these, so
     * they are never reported as a usage error. */
    {"BadDigest", SLUICE_ERR_REJECTED, 1}, /* corrupted on the way: resend */
    {"XAmzContentSHA256Mismatch", SLUICE_ERR_REJECTED, 1},
    {"InvalidDigest", SLUICE_ERR_REJECTED, 0},
    {"EntityTooSmall", SLUICE_ERR_REJECTED, 0},
    {"EntityTooLarge", SLUICE_ERR_REJECTED, 0},
    {"InvalidPart", SLUICE_ERR_REJECTED, 0},
    {"InvalidPartOrder", SLUICE_ERR_REJECTED, 0},
    {"MalformedXML", SLUICE_ERR_REJECTED, 0},
    {"MissingContentLength", SLUICE_ERR_REJECTED, 0},

    {"RequestTimeout", SLUICE_ERR_TIMEOUT, 1},
    /* 400: fewer bytes arrived than Content-Length announced. */
    {"IncompleteBody", SLUICE_ERR_NETWORK, 1},

    {"SlowDown", SLUICE_ERR_RATE_LIMITED, 1},
    {"SlowDownRead", SLUICE_ERR_RATE_LIMITED, 1},
    {"SlowDownWrite", SLUICE_ERR_RATE_LIMITED, 1},
    {"ServiceUnavailable", SLUICE_ERR_RATE_LIMITED, 1},
    {"Throttling", SLUICE_ERR_RATE_LIMITED, 1},
    {"ThrottlingException", SLUICE_ERR_RATE_LIMITED, 1},
    {"RequestLimitExceeded", SLUICE_ERR_RATE_LIMITED, 1},

    {"InternalError", SLUICE_ERR_UNEXPECTED, 1},
    /* 409: a conflicting operation on the bucket is in progress. */
    {"OperationAborted", SLUICE_ERR_UNEXPECTED, 1},

    {"NotImplemented", SLUICE_ERR_UNSUPPORTED, 0},

    {"PermanentRedirect", SLUICE_ERR_CONFIG_INVALID, 0},
    {"AuthorizationHeaderMalformed", SLUICE_ERR_CONFIG_INVALID, 0},
};

static void classify(int status, const char *code, sluice_errkind *kind, int *retryable) {
  if (code) {
    for (size_t i = 0; i < sizeof(code_rows) / sizeof(code_rows[0]); i++) {
      if (strcmp(code, code_rows[i].code) == 0) {
        *kind = code_rows[i].kind;
        *retryable = code_rows[i].retryable;
        return;
      }
    }
  }
  sluice__httpreq_status_kind(status, kind, retryable);
}

int sluice__s3_retryable_status(int http_status, const char *code) {
  sluice_errkind kind;
  int retryable;
  classify(http_status, code, &kind, &retryable);
  return retryable;
}

static int corrupted_in_transit(const char *code) {
  return code && (strcmp(code, "BadDigest") == 0 || strcmp(code, "XAmzContentSHA256Mismatch") == 0);
}

sluice_error *sluice__s3_error_from_reply(int http_status, const char *code, const char *message,
                                          const char *op, const char *path) {
  const char *svc = "s3";
  sluice_errkind kind;
  int retryable;
  classify(http_status, code, &kind, &retryable);
  if (code && !*code) code = NULL;
  if (message && !*message) message = NULL;
  const char *q = path ? "'" : "";
  const char *sp = path ? " " : "";
  const char *p = path ? path : "";
  const char *o = op ? op : "request";
  const char *transit = corrupted_in_transit(code)
                            ? "; the data was corrupted in transit (S3's checksum of what "
                              "arrived differs from the one sent)"
                            : "";
  sluice_error *e;
  if (code && message)
    e = sluice__error(kind, "%s: %s%s%s%s%s: %s: %s (HTTP %d)%s", svc, o, sp, q, p, q, code,
                      message, http_status, transit);
  else if (code)
    e = sluice__error(kind, "%s: %s%s%s%s%s: %s (HTTP %d)%s", svc, o, sp, q, p, q, code,
                      http_status, transit);
  else if (message)
    e = sluice__error(kind, "%s: %s%s%s%s%s: %s (HTTP %d)", svc, o, sp, q, p, q, message,
                      http_status);
  else
    e = sluice__error(kind, "%s: %s%s%s%s%s: HTTP %d", svc, o, sp, q, p, q, http_status);
  sluice__error_set_http_status(e, http_status);
  sluice__error_set_service_code(e, code);
  return sluice__error_set_retryable(e, retryable);
}
