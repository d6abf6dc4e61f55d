/* SPDX-License-Identifier: MIT */
/*
 * The S3 service's configuration (internal): operator options resolved
 * against the environment and the shared AWS files, the way the AWS CLI and
 * SDKs do it, into one plain struct the S3 service reads.
 *
 * Where each setting comes from, first match wins ("" counts as unset for
 * environment variables and file values):
 *   profile      option profile, $AWS_PROFILE, "default"
 *   credentials  options access_key_id + secret_access_key (+ session_token);
 *                $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (+ $AWS_SESSION_TOKEN);
 *                the credentials file, section [<profile>];
 *                the config file, section [default] / [profile <profile>]
 *                (keys aws_access_key_id, aws_secret_access_key,
 *                aws_session_token).  Each source is taken whole: a session
 *                token never comes from another source than its keys.
 *   region       option region, $AWS_REGION, $AWS_DEFAULT_REGION, the config
 *                file's region; "us-east-1" when only an endpoint is given
 *   endpoint     option endpoint, $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL,
 *                the config file's endpoint_url; else the AWS endpoint of
 *                the region
 * Files: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, and
 * $AWS_CONFIG_FILE or ~/.aws/config ("~" is $HOME, else the passwd entry).
 * They are read only when a setting is looked up in them, or to check that
 * a profile named explicitly (option or $AWS_PROFILE) exists.  INI rules:
 * lines starting with '#' or ';' are comments, as is the rest of a value
 * line from a whitespace followed by '#' or ';'; key names are
 * case-insensitive; indented lines (the nested "s3 =" sub-sections) are
 * skipped; unknown keys and sections are ignored.
 *
 * Secrets: no error message ever contains the secret access key or the
 * session token (nor the access key id).  Messages name the setting and
 * every place it was looked for.
 */
#ifndef SLUICE_LIB_S3_CONFIG_H
#define SLUICE_LIB_S3_CONFIG_H

#include "httpreq/settings.h"
#include "sluice.h"

typedef struct sluice__s3_config {
  char *bucket;   /* required: [A-Za-z0-9._-]{1,255} */
  char *root;     /* key prefix: "" or "a/b/" (no leading '/', one trailing '/') */
  char *region;   /* never NULL after a successful load */
  char *endpoint; /* "https://s3.<region>.amazonaws.com" by default, or the given
                   * one without trailing '/'; http:// allowed */
  char *access_key_id, *secret_access_key, *session_token; /* NULL when anonymous;
                                                            * token NULL when none */
  int virtual_host_style;       /* 1: https://bucket.host/key ; 0: https://host/bucket/key */
  int anonymous;                /* explicit option only: requests are not signed */
  int sign_payload;             /* 0: UNSIGNED-PAYLOAD (default), 1: SHA-256 of each body */
  sluice__httpreq_settings net; /* ca_file, max_attempts, timeouts */
  /* For messages: "options", "environment", "shared credentials file
   * /root/.aws/credentials [profile default]", "shared config file ...",
   * "anonymous".  Never a key. */
  char *credential_source;
  char *profile;       /* the profile the shared files were read for */
  int custom_endpoint; /* 1 when the endpoint was given, 0 for the AWS default */
} sluice__s3_config;

/* Option names the s3 operator accepts, NULL-terminated.  Static. */
extern const char *const sluice__s3_config_keys[];

/* Resolves opts (may be NULL) plus environment and shared files into *out,
 * which is overwritten (not freed first).  On success the caller owns the
 * strings in *out and releases them with sluice__s3_config_clear().  On
 * error *out is all zero (nothing to free).  Errors:
 * SLUICE_ERR_CONFIG_INVALID for every configuration problem (a missing or
 * malformed setting, an unreadable shared file, a missing profile, no
 * credentials), naming the setting and where it was looked for;
 * SLUICE_ERR_OUT_OF_MEMORY; SLUICE_ERR_INVALID_ARGUMENT when out is NULL.
 * Reads the environment (getenv), so it must not race with setenv(); any
 * thread otherwise. */
sluice_error *sluice__s3_config_load(const sluice_options *opts, sluice__s3_config *out);

/* Frees every string of c (wiping the secret key and the session token
 * first) and zeroes it.  NULL and a zeroed config are no-ops. */
void sluice__s3_config_clear(sluice__s3_config *c);
/* NULL when b could be a bucket name; else an error of kind whose message
 * begins with what ("s3: option 'bucket'") and says why. */
sluice_error *sluice__s3_check_bucket(const char *b, sluice_errkind kind, const char *what);

#endif
