/* SPDX-License-Identifier: MIT */
/* HTTP statuses and libcurl failures as sluice errors; see httpreq.h. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "httpreq/httpreq.h"

void sluice__httpreq_status_kind(int status, sluice_errkind *kind, int *retryable) {
  *retryable = 0;
  switch (status) {
  case 304:
  case 412: *kind = SLUICE_ERR_CONDITION_NOT_MATCH; return;
  /* The server refused the request as sent (a body, a length): the
   * caller's arguments were checked before it left. */
  case 400:
  case 411:
  case 413: *kind = SLUICE_ERR_REJECTED; return;
  case 414: *kind = SLUICE_ERR_INVALID_ARGUMENT; return; /* the path given is too long */
  case 401:
  case 403: *kind = SLUICE_ERR_PERMISSION_DENIED; return;
  case 404: *kind = SLUICE_ERR_NOT_FOUND; return;
  case 405:
  case 501: *kind = SLUICE_ERR_UNSUPPORTED; return;
  case 408:
    *kind = SLUICE_ERR_TIMEOUT;
    *retryable = 1;
    return;
  case 409: *kind = SLUICE_ERR_ALREADY_EXISTS; return;
  case 416: *kind = SLUICE_ERR_RANGE_NOT_SATISFIABLE; return;
  case 429:
  case 503:
    *kind = SLUICE_ERR_RATE_LIMITED;
    *retryable = 1;
    return;
  /* A gateway or load balancer in front of the service failed or timed out: a
   * network fault between us and the service, not its answer. */
  case 502:
  case 504:
    *kind = SLUICE_ERR_NETWORK;
    *retryable = 1;
    return;
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

sluice_error *sluice__httpreq_error_from_status(const char *svc, int status, const char *op,
                                                const char *path) {
  sluice_errkind kind;
  int retryable;
  sluice__httpreq_status_kind(status, &kind, &retryable);
  const char *q = path ? "'" : "";
  sluice_error *e = sluice__error(kind, "%s: %s%s%s%s%s: HTTP %d", svc, op ? op : "request",
                                  path ? " " : "", q, path ? path : "", q, status);
  sluice__error_set_http_status(e, status);
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
  case CURLE_SSL_CLIENTCERT: return 1;
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
  case CURLE_HTTP2_STREAM:
    *kind = SLUICE_ERR_NETWORK;
    *retryable = 1;
    return;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    *kind = SLUICE_ERR_NETWORK;
    *retryable = attempts <= 1;
    return;
  case CURLE_OPERATION_TIMEDOUT:
    *kind = SLUICE_ERR_TIMEOUT;
    *retryable = 1;
    return;
  case CURLE_ABORTED_BY_CALLBACK: *kind = SLUICE_ERR_CANCELED; return;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: *kind = SLUICE_ERR_CONFIG_INVALID; return;
  case CURLE_OUT_OF_MEMORY: *kind = SLUICE_ERR_OUT_OF_MEMORY; return;
  default: break;
  }
  *kind = is_tls(c) ? SLUICE_ERR_NETWORK : SLUICE_ERR_UNEXPECTED;
}

sluice_error *sluice__httpreq_error_from_transport(const char *svc, int curl_code,
                                                   const char *detail, const char *op,
                                                   const char *path, int attempts) {
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
  sluice_error *e =
      sluice__error(kind, "%s: %s%s%s%s: %s%s%.*s (curl error %d)%s", svc, op ? op : "request",
                    path ? " '" : "", path ? path : "", path ? "'" : "", what, dn ? ": " : "",
                    (int)dn, dn ? detail : "", curl_code, after);
  sluice__error_set_http_status(e, 0);
  sluice__error_set_curl_code(e, curl_code);
  return sluice__error_set_retryable(e, retryable);
}

sluice_error *sluice__httpreq_error_note_attempts(sluice_error *err, int attempts) {
  if (attempts <= 1) return err;
  return sluice__error_append(err, " after %d attempts", attempts);
}
