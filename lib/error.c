/* SPDX-License-Identifier: MIT */
/* Error objects: a kind, a message, a retryable flag, an HTTP status and
 * the cause beneath them (errno, libcurl code or the service's own code). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "escape.h"

struct sluice_error {
  sluice_errkind kind;
  int retryable;
  int http_status;
  char *message;
  /* The cause: at most one of these is set (see sluice_error_cause_type). */
  int sys_errno;
  int curl_code;
  char *service_code;
};

/* Returned when the error itself cannot be allocated, so a caller always
 * gets a kind; sluice_error_free() recognises it and does nothing. */
static struct sluice_error oom_error = {.kind = SLUICE_ERR_OUT_OF_MEMORY,
                                        .message = (char *)"out of memory"};

sluice_error *sluice__error_oom(void) { return &oom_error; }

/* Messages quote keys and server text; a person reads them on a terminal,
 * so no message ever carries a control character (takes msg). */
static char *safe_message(char *msg) {
  if (!msg || !sluice__text_needs_escape(msg)) return msg;
  char *safe = sluice_escape(msg, 0);
  free(msg);
  return safe;
}

static sluice_error *verror(sluice_errkind kind, const char *suffix, const char *fmt, va_list ap) {
  sluice_error *e = calloc(1, sizeof(*e));
  if (!e) return &oom_error;
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  if (msg && suffix) {
    char *full = NULL;
    if (asprintf(&full, "%s: %s", msg, suffix) < 0) full = NULL;
    free(msg);
    msg = full;
  }
  msg = safe_message(msg);
  if (!msg) {
    free(e);
    return &oom_error;
  }
  e->kind = kind;
  e->message = msg;
  return e;
}

sluice_error *sluice__error(sluice_errkind kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sluice_error *e = verror(kind, NULL, fmt, ap);
  va_end(ap);
  return e;
}

sluice_errkind sluice__errno_kind(int errno_value) {
  switch (errno_value) {
  case ENOENT:
  case ENOTDIR: return SLUICE_ERR_NOT_FOUND;
  case EACCES:
  case EPERM:
  case EROFS:
  case EXDEV: return SLUICE_ERR_PERMISSION_DENIED;
  case EEXIST: return SLUICE_ERR_ALREADY_EXISTS;
  case EISDIR: return SLUICE_ERR_IS_A_DIRECTORY;
  case EINVAL:
  case ENAMETOOLONG: return SLUICE_ERR_INVALID_ARGUMENT;
  case ENOMEM: return SLUICE_ERR_OUT_OF_MEMORY;
  case ETIMEDOUT: return SLUICE_ERR_TIMEOUT;
  case ECANCELED: return SLUICE_ERR_CANCELED;
  case ENOSYS:
  case EOPNOTSUPP: return SLUICE_ERR_UNSUPPORTED;
  case ECONNREFUSED:
  case ECONNRESET:
  case ENETUNREACH:
  case EHOSTUNREACH: return SLUICE_ERR_NETWORK;
  default: return SLUICE_ERR_IO;
  }
}

sluice_error *sluice__error_errno(int errno_value, const char *fmt, ...) {
  char buf[128];
  /* GNU strerror_r returns the message, which may not live in buf. */
  const char *why = strerror_r(errno_value, buf, sizeof(buf));
  va_list ap;
  va_start(ap, fmt);
  sluice_error *e = verror(sluice__errno_kind(errno_value), why, fmt, ap);
  va_end(ap);
  sluice__error_set_errno(e, errno_value);
  if (e != &oom_error && (errno_value == EINTR || errno_value == EAGAIN)) e->retryable = 1;
  return e;
}

sluice_error *sluice__error_set_retryable(sluice_error *err, int retryable) {
  if (err && err != &oom_error) err->retryable = retryable != 0;
  return err;
}

sluice_error *sluice__error_set_http_status(sluice_error *err, int status) {
  if (err && err != &oom_error) err->http_status = status;
  return err;
}

sluice_error *sluice__error_set_errno(sluice_error *err, int errno_value) {
  if (err && err != &oom_error) err->sys_errno = errno_value;
  return err;
}

sluice_error *sluice__error_set_curl_code(sluice_error *err, int curl_code) {
  if (err && err != &oom_error) err->curl_code = curl_code;
  return err;
}

sluice_error *sluice__error_set_service_code(sluice_error *err, const char *code) {
  if (!err || err == &oom_error || !code || !*code) return err;
  /* Out of memory here costs only the code: the kind and the message,
   * which already names it, stay. */
  char *copy = strdup(code);
  if (!copy) return err;
  free(err->service_code);
  err->service_code = copy;
  return err;
}

sluice_error *sluice__error_copy_cause(sluice_error *dst, const sluice_error *src) {
  if (!dst || dst == &oom_error || !src) return dst;
  dst->sys_errno = src->sys_errno;
  dst->curl_code = src->curl_code;
  sluice__error_set_service_code(dst, src->service_code);
  return dst;
}

sluice_error *sluice__error_append(sluice_error *err, const char *fmt, ...) {
  if (!err || err == &oom_error) return err;
  char *more = NULL, *full = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&more, fmt, ap) < 0) more = NULL;
  va_end(ap);
  if (more && asprintf(&full, "%s%s", err->message, more) >= 0 && (full = safe_message(full))) {
    free(err->message);
    err->message = full;
  }
  free(more);
  return err;
}

sluice_error *sluice__error_copy(const sluice_error *err) {
  if (!err) return NULL;
  if (err == &oom_error) return &oom_error;
  sluice_error *e = sluice__error(err->kind, "%s", err->message);
  if (e != &oom_error) {
    e->retryable = err->retryable;
    e->http_status = err->http_status;
    sluice__error_copy_cause(e, err);
  }
  return e;
}

/* One switch for both names, so a kind cannot get one without the other;
 * -Wswitch flags a kind appended to the enum but missing here.  #k makes
 * the identifier the constant's own spelling. */
static const char *kind_name(sluice_errkind kind, int identifier) {
  switch (kind) {
#define KIND(k, text) \
  case k: return identifier ? #k : text
    KIND(SLUICE_OK, "ok");
    KIND(SLUICE_ERR_NOT_FOUND, "not found");
    KIND(SLUICE_ERR_PERMISSION_DENIED, "permission denied");
    KIND(SLUICE_ERR_ALREADY_EXISTS, "already exists");
    KIND(SLUICE_ERR_IS_A_DIRECTORY, "is a directory");
    KIND(SLUICE_ERR_INVALID_ARGUMENT, "invalid argument");
    KIND(SLUICE_ERR_CONFIG_INVALID, "config invalid");
    KIND(SLUICE_ERR_UNSUPPORTED, "unsupported");
    KIND(SLUICE_ERR_RATE_LIMITED, "rate limited");
    KIND(SLUICE_ERR_CONDITION_NOT_MATCH, "condition not match");
    KIND(SLUICE_ERR_RANGE_NOT_SATISFIABLE, "range not satisfiable");
    KIND(SLUICE_ERR_IO, "i/o error");
    KIND(SLUICE_ERR_NETWORK, "network error");
    KIND(SLUICE_ERR_TIMEOUT, "timed out");
    KIND(SLUICE_ERR_CANCELED, "canceled");
    KIND(SLUICE_ERR_OUT_OF_MEMORY, "out of memory");
    KIND(SLUICE_ERR_UNEXPECTED, "unexpected");
    KIND(SLUICE_ERR_PARTIAL, "partly done");
    KIND(SLUICE_ERR_REJECTED, "rejected by the service");
#undef KIND
  }
  return identifier ? "SLUICE_ERR_UNKNOWN" : "unknown error kind";
}

const char *sluice_strerror(sluice_errkind kind) { return kind_name(kind, 0); }

const char *sluice_err_name(sluice_errkind kind) { return kind_name(kind, 1); }

sluice_errkind sluice_error_kind(const sluice_error *err) { return err ? err->kind : SLUICE_OK; }

const char *sluice_error_message(const sluice_error *err) { return err ? err->message : "ok"; }

int sluice_error_retryable(const sluice_error *err) { return err ? err->retryable : 0; }

int sluice_error_http_status(const sluice_error *err) { return err ? err->http_status : 0; }

/* The most specific cause wins: a service code comes with an HTTP status,
 * and only the status is left when the reply carried no code. */
sluice_cause_type sluice_error_cause_type(const sluice_error *err) {
  if (!err) return SLUICE_CAUSE_NONE;
  if (err->service_code) return SLUICE_CAUSE_SERVICE;
  if (err->curl_code) return SLUICE_CAUSE_CURL;
  if (err->sys_errno) return SLUICE_CAUSE_ERRNO;
  if (err->http_status) return SLUICE_CAUSE_HTTP;
  return SLUICE_CAUSE_NONE;
}

int sluice_error_errno(const sluice_error *err) { return err ? err->sys_errno : 0; }

int sluice_error_curl_code(const sluice_error *err) { return err ? err->curl_code : 0; }

const char *sluice_error_service_code(const sluice_error *err) {
  return err ? err->service_code : NULL;
}

void sluice_error_free(sluice_error *err) {
  if (!err || err == &oom_error) return;
  free(err->message);
  free(err->service_code);
  free(err);
}

void sluice_free(void *ptr) { free(ptr); }
