/* SPDX-License-Identifier: MIT */
/* Error objects: a kind, a message, a retryable flag and an HTTP status. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct sluice_error {
  sluice_errkind kind;
  int retryable;
  int http_status;
  char *message;
};

/* Returned when the error itself cannot be allocated, so a caller always
 * gets a kind; sluice_error_free() recognises it and does nothing. */
static struct sluice_error oom_error = {SLUICE_ERR_OUT_OF_MEMORY, 0, 0, (char *)"out of memory"};

sluice_error *sluice__error_oom(void) { return &oom_error; }

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

sluice_error *sluice__error_append(sluice_error *err, const char *fmt, ...) {
  if (!err || err == &oom_error) return err;
  char *more = NULL, *full = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&more, fmt, ap) < 0) more = NULL;
  va_end(ap);
  if (more && asprintf(&full, "%s%s", err->message, more) >= 0) {
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
  }
  return e;
}

const char *sluice_strerror(sluice_errkind kind) {
  switch (kind) {
  case SLUICE_OK: return "ok";
  case SLUICE_ERR_NOT_FOUND: return "not found";
  case SLUICE_ERR_PERMISSION_DENIED: return "permission denied";
  case SLUICE_ERR_ALREADY_EXISTS: return "already exists";
  case SLUICE_ERR_IS_A_DIRECTORY: return "is a directory";
  case SLUICE_ERR_INVALID_ARGUMENT: return "invalid argument";
  case SLUICE_ERR_CONFIG_INVALID: return "config invalid";
  case SLUICE_ERR_UNSUPPORTED: return "unsupported";
  case SLUICE_ERR_RATE_LIMITED: return "rate limited";
  case SLUICE_ERR_CONDITION_NOT_MATCH: return "condition not match";
  case SLUICE_ERR_RANGE_NOT_SATISFIABLE: return "range not satisfiable";
  case SLUICE_ERR_IO: return "i/o error";
  case SLUICE_ERR_NETWORK: return "network error";
  case SLUICE_ERR_TIMEOUT: return "timed out";
  case SLUICE_ERR_CANCELED: return "canceled";
  case SLUICE_ERR_OUT_OF_MEMORY: return "out of memory";
  case SLUICE_ERR_UNEXPECTED: return "unexpected";
  case SLUICE_ERR_PARTIAL: return "partly done";
  }
  return "unknown error kind";
}

sluice_errkind sluice_error_kind(const sluice_error *err) { return err ? err->kind : SLUICE_OK; }

const char *sluice_error_message(const sluice_error *err) { return err ? err->message : "ok"; }

int sluice_error_retryable(const sluice_error *err) { return err ? err->retryable : 0; }

int sluice_error_http_status(const sluice_error *err) { return err ? err->http_status : 0; }

void sluice_error_free(sluice_error *err) {
  if (!err || err == &oom_error) return;
  free(err->message);
  free(err);
}

void sluice_free(void *ptr) { free(ptr); }

const char *sluice_version(void) { return PACKAGE_VERSION; }
