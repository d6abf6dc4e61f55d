/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4 (internal): canonical request, string to sign and
 * signature for the Authorization-header form and the presigned-URL (query)
 * form, plus the SHA-256 helpers the S3 writer needs for payload hashes.
 *
 * Cryptography goes through OpenSSL 3's EVP interfaces.  SHA-256 and HMAC
 * are fetched once per process (pthread_once) and shared read-only, so every
 * function here may be called from any number of threads at once.
 *
 * Errors follow sluice.h: NULL on success, else a new sluice_error whose
 * message starts with "sigv4:" and never contains the secret access key or
 * the session token.  Kinds: SLUICE_ERR_INVALID_ARGUMENT for malformed input,
 * SLUICE_ERR_OUT_OF_MEMORY, SLUICE_ERR_UNEXPECTED when OpenSSL fails.
 */
#ifndef SLUICE_LIB_S3_SIGV4_H
#define SLUICE_LIB_S3_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "httpreq/httpreq.h"
#include "sluice.h"

/* ------------------------------------------------------------------ */
/* SHA-256                                                             */
/* ------------------------------------------------------------------ */

/* Lowercase hex SHA-256 of data[0..len) into out (64 digits + NUL), for a
 * request's payload hash.  data may be NULL when len is 0.  On error out is
 * set to "".  (A digest of a stream: lib/checksum.h.) */
sluice_error *sluice__sha256_hex(const void *data, size_t len, char out[65]);

/* ------------------------------------------------------------------ */
/* Signing                                                             */
/* ------------------------------------------------------------------ */

/* The payload hash for a body that is not hashed (presigned URLs, or when
 * streaming a body whose hash is unknown up front). */
#define SLUICE__SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef enum sluice__sigv4_form {
  SLUICE__SIGV4_HEADER, /* Authorization + X-Amz-Date (+ token, + content hash) headers */
  SLUICE__SIGV4_QUERY   /* presigned URL: X-Amz-* query parameters */
} sluice__sigv4_form;

/* How the path as sent becomes the canonical path.  The caller sends `path`
 * already percent-encoded (as libcurl needs it).
 *   ONCE  (S3): the path is used as it is sent: a valid %XX escape is kept
 *         (hex uppercased), any other byte outside A-Z a-z 0-9 - _ . ~ /
 *         is encoded.  So a path built with sluice__uri_encode() (lib/strbuf.h)
 *         signs as itself.  S3 requires this and no normalisation.
 *   TWICE (every other AWS service, and the AWS test suite): the path as
 *         sent is encoded once more, '%' included ("%20" -> "%2520"). */
typedef enum sluice__sigv4_path_encoding {
  SLUICE__SIGV4_ENCODE_PATH_ONCE,
  SLUICE__SIGV4_ENCODE_PATH_TWICE
} sluice__sigv4_path_encoding;

/* A header or query parameter: the request engine's pair, so a request's
 * headers are signed as they are sent. */
typedef sluice__httpreq_pair sluice__sigv4_pair;

typedef struct sluice__sigv4_request {
  sluice__sigv4_form form;
  const char *method; /* "GET", ... */
  /* Path as sent, without query ("" means "/"); must not contain '?'/'#'. */
  const char *path;
  /* Query parameters of the request, DEcoded; the signer encodes them.  In
   * query form the X-Amz-* parameters are added by the signer. */
  const sluice__sigv4_pair *query;
  size_t n_query;
  /* Headers to sign, as they will be sent; Host is required.  Names are
   * case-insensitive; a repeated name is signed as its values joined with
   * ',' in order.  A value may hold folded lines ("\n" + space/tab), no
   * other control bytes.  Headers the signer adds (Authorization,
   * X-Amz-Date, ...) are refused here, so a request never carries two. */
  const sluice__sigv4_pair *headers;
  size_t n_headers;
  /* Lowercase hex SHA-256 of the body, or SLUICE__SIGV4_UNSIGNED_PAYLOAD. */
  const char *payload_hash;
  /* Header form: also send (and sign) x-amz-content-sha256: payload_hash,
   * which S3 requires on every header-signed request. */
  int add_content_sha256;

  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token; /* NULL or "" when the credentials have none */
  /* Add the session token after signing rather than signing it (a few
   * services, e.g. IoT, want that; the suite's "omit_session_token"). */
  int session_token_unsigned;

  const char *region;  /* "us-east-1" */
  const char *service; /* "s3" */
  /* NULL, or where the signing key derived for these credentials, region
   * and service is kept from one request to the next (see below). */
  struct sluice__sigv4_keycache *key_cache;
  time_t when;      /* signing time, UTC seconds */
  uint32_t expires; /* query form: validity in seconds, 1..604800 */

  int normalize_path; /* remove "." / ".." segments and empty segments */
  sluice__sigv4_path_encoding path_encoding;
} sluice__sigv4_request;

/* Header to add to the request (header form). */
typedef struct sluice__sigv4_header {
  const char *name; /* static string, e.g. "Authorization" */
  char *value;
} sluice__sigv4_header;

/* Everything sluice__sigv4_sign produces; all strings are owned by the
 * result and released by sluice__sigv4_result_free. */
typedef struct sluice__sigv4_result {
  char *canonical_request;
  char *string_to_sign;
  char signature[65]; /* lowercase hex */
  char amz_date[17];  /* YYYYMMDD'T'HHMMSS'Z' */
  /* Header form: headers to add, in this order: X-Amz-Security-Token (when
   * there is a token), X-Amz-Date, x-amz-content-sha256 (when asked),
   * Authorization.  n_headers is 0 in query form. */
  sluice__sigv4_header headers[4];
  size_t n_headers;
  /* Header form: the Authorization value (points into headers[], not
   * separately owned).  NULL in query form. */
  const char *authorization;
  /* Query form: the encoded X-Amz-* parameters to append to the request's
   * own query with '&' (or after '?' when it has none): Algorithm,
   * Credential, Date, SignedHeaders, Expires, [Security-Token], Signature,
   * the AWS suite's order.  NULL in header form. */
  char *query;
} sluice__sigv4_result;

/* The signing key of one set of credentials, region and service, kept
 * for the day it belongs to.  Deriving it takes four HMACs, over half of
 * what signing a request costs (about a fifth of a small PUT's own CPU), and
 * it changes only at midnight UTC.  Whoever owns the credentials owns the
 * cache (an S3 operator), and a request may name it only while its
 * credentials, region and service are the ones of every other request that
 * names it.  What it holds is an HMAC context keyed with the derived key:
 * good for one day and one service, and wiped by OpenSSL when freed.  Any
 * number of threads may sign through one cache at once (a lock held for a
 * context copy).  new returns NULL when out of memory; free takes NULL. */
typedef struct sluice__sigv4_keycache sluice__sigv4_keycache;
sluice__sigv4_keycache *sluice__sigv4_keycache_new(void);
void sluice__sigv4_keycache_free(sluice__sigv4_keycache *c);

/* Signs req.  On success fills *out (the caller frees it with
 * sluice__sigv4_result_free); on error *out is all zero.  Any thread.
 * The S3 service uses: ENCODE_PATH_ONCE, normalize_path 0, and in header
 * form add_content_sha256 1. */
sluice_error *sluice__sigv4_sign(const sluice__sigv4_request *req, sluice__sigv4_result *out);
/* Frees the strings in res and zeroes it; NULL and a zeroed result are
 * no-ops, so it is safe after a failed sign. */
void sluice__sigv4_result_free(sluice__sigv4_result *res);

#endif
