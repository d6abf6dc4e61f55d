/* SPDX-License-Identifier: MIT */
/* S3 replies and libcurl failures as sluice errors; see s3_error.h. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
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

    {"EntityTooSmall", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"EntityTooLarge", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidPart", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidPartOrder", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidArgument", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"BadDigest", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidDigest", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"MalformedXML", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"KeyTooLongError", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidRequest", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"InvalidBucketName", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"MetadataTooLarge", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"MissingContentLength", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {"XAmzContentSHA256Mismatch", SLUICE_ERR_INVALID_ARGUMENT, 0},

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

static void classify_status(int status, sluice_errkind *kind, int *retryable) {
  *retryable = 0;
  switch (status) {
  case 304:
  case 412: *kind = SLUICE_ERR_CONDITION_NOT_MATCH; return;
  case 400:
  case 411:
  case 413:
  case 414: *kind = SLUICE_ERR_INVALID_ARGUMENT; return;
  case 401:
  case 403: *kind = SLUICE_ERR_PERMISSION_DENIED; return;
  case 404: *kind = SLUICE_ERR_NOT_FOUND; return;
  case 405:
  case 501: *kind = SLUICE_ERR_UNSUPPORTED; return;
  case 408: *kind = SLUICE_ERR_TIMEOUT; *retryable = 1; return;
  case 409: *kind = SLUICE_ERR_ALREADY_EXISTS; return;
  case 416: *kind = SLUICE_ERR_RANGE_NOT_SATISFIABLE; return;
  case 429:
  case 503: *kind = SLUICE_ERR_RATE_LIMITED; *retryable = 1; return;
  /* A gateway or load balancer in front of S3 failed or timed out: a
   * network fault between us and the service, not an S3 answer. */
  case 502:
  case 504: *kind = SLUICE_ERR_NETWORK; *retryable = 1; return;
  default: break;
  }
  if (status >= 300 && status < 400) {
    *kind = SLUICE_ERR_CONFIG_INVALID; /* a redirect: wrong endpoint or region */
  } else if (status >= 500 && status < 600) {
    *kind = SLUICE_ERR_UNEXPECTED;
    *retryable = 1;
  } else {
    *kind = SLUICE_ERR_UNEXPECTED;
  }
}

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
  classify_status(status, kind, retryable);
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
  return sluice__s3_error_from_reply_svc(NULL, http_status, code, message, op, path);
}

sluice_error *sluice__s3_error_from_reply_svc(const char *svc, int http_status, const char *code,
                                              const char *message, const char *op,
                                              const char *path) {
  if (!svc) svc = "s3";
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

static int is_tls_verification(int c) {
  switch (c) {
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS: return 1;
  default: return 0;
  }
}

static int is_tls(int c) {
  switch (c) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77.0 */
  case CURLE_SSL_CLIENTCERT:
#endif
    return 1;
  default: return is_tls_verification(c);
  }
}

static void classify_transport(int c, int attempts, sluice_errkind *kind, int *retryable) {
  *retryable = 0;
  switch (c) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: *kind = SLUICE_ERR_NETWORK; *retryable = 1; return;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    *kind = SLUICE_ERR_NETWORK;
    *retryable = attempts <= 1;
    return;
  case CURLE_OPERATION_TIMEDOUT: *kind = SLUICE_ERR_TIMEOUT; *retryable = 1; return;
  case CURLE_ABORTED_BY_CALLBACK: *kind = SLUICE_ERR_CANCELED; return;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: *kind = SLUICE_ERR_CONFIG_INVALID; return;
  case CURLE_OUT_OF_MEMORY: *kind = SLUICE_ERR_OUT_OF_MEMORY; return;
  default: break;
  }
  *kind = is_tls(c) ? SLUICE_ERR_NETWORK : SLUICE_ERR_UNEXPECTED;
}

sluice_error *sluice__s3_error_from_transport(int curl_code, const char *detail, const char *op,
                                              const char *path, int attempts) {
  return sluice__s3_error_from_transport_svc(NULL, curl_code, detail, op, path, attempts);
}

sluice_error *sluice__s3_error_from_transport_svc(const char *svc, int curl_code,
                                                  const char *detail, const char *op,
                                                  const char *path, int attempts) {
  if (!svc) svc = "s3";
  if (attempts < 1) attempts = 1;
  sluice_errkind kind;
  int retryable;
  classify_transport(curl_code, attempts, &kind, &retryable);
  const char *what = is_tls_verification(curl_code) ? "TLS verification failed"
                                                    : curl_easy_strerror((CURLcode)curl_code);
  /* curl's error buffer often ends in a newline. */
  size_t dn = detail ? strlen(detail) : 0;
  while (dn > 0 && (detail[dn - 1] == '\n' || detail[dn - 1] == '\r')) dn--;
  char after[48] = "";
  if (attempts > 1) snprintf(after, sizeof(after), " after %d attempts", attempts);
  sluice_error *e = sluice__error(kind, "%s: %s%s%s%s: %s%s%.*s (curl error %d)%s", svc,
                                  op ? op : "request", path ? " '" : "", path ? path : "",
                                  path ? "'" : "", what, dn ? ": " : "", (int)dn,
                                  dn ? detail : "", curl_code, after);
  sluice__error_set_http_status(e, 0);
  sluice__error_set_curl_code(e, curl_code);
  return sluice__error_set_retryable(e, retryable);
}

sluice_error *sluice__s3_error_note_attempts(sluice_error *err, int attempts) {
  if (!err || err == sluice__error_oom() || attempts <= 1) return err;
  sluice_error *e = sluice__error(sluice_error_kind(err), "%s after %d attempts",
                                  sluice_error_message(err), attempts);
  if (e == sluice__error_oom()) return err; /* keep the original kind */
  sluice__error_set_retryable(e, sluice_error_retryable(err));
  sluice__error_set_http_status(e, sluice_error_http_status(err));
  sluice__error_copy_cause(e, err);
  sluice_error_free(err);
  return e;
}
