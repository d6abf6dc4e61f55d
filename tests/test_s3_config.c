/* SPDX-License-Identifier: MIT */
/*
 * S3 configuration: where each setting comes from (options, environment,
 * shared credentials and config files, profiles), the errors and what they
 * name, normalisation of root and endpoint, defaults, and that no secret
 * ever reaches an error message.
 *
 * Each test runs in its own process (Criterion forks), with a fresh fake
 * HOME and every AWS_* variable the loader reads unset, so the machine's
 * own ~/.aws never leaks in.  Linked without tests/helpers.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "s3/config.h"
#include "sluice.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzzKEY"
#define TOKEN "FQoGZXIvYXdzEXAMPLEzzTOKENzzIQoJb3JpZ2luX2Vj"
#define KEYID "AKIAIOSFODNN7EXAMPLE"

static char *home; /* fake $HOME, removed after each test */

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_ENDPOINT_URL_S3",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_CONFIG_FILE",
                                       NULL};

static void setup(void) {
  char tmpl[] = "/tmp/s3cfg.XXXXXX";
  cr_assert(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
  home = strdup(tmpl);
  cr_assert(home != NULL);
  cr_assert(setenv("HOME", home, 1) == 0);
  for (const char *const *v = aws_vars; *v; v++) unsetenv(*v);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}

static void teardown(void) {
  if (home) nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(home);
  home = NULL;
}

TestSuite(s3_config, .init = setup, .fini = teardown);

/* ---- helpers ---- */

/* home + "/" + rel; free() it. */
static char *in_home(const char *rel) {
  char *p = NULL;
  cr_assert(asprintf(&p, "%s/%s", home, rel) >= 0);
  return p;
}

/* Writes content to home/rel, creating home/.aws when rel is under it. */
static void put(const char *rel, const char *content) {
  char *dir = in_home(".aws");
  mkdir(dir, 0700);
  free(dir);
  char *p = in_home(rel);
  FILE *f = fopen(p, "w");
  cr_assert(f != NULL, "fopen %s: %s", p, strerror(errno));
  cr_assert(fputs(content, f) >= 0);
  cr_assert(fclose(f) == 0);
  free(p);
}

/* Options from name, value pairs ending in NULL. */
static sluice_options *opts(const char *name, ...) {
  sluice_options *o = sluice_options_new();
  cr_assert(o != NULL);
  va_list ap;
  va_start(ap, name);
  for (const char *n = name; n; n = va_arg(ap, const char *)) {
    const char *v = va_arg(ap, const char *);
    sluice_error *e = sluice_options_set(o, n, v);
    cr_assert(e == NULL, "options_set %s: %s", n, sluice_error_message(e));
  }
  va_end(ap);
  return o;
}

/* Loads o (then frees it) and asserts success. */
static sluice__s3_config load_ok(sluice_options *o) {
  sluice__s3_config c;
  sluice_error *e = sluice__s3_config_load(o, &c);
  cr_assert(e == NULL, "load failed: [%s] %s", sluice_strerror(sluice_error_kind(e)),
            sluice_error_message(e));
  sluice_options_free(o);
  return c;
}

static int all_zero(const sluice__s3_config *c) {
  const unsigned char *p = (const unsigned char *)c;
  for (size_t i = 0; i < sizeof(*c); i++)
    if (p[i]) return 0;
  return 1;
}

/* Loads o (then frees it), asserts it fails with kind, that *out was left
 * zeroed and that no secret is in the message; returns the message
 * (free()). */
static char *load_err(sluice_options *o, sluice_errkind kind) {
  sluice__s3_config c;
  memset(&c, 0xa5, sizeof(c)); /* the loader must zero it */
  sluice_error *e = sluice__s3_config_load(o, &c);
  sluice_options_free(o);
  cr_assert(e != NULL, "load succeeded, expected %s", sluice_strerror(kind));
  const char *m = sluice_error_message(e);
  cr_assert(sluice_error_kind(e) == kind, "expected %s, got [%s] %s", sluice_strerror(kind),
            sluice_strerror(sluice_error_kind(e)), m);
  cr_assert(all_zero(&c), "config not cleared after error: %s", m);
  /* Any recognisable piece counts: the markers in the middle, the ends. */
  static const char *const pieces[] = {"zzSECRETzz", "wJalrXUt",  "zzKEY",    "zzTOKENzz",
                                       "FQoGZXIv",   "Jb3JpZ2lu", "AKIAIOSF", "7EXAMPLE"};
  for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
    cr_assert(strstr(m, pieces[i]) == NULL, "'%s' (part of a key) in: %s", pieces[i], m);
  cr_assert(strncmp(m, "s3: ", 4) == 0, "message lacks the s3 prefix: %s", m);
  char *copy = strdup(m);
  cr_assert(copy != NULL);
  sluice_error_free(e);
  return copy;
}

#define HAS(msg, needle) \
  cr_assert(strstr((msg), (needle)) != NULL, "'%s' not in: %s", (needle), (msg))

/* The usual working options: bucket, keys, region. */
#define BASIC \
  "bucket", "bkt", "access_key_id", "AK", "secret_access_key", "SK", "region", "eu-west-1"

/* ---- the option list ---- */

Test(s3_config, keys_list_every_option, .timeout = 10) {
  static const char *const want[] = {"bucket",          "root",
                                     "region",          "endpoint",
                                     "access_key_id",   "secret_access_key",
                                     "session_token",   "virtual_host_style",
                                     "profile",         "anonymous",
                                     "ca_file",         "max_attempts",
                                     "payload_signing", "connect_timeout",
                                     "low_speed_limit", "low_speed_time",
                                     "stall_timeout"};
  size_t n = 0;
  while (sluice__s3_config_keys[n]) n++;
  cr_assert_eq(n, sizeof(want) / sizeof(want[0]));
  for (size_t i = 0; i < n; i++) {
    int found = 0;
    for (size_t j = 0; j < n; j++) found |= strcmp(want[i], sluice__s3_config_keys[j]) == 0;
    cr_assert(found, "'%s' missing from sluice__s3_config_keys", want[i]);
  }
}

/* ---- bucket ---- */

Test(s3_config, bucket_required, .timeout = 10) {
  char *m = load_err(opts("access_key_id", "AK", "secret_access_key", "SK", "region", "r", NULL),
                     SLUICE_ERR_CONFIG_INVALID);
  cr_assert_str_eq(m, "s3: option 'bucket' is required");
  free(m);
  m = load_err(opts("bucket", "", NULL), SLUICE_ERR_CONFIG_INVALID);
  cr_assert_str_eq(m, "s3: option 'bucket' is required");
  free(m);
  m = load_err(NULL, SLUICE_ERR_CONFIG_INVALID); /* NULL options */
  cr_assert_str_eq(m, "s3: option 'bucket' is required");
  free(m);
}

Test(s3_config, bucket_names, .timeout = 10) {
  char *m = load_err(opts("bucket", "a/b", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "'/'");
  free(m);
  m = load_err(opts("bucket", "a b", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "bucket");
  free(m);
  m = load_err(opts("bucket", "caf\xc3\xa9", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "0xc3");
  free(m);
  char longest[257];
  memset(longest, 'b', 256);
  longest[256] = '\0';
  m = load_err(opts("bucket", longest, NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "255");
  free(m);
  longest[255] = '\0';
  sluice__s3_config c = load_ok(opts(BASIC, "bucket", longest, NULL));
  cr_assert_str_eq(c.bucket, longest);
  sluice__s3_config_clear(&c);
  /* S3-compatible stores allow what AWS does not. */
  c = load_ok(opts(BASIC, "bucket", "My_Bucket.v2", NULL));
  cr_assert_str_eq(c.bucket, "My_Bucket.v2");
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "bucket", "x", NULL));
  cr_assert_str_eq(c.bucket, "x");
  sluice__s3_config_clear(&c);
}

/* ---- root ---- */

Test(s3_config, root_normalised, .timeout = 10) {
  static const struct {
    const char *in, *want;
  } cases[] = {{"", ""},
               {"/", ""},
               {"///", ""},
               {"a", "a/"},
               {"a/", "a/"},
               {"/a/b", "a/b/"},
               {"a//b//", "a/b/"},
               {"./a/./b/.", "a/b/"},
               {"x y/z", "x y/z/"},
               {"a.b/..c", "a.b/..c/"}};
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  cr_assert_str_eq(c.root, "", "no root option gives \"\"");
  sluice__s3_config_clear(&c);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    c = load_ok(opts(BASIC, "root", cases[i].in, NULL));
    cr_assert_str_eq(c.root, cases[i].want, "root '%s'", cases[i].in);
    sluice__s3_config_clear(&c);
  }
  char *m = load_err(opts(BASIC, "root", "a/../../b", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "'..'");
  free(m);
  m = load_err(opts(BASIC, "root", "a\nb", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "root");
  free(m);
}

/* ---- credentials: order of sources ---- */

Test(s3_config, options_win_over_env_and_files, .timeout = 10) {
  setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
  setenv("AWS_SESSION_TOKEN", "ENVTOK", 1);
  put(".aws/credentials",
      "[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n");
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  cr_assert_str_eq(c.access_key_id, "AK");
  cr_assert_str_eq(c.secret_access_key, "SK");
  cr_assert_null(c.session_token, "a token never comes from another source than its keys");
  cr_assert_str_eq(c.credential_source, "options");
  cr_assert_eq(c.anonymous, 0);
  sluice__s3_config_clear(&c);

  c = load_ok(opts(BASIC, "session_token", "OPTTOK", NULL));
  cr_assert_str_eq(c.session_token, "OPTTOK");
  sluice__s3_config_clear(&c);

  c = load_ok(opts(BASIC, "session_token", "", NULL)); /* "": no token */
  cr_assert_null(c.session_token);
  sluice__s3_config_clear(&c);
}

Test(s3_config, env_wins_over_files, .timeout = 10) {
  setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
  setenv("AWS_SESSION_TOKEN", "ENVTOK", 1);
  put(".aws/credentials",
      "[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n"
      "aws_session_token = FILETOK\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", "region", "us-west-2", NULL));
  cr_assert_str_eq(c.access_key_id, "ENVAK");
  cr_assert_str_eq(c.secret_access_key, "ENVSK");
  cr_assert_str_eq(c.session_token, "ENVTOK");
  cr_assert_str_eq(c.credential_source, "environment");
  sluice__s3_config_clear(&c);

  unsetenv("AWS_SESSION_TOKEN");
  c = load_ok(opts("bucket", "b", "region", "us-west-2", NULL));
  cr_assert_null(c.session_token);
  sluice__s3_config_clear(&c);
}

Test(s3_config, empty_env_vars_are_unset, .timeout = 10) {
  setenv("AWS_ACCESS_KEY_ID", "", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "", 1);
  setenv("AWS_REGION", "", 1);
  setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
  put(".aws/credentials", "[default]\naws_access_key_id=FILEAK\naws_secret_access_key=FILESK\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "FILEAK");
  cr_assert_str_eq(c.region, "ap-south-1");
  sluice__s3_config_clear(&c);
}

Test(s3_config, credentials_file_default_profile, .timeout = 10) {
  put(".aws/credentials",
      "[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n"
      "aws_session_token = FILETOK\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", "region", "us-west-2", NULL));
  cr_assert_str_eq(c.access_key_id, "FILEAK");
  cr_assert_str_eq(c.secret_access_key, "FILESK");
  cr_assert_str_eq(c.session_token, "FILETOK");
  cr_assert_str_eq(c.profile, "default");
  char *want = NULL;
  cr_assert(
      asprintf(&want, "shared credentials file %s/.aws/credentials [profile default]", home) >= 0);
  cr_assert_str_eq(c.credential_source, want);
  free(want);
  sluice__s3_config_clear(&c);
}

Test(s3_config, config_file_credentials_after_credentials_file, .timeout = 10) {
  put(".aws/config",
      "[default]\nregion = eu-north-1\naws_access_key_id = CFGAK\n"
      "aws_secret_access_key = CFGSK\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "CFGAK");
  cr_assert_str_eq(c.region, "eu-north-1");
  HAS(c.credential_source, "shared config file");
  sluice__s3_config_clear(&c);

  put(".aws/credentials",
      "[default]\naws_access_key_id = FILEAK\naws_secret_access_key = FILESK\n");
  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "FILEAK", "the credentials file comes first");
  cr_assert_str_eq(c.secret_access_key, "FILESK");
  sluice__s3_config_clear(&c);
}

/* ---- profiles ---- */

static const char *const creds_two =
    "[default]\naws_access_key_id = DEFAK\naws_secret_access_key = DEFSK\n"
    "\n[work]\naws_access_key_id = WORKAK\naws_secret_access_key = WORKSK\n"
    "\n[home]\naws_access_key_id = HOMEAK\naws_secret_access_key = HOMESK\n";
static const char *const config_two =
    "[default]\nregion = us-east-2\n"
    "[profile work]\nregion = eu-central-1\n"
    "[profile home]\nregion = sa-east-1\n";

Test(s3_config, profile_from_option, .timeout = 10) {
  put(".aws/credentials", creds_two);
  put(".aws/config", config_two);
  sluice__s3_config c = load_ok(opts("bucket", "b", "profile", "work", NULL));
  cr_assert_str_eq(c.access_key_id, "WORKAK");
  cr_assert_str_eq(c.secret_access_key, "WORKSK");
  cr_assert_str_eq(c.region, "eu-central-1");
  cr_assert_str_eq(c.profile, "work");
  HAS(c.credential_source, "[profile work]");
  sluice__s3_config_clear(&c);

  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "DEFAK");
  cr_assert_str_eq(c.region, "us-east-2");
  sluice__s3_config_clear(&c);
}

Test(s3_config, profile_from_env_and_option_wins, .timeout = 10) {
  put(".aws/credentials", creds_two);
  put(".aws/config", config_two);
  setenv("AWS_PROFILE", "home", 1);
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "HOMEAK");
  cr_assert_str_eq(c.region, "sa-east-1");
  sluice__s3_config_clear(&c);

  c = load_ok(opts("bucket", "b", "profile", "work", NULL));
  cr_assert_str_eq(c.access_key_id, "WORKAK", "option profile beats AWS_PROFILE");
  cr_assert_str_eq(c.region, "eu-central-1");
  sluice__s3_config_clear(&c);

  char *m = load_err(opts("bucket", "b", "profile", "", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "'profile' is empty");
  free(m);
}

/* The config file names profiles "[profile x]"; a bare "[x]" there is not
 * profile x.  The credentials file names them "[x]". */
Test(s3_config, config_sections_need_profile_prefix, .timeout = 10) {
  put(".aws/config",
      "[work]\nregion = eu-central-1\n"
      "[profile work]\nregion = ca-central-1\n"
      "[profile  spaced ]\nregion = me-south-1\n");
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  sluice__s3_config c = load_ok(opts("bucket", "b", "profile", "work", NULL));
  cr_assert_str_eq(c.region, "ca-central-1");
  sluice__s3_config_clear(&c);
  c = load_ok(opts("bucket", "b", "profile", "spaced", NULL));
  cr_assert_str_eq(c.region, "me-south-1");
  sluice__s3_config_clear(&c);

  put(".aws/config", "[bare]\nregion = eu-central-1\n");
  char *m = load_err(opts("bucket", "b", "profile", "bare", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "profile 'bare'");
  HAS(m, "[profile bare]");
  free(m);

  /* ... and "[profile x]" in the credentials file is a profile named
   * "profile x", not x. */
  put(".aws/credentials", "[profile ci]\naws_access_key_id = A\naws_secret_access_key = S\n");
  char *cfg = in_home(".aws/config");
  cr_assert(unlink(cfg) == 0);
  free(cfg);
  m = load_err(opts("bucket", "b", "profile", "ci", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "profile 'ci'");
  free(m);
}

Test(s3_config, config_profile_default_spelled_out, .timeout = 10) {
  put(".aws/config", "[profile default]\nregion = af-south-1\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", "anonymous", "true", NULL));
  cr_assert_str_eq(c.region, "af-south-1");
  sluice__s3_config_clear(&c);
}

Test(s3_config, missing_profile_names_both_files, .timeout = 10) {
  put(".aws/credentials", creds_two);
  char *m = load_err(opts("bucket", "b", "profile", "nope", NULL), SLUICE_ERR_CONFIG_INVALID);
  char *want = NULL;
  cr_assert(asprintf(&want,
                     "s3: profile 'nope' (from option 'profile') not found: looked for section "
                     "[nope] in %s/.aws/credentials and [profile nope] in %s/.aws/config "
                     "(no such file)",
                     home, home) >= 0);
  cr_assert_str_eq(m, want);
  free(want);
  free(m);

  setenv("AWS_PROFILE", "gone", 1);
  m = load_err(opts(BASIC, NULL), SLUICE_ERR_CONFIG_INVALID); /* even with keys given */
  HAS(m, "profile 'gone' (from environment AWS_PROFILE)");
  free(m);

  /* A profile that exists only in the config file is fine. */
  put(".aws/config", "[profile cfgonly]\nregion = eu-west-3\n");
  sluice__s3_config c = load_ok(opts(BASIC, "profile", "cfgonly", "region", "eu-west-3", NULL));
  cr_assert_str_eq(c.profile, "cfgonly");
  sluice__s3_config_clear(&c);

  /* The default profile need not exist anywhere. */
  unsetenv("AWS_PROFILE");
  c = load_ok(opts(BASIC, NULL));
  cr_assert_str_eq(c.profile, "default");
  sluice__s3_config_clear(&c);
}

/* ---- INI parsing ---- */

Test(s3_config, ini_comments_whitespace_and_nesting, .timeout = 10) {
  put(".aws/credentials",
      "\xEF\xBB\xBF# a comment\r\n"
      "; another = comment\r\n"
      "[other]\r\n"
      "aws_access_key_id = WRONG\r\n"
      "aws_secret_access_key = WRONG\r\n"
      "  [ default ]   # trailing comment, indented header is a continuation\r\n"
      "[ default ]  ; comment after header\r\n"
      "unknown_key = whatever\r\n"
      "AWS_ACCESS_KEY_ID=FIRST\r\n"
      "aws_access_key_id   =   FILEAK   # inline comment\r\n"
      "\taws_secret_access_key = INDENTED\r\n"
      "aws_secret_access_key\t=\tFILE#SK;x\r\n"
      "no equals sign here\r\n"
      "[broken header\r\n"
      "aws_access_key_id = UNDER_BROKEN\r\n");
  put(".aws/config",
      "[default]\n"
      "s3 =\n"
      "  endpoint_url = http://nested.example:9000\n"
      "  addressing_style = path\n"
      "region = eu-south-1 ; comment\n"
      "region = eu-south-2\n"
      "[profile other]\n"
      "endpoint_url = http://other.example\n");
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "FILEAK", "last key wins, comment stripped");
  cr_assert_str_eq(c.secret_access_key, "FILE#SK;x", "'#' inside a value is kept");
  cr_assert_str_eq(c.region, "eu-south-2");
  cr_assert_str_eq(c.endpoint, "https://s3.eu-south-2.amazonaws.com",
                   "nested s3 endpoint_url is skipped");
  cr_assert_eq(c.custom_endpoint, 0);
  sluice__s3_config_clear(&c);
}

Test(s3_config, shared_file_paths_from_env, .timeout = 10) {
  put("creds.ini", "[default]\naws_access_key_id = ALTAK\naws_secret_access_key = ALTSK\n");
  put("conf.ini", "[default]\nregion = us-west-1\n");
  put(".aws/credentials", "[default]\naws_access_key_id = WRONG\naws_secret_access_key = W\n");
  char *cp = in_home("creds.ini");
  setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
  setenv("AWS_CONFIG_FILE", "~/conf.ini", 1); /* "~/" is expanded */
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.access_key_id, "ALTAK");
  cr_assert_str_eq(c.region, "us-west-1");
  HAS(c.credential_source, cp);
  sluice__s3_config_clear(&c);
  free(cp);
}

Test(s3_config, unreadable_file_only_matters_when_read, .timeout = 10) {
  char *d = in_home(".aws");
  cr_assert(mkdir(d, 0700) == 0);
  char *cred = in_home(".aws/credentials");
  cr_assert(mkdir(cred, 0700) == 0); /* a directory where the file should be */
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  sluice__s3_config_clear(&c);
  char *m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "cannot read shared credentials file");
  HAS(m, cred);
  free(m);
  free(cred);
  free(d);
}

Test(s3_config, home_from_passwd_when_unset, .timeout = 10) {
  unsetenv("HOME");
  struct passwd *pw = getpwuid(getuid());
  cr_assert(pw != NULL && pw->pw_dir != NULL);
  char *m = load_err(opts("bucket", "b", "profile", "sluice-test-no-such-profile-4711", NULL),
                     SLUICE_ERR_CONFIG_INVALID);
  char *want = NULL;
  cr_assert(asprintf(&want, "%s/.aws/credentials", pw->pw_dir) >= 0);
  HAS(m, want);
  free(want);
  free(m);
}

/* ---- credential errors ---- */

Test(s3_config, no_credentials_lists_every_place, .timeout = 10) {
  char *m = load_err(opts("bucket", "b", "region", "us-east-1", NULL), SLUICE_ERR_CONFIG_INVALID);
  char *want = NULL;
  cr_assert(asprintf(&want,
                     "s3: no credentials: looked in options access_key_id/secret_access_key, "
                     "environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                     "%s/.aws/credentials [profile default] (no such file), "
                     "%s/.aws/config [profile default] (no such file); "
                     "set anonymous=true for public buckets",
                     home, home) >= 0);
  cr_assert_str_eq(m, want);
  free(want);
  free(m);

  /* The files exist but the profile has no keys. */
  put(".aws/credentials", "[default]\n");
  put(".aws/config", "[default]\nregion = eu-west-1\n");
  m = load_err(opts("bucket", "b", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "/.aws/credentials [profile default], ");
  HAS(m, "/.aws/config [profile default];");
  free(m);
  setenv("AWS_PROFILE", "x", 1);
  put(".aws/credentials", "[x]\nregion = nowhere\n");
  m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "/.aws/config [profile x] (no such profile)");
  free(m);
}

Test(s3_config, half_a_key_pair, .timeout = 10) {
  char *m = load_err(opts("bucket", "b", "region", "r", "access_key_id", KEYID, NULL),
                     SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "option 'secret_access_key' is missing");
  free(m);
  m = load_err(opts("bucket", "b", "region", "r", "secret_access_key", SECRET, NULL),
               SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "option 'access_key_id' is missing");
  free(m);
  m = load_err(opts("bucket", "b", "region", "r", "session_token", TOKEN, NULL),
               SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "only session_token");
  free(m);
  m = load_err(
      opts("bucket", "b", "region", "r", "access_key_id", "", "secret_access_key", SECRET, NULL),
      SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "'access_key_id' is empty");
  free(m);

  setenv("AWS_ACCESS_KEY_ID", KEYID, 1);
  m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  cr_assert_str_eq(m,
                   "s3: environment variable AWS_SECRET_ACCESS_KEY is not set, but "
                   "AWS_ACCESS_KEY_ID is");
  free(m);
  unsetenv("AWS_ACCESS_KEY_ID");
  setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
  m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "AWS_ACCESS_KEY_ID is not set");
  free(m);
  unsetenv("AWS_SECRET_ACCESS_KEY");

  put(".aws/credentials", "[default]\naws_secret_access_key = " SECRET
                          "\n"
                          "aws_session_token = " TOKEN "\n");
  m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "/.aws/credentials [profile default] has aws_secret_access_key but no aws_access_key_id");
  free(m);
  put(".aws/credentials", "[default]\naws_access_key_id = " KEYID "\n");
  m = load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "has aws_access_key_id but no aws_secret_access_key");
  free(m);

  /* A complete pair from a source that comes first hides a broken later one. */
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  sluice__s3_config_clear(&c);
}

/* ---- anonymous ---- */

Test(s3_config, anonymous, .timeout = 10) {
  setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
  sluice__s3_config c = load_ok(opts("bucket", "b", "region", "r", "anonymous", "true", NULL));
  cr_assert_eq(c.anonymous, 1);
  cr_assert_null(c.access_key_id, "anonymous ignores the environment's keys");
  cr_assert_null(c.secret_access_key);
  cr_assert_null(c.session_token);
  cr_assert_str_eq(c.credential_source, "anonymous");
  sluice__s3_config_clear(&c);

  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  c = load_ok(opts("bucket", "b", "region", "r", "anonymous", "yes", NULL));
  cr_assert_eq(c.anonymous, 1);
  sluice__s3_config_clear(&c);

  char *m = load_err(opts(BASIC, "anonymous", "true", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "anonymous=true contradicts option 'access_key_id'");
  free(m);
  m = load_err(opts("bucket", "b", "region", "r", "anonymous", "1", "session_token", TOKEN, NULL),
               SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "contradicts option 'session_token'");
  free(m);
  m = load_err(opts("bucket", "b", "anonymous", "maybe", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "anonymous");
  free(m);

  c = load_ok(opts(BASIC, "anonymous", "false", NULL));
  cr_assert_eq(c.anonymous, 0);
  cr_assert_str_eq(c.access_key_id, "AK");
  sluice__s3_config_clear(&c);
}

/* ---- region ---- */

Test(s3_config, region_order, .timeout = 10) {
  put(".aws/config", "[default]\nregion = from-config\n");
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.region, "from-config");
  sluice__s3_config_clear(&c);
  setenv("AWS_DEFAULT_REGION", "from-default", 1);
  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.region, "from-default");
  sluice__s3_config_clear(&c);
  setenv("AWS_REGION", "from-region", 1);
  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.region, "from-region");
  sluice__s3_config_clear(&c);
  c = load_ok(opts("bucket", "b", "region", "from-option", NULL));
  cr_assert_str_eq(c.region, "from-option");
  cr_assert_str_eq(c.endpoint, "https://s3.from-option.amazonaws.com");
  sluice__s3_config_clear(&c);
}

Test(s3_config, region_missing_or_defaulted, .timeout = 10) {
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  char *m = load_err(opts("bucket", "b", NULL), SLUICE_ERR_CONFIG_INVALID);
  char *want = NULL;
  cr_assert(asprintf(&want,
                     "s3: no region: looked in option 'region', environment AWS_REGION and "
                     "AWS_DEFAULT_REGION, %s/.aws/config [profile default] (no such file); set "
                     "region (or endpoint, for an S3-compatible store)",
                     home) >= 0);
  cr_assert_str_eq(m, want);
  free(want);
  free(m);

  sluice__s3_config c = load_ok(opts("bucket", "b", "endpoint", "http://127.0.0.1:9000", NULL));
  cr_assert_str_eq(c.region, "us-east-1", "an S3-compatible store defaults to us-east-1");
  sluice__s3_config_clear(&c);

  m = load_err(opts("bucket", "b", "region", "eu west", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "region 'eu west' (option 'region')");
  free(m);
  m = load_err(opts("bucket", "b", "region", "", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "'region' is empty");
  free(m);
  put(".aws/config", "[default]\nregion = bad/region\n");
  m = load_err(opts("bucket", "b", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "/.aws/config [profile default])");
  free(m);
}

/* ---- endpoint ---- */

Test(s3_config, endpoint_order, .timeout = 10) {
  put(".aws/config", "[default]\nendpoint_url = http://config.example/\n");
  setenv("AWS_ACCESS_KEY_ID", "AK", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
  sluice__s3_config c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.endpoint, "http://config.example");
  cr_assert_str_eq(c.region, "us-east-1");
  cr_assert_eq(c.custom_endpoint, 1);
  sluice__s3_config_clear(&c);
  setenv("AWS_ENDPOINT_URL", "http://generic.example", 1);
  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.endpoint, "http://generic.example");
  sluice__s3_config_clear(&c);
  setenv("AWS_ENDPOINT_URL_S3", "https://s3only.example", 1);
  c = load_ok(opts("bucket", "b", NULL));
  cr_assert_str_eq(c.endpoint, "https://s3only.example");
  sluice__s3_config_clear(&c);
  c = load_ok(opts("bucket", "b", "endpoint", "https://option.example:8443", NULL));
  cr_assert_str_eq(c.endpoint, "https://option.example:8443");
  sluice__s3_config_clear(&c);
}

Test(s3_config, endpoint_normalised_and_checked, .timeout = 10) {
  static const struct {
    const char *in, *want;
  } ok[] = {{"http://h:9000/", "http://h:9000"},
            {"https://h///", "https://h"},
            {"HTTPS://Minio.Local", "HTTPS://Minio.Local"},
            {"http://h/prefix/", "http://h/prefix"}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    sluice__s3_config c = load_ok(opts(BASIC, "endpoint", ok[i].in, NULL));
    cr_assert_str_eq(c.endpoint, ok[i].want, "endpoint '%s'", ok[i].in);
    cr_assert_str_eq(c.region, "eu-west-1", "a given region stays");
    sluice__s3_config_clear(&c);
  }
  static const char *const bad[] = {"s3.example.com", "ftp://h",    "https://", "http:///x",
                                    "https://h/?x=1", "http://h h", "https:/h"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *m = load_err(opts(BASIC, "endpoint", bad[i], NULL), SLUICE_ERR_CONFIG_INVALID);
    HAS(m, "(option 'endpoint')");
    free(m);
  }
  char *m = load_err(opts(BASIC, "endpoint", "minio:9000", NULL), SLUICE_ERR_CONFIG_INVALID);
  cr_assert_str_eq(m,
                   "s3: endpoint 'minio:9000' (option 'endpoint') must start with http:// or "
                   "https://");
  free(m);
  setenv("AWS_ENDPOINT_URL", "localhost:9000", 1);
  m = load_err(opts("bucket", "b", "anonymous", "true", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "(environment AWS_ENDPOINT_URL)");
  free(m);
}

Test(s3_config, default_endpoint_from_region, .timeout = 10) {
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  cr_assert_str_eq(c.endpoint, "https://s3.eu-west-1.amazonaws.com");
  cr_assert_eq(c.custom_endpoint, 0);
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "region", "cn-north-1", NULL));
  cr_assert_str_eq(c.endpoint, "https://s3.cn-north-1.amazonaws.com.cn");
  sluice__s3_config_clear(&c);
}

/* ---- addressing style ---- */

Test(s3_config, virtual_host_style_defaults, .timeout = 10) {
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  cr_assert_eq(c.virtual_host_style, 1, "AWS endpoint: virtual host");
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "endpoint", "http://localhost:9000", NULL));
  cr_assert_eq(c.virtual_host_style, 0, "custom endpoint: path style");
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "endpoint", "http://localhost:9000", "virtual_host_style", "true", NULL));
  cr_assert_eq(c.virtual_host_style, 1);
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "virtual_host_style", "false", NULL));
  cr_assert_eq(c.virtual_host_style, 0);
  sluice__s3_config_clear(&c);
  /* Names that cannot be a host label fall back to path style on AWS. */
  static const char *const pathy[] = {"my.bucket", "My_Bucket", "ab", "-abc"};
  for (size_t i = 0; i < sizeof(pathy) / sizeof(pathy[0]); i++) {
    c = load_ok(opts(BASIC, "bucket", pathy[i], NULL));
    cr_assert_eq(c.virtual_host_style, 0, "bucket '%s'", pathy[i]);
    sluice__s3_config_clear(&c);
  }
  c = load_ok(opts(BASIC, "bucket", "my.bucket", "virtual_host_style", "on", NULL));
  cr_assert_eq(c.virtual_host_style, 1, "dots are allowed when asked for");
  sluice__s3_config_clear(&c);
  char *m = load_err(opts(BASIC, "bucket", "My_Bucket", "virtual_host_style", "true", NULL),
                     SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "virtual_host_style=false");
  free(m);
  m = load_err(opts(BASIC, "virtual_host_style", "sometimes", NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, "virtual_host_style");
  free(m);
}

/* ---- tuning ---- */

Test(s3_config, tuning_defaults, .timeout = 10) {
  sluice__s3_config c = load_ok(opts(BASIC, NULL));
  cr_assert_eq(c.net.max_attempts, 5);
  cr_assert_eq(c.sign_payload, 0);
  cr_assert_eq(c.net.connect_timeout_ms, 10000);
  cr_assert_eq(c.net.low_speed_limit, 1024);
  cr_assert_eq(c.net.low_speed_time, 30);
  cr_assert_null(c.net.ca_file);
  cr_assert_eq(c.anonymous, 0);
  sluice__s3_config_clear(&c);
}

Test(s3_config, tuning_values_and_ranges, .timeout = 10) {
  char *ca = in_home("ca.pem");
  put("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  sluice__s3_config c =
      load_ok(opts(BASIC, "max_attempts", "20", "payload_signing", "SHA256", "connect_timeout",
                   "250", "low_speed_limit", "2K", "low_speed_time", "5", "ca_file", ca, NULL));
  cr_assert_eq(c.net.max_attempts, 20);
  cr_assert_eq(c.sign_payload, 1);
  cr_assert_eq(c.net.connect_timeout_ms, 250);
  cr_assert_eq(c.net.low_speed_limit, 2048);
  cr_assert_eq(c.net.low_speed_time, 5);
  cr_assert_str_eq(c.net.ca_file, ca);
  sluice__s3_config_clear(&c);
  c = load_ok(opts(BASIC, "max_attempts", "1", "payload_signing", "unsigned", "low_speed_limit",
                   "0", NULL));
  cr_assert_eq(c.net.max_attempts, 1);
  cr_assert_eq(c.sign_payload, 0);
  cr_assert_eq(c.net.low_speed_limit, 0);
  sluice__s3_config_clear(&c);

  static const struct {
    const char *name, *value;
  } bad[] = {{"max_attempts", "0"},
             {"max_attempts", "21"},
             {"max_attempts", "five"},
             {"max_attempts", "-1"},
             {"connect_timeout", "0"},
             {"connect_timeout", "10s"},
             {"connect_timeout", "600001"},
             {"connect_timeout", "99999999999999999999999"},
             {"connect_timeout", ""},
             {"connect_timeout", "-5"},
             {"low_speed_limit", "2G"},
             {"low_speed_limit", "fast"},
             {"low_speed_time", "0"},
             {"low_speed_time", "3601"},
             {"payload_signing", "md5"},
             {"payload_signing", ""},
             {"ca_file", ""}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *m = load_err(opts(BASIC, bad[i].name, bad[i].value, NULL), SLUICE_ERR_CONFIG_INVALID);
    HAS(m, bad[i].name);
    free(m);
  }
  char *missing = in_home("no-such-ca.pem");
  char *m = load_err(opts(BASIC, "ca_file", missing, NULL), SLUICE_ERR_CONFIG_INVALID);
  HAS(m, missing);
  HAS(m, "No such file");
  free(m);
  free(missing);
  free(ca);
}

/* ---- secrets never reach a message ---- */

/* load_err() already checks every message for SECRET, TOKEN and KEYID;
 * these are the failures that happen while secrets are at hand. */
Test(s3_config, secrets_never_in_messages, .timeout = 10) {
#define CREDS "access_key_id", KEYID, "secret_access_key", SECRET, "session_token", TOKEN
  sluice_options *cases[] = {
      opts(CREDS, NULL), /* no bucket */
      opts(CREDS, "bucket", "b", "region", "r", "endpoint", "ftp://x", NULL),
      opts(CREDS, "bucket", "b", "region", "bad region", NULL),
      opts(CREDS, "bucket", "b/c", NULL),
      opts(CREDS, "bucket", "b", "region", "r", "max_attempts", "99", NULL),
      opts(CREDS, "bucket", "b", "region", "r", "anonymous", "true", NULL),
      opts(CREDS, "bucket", "b", "profile", "missing", NULL),
      opts(CREDS, "bucket", "b", NULL), /* no region */
      opts("secret_access_key", SECRET, "session_token", TOKEN, "bucket", "b", NULL),
      opts("access_key_id", KEYID, "session_token", TOKEN, "bucket", "b", NULL),
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    free(load_err(cases[i], SLUICE_ERR_CONFIG_INVALID));

  /* The same from the environment and from the files. */
  setenv("AWS_ACCESS_KEY_ID", KEYID, 1);
  setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
  setenv("AWS_SESSION_TOKEN", TOKEN, 1);
  free(load_err(opts("bucket", "b", "endpoint", "nope", NULL), SLUICE_ERR_CONFIG_INVALID));
  free(load_err(opts("bucket", "b", NULL), SLUICE_ERR_CONFIG_INVALID));
  unsetenv("AWS_ACCESS_KEY_ID");
  free(load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID));
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  put(".aws/credentials", "[default]\naws_access_key_id = " KEYID
                          "\naws_secret_access_key = " SECRET "\naws_session_token = " TOKEN "\n");
  put(".aws/config", "[default]\nendpoint_url = nope\n");
  free(load_err(opts("bucket", "b", NULL), SLUICE_ERR_CONFIG_INVALID));
  free(load_err(opts("bucket", "b", "region", "bad region", NULL), SLUICE_ERR_CONFIG_INVALID));
  free(load_err(opts("bucket", "b", "region", "r", "endpoint", "x", NULL),
                SLUICE_ERR_CONFIG_INVALID));
  put(".aws/credentials",
      "[default]\naws_secret_access_key = " SECRET "\naws_session_token = " TOKEN "\n");
  free(load_err(opts("bucket", "b", "region", "r", NULL), SLUICE_ERR_CONFIG_INVALID));
#undef CREDS
}

/* ---- clear ---- */

Test(s3_config, clear_is_safe, .timeout = 10) {
  sluice__s3_config_clear(NULL);
  sluice__s3_config z;
  memset(&z, 0, sizeof(z));
  sluice__s3_config_clear(&z);
  sluice__s3_config c = load_ok(opts(BASIC, "session_token", "T", "ca_file", "/dev/null", NULL));
  sluice__s3_config_clear(&c);
  cr_assert(all_zero(&c));
  sluice__s3_config_clear(&c); /* twice is fine */
  sluice_error *e = sluice__s3_config_load(NULL, NULL);
  cr_assert_eq(sluice_error_kind(e), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_error_free(e);
}
