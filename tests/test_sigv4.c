/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4: every case of the AWS signing test suite in both
 * forms, compared bit for bit (canonical request, string to sign, signature,
 * signed request); the two worked examples of the S3 documentation; path
 * and query encoding; argument errors; SHA-256; and concurrent signing.
 *
 * The suite lives beside the project (see ../shared/testdata/README.md):
 * $SLUICE_SIGV4_SUITE, else $top_srcdir/../shared/testdata/..., else
 * ../shared/... and ../../shared/... from the current directory.  When it is
 * absent the suite tests are skipped with a message that says so.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checksum.h"
#include "s3/sigv4.h"
#include "strbuf.h"

/* Skips loudly: Criterion prints a skip reason only with --verbose, so the
 * reason also goes to stderr, which it always shows. */
#define SKIP_NO_SUITE(where)                                                                     \
  do {                                                                                           \
    /* stderr, not cr_log_warn: Criterion fails a run that logged a warning. */                  \
    fprintf(stderr, "SKIP: AWS SigV4 suite not found at %s: set SLUICE_SIGV4_SUITE\n", (where)); \
    cr_skip_test("AWS SigV4 suite not found at %s: set SLUICE_SIGV4_SUITE", (where));            \
  } while (0)

#define SUITE_SUBDIR "shared/testdata/aws-signing-test-suite-v4"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

#define EXPECT_OK(expr)                                                                        \
  do {                                                                                         \
    sluice_error *e_ = (expr);                                                                 \
    cr_assert(e_ == NULL, "%s failed: [%s] %s", #expr, sluice_strerror(sluice_error_kind(e_)), \
              sluice_error_message(e_));                                                       \
  } while (0)

/* strlcpy: copies what fits, always terminated. */
static void copy_str(char *dst, size_t n, const char *src) {
  size_t l = strnlen(src, n - 1);
  memcpy(dst, src, l);
  dst[l] = '\0';
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The whole file, NUL-terminated; NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (cap - n - 1 == 0) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) free(buf);
      buf = bigger;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* "a/b" (or "a/b/c" when c is not NULL); free() it.  Also used outside
 * tests (parameter generation), where cr_assert is not allowed. */
static char *join(const char *a, const char *b, const char *c) {
  char *s = NULL;
  if (asprintf(&s, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "") < 0) abort();
  return s;
}

static char *slurp_in(const char *dir, const char *name) {
  char *path = join(dir, name, NULL);
  char *text = slurp(path, NULL);
  free(path);
  return text;
}

/* Fails (without stopping) naming the case, the artefact and the first line
 * where got differs from want. */
static void expect_same(const char *where, const char *what, const char *want, const char *got) {
  if (!got) got = "(null)";
  if (strcmp(want, got) == 0) return;
  const char *w = want, *g = got, *wl = want, *gl = got;
  int line = 1;
  while (*w && *w == *g) {
    if (*w == '\n') {
      line++;
      wl = w + 1;
      gl = g + 1;
    }
    w++;
    g++;
  }
  int wn = (int)strcspn(wl, "\n"), gn = (int)strcspn(gl, "\n");
  cr_expect_fail("%s: %s differs at line %d:\n  expected: \"%.*s\"%s\n  actual:   \"%.*s\"%s",
                 where, what, line, wn, wl, wl[wn] ? "" : " (end)", gn, gl, gl[gn] ? "" : " (end)");
}

/* ------------------------------------------------------------------ */
/* Locating the suite and its cases                                    */
/* ------------------------------------------------------------------ */

/* The suite directory in dir (1), or 0 with the places tried in tried. */
static int find_suite(char *dir, size_t n, char *tried, size_t tn) {
  const char *env = getenv("SLUICE_SIGV4_SUITE");
  if (env && *env) {
    copy_str(dir, n, env);
    copy_str(tried, tn, env);
    return is_dir(dir);
  }
  const char *top = getenv("top_srcdir");
  char cand[3][PATH_MAX];
  int nc = 0;
  if (top && *top) snprintf(cand[nc++], PATH_MAX, "%s/../%s", top, SUITE_SUBDIR);
  snprintf(cand[nc++], PATH_MAX, "../%s", SUITE_SUBDIR);
  snprintf(cand[nc++], PATH_MAX, "../../%s", SUITE_SUBDIR);
  tried[0] = '\0';
  for (int i = 0; i < nc; i++) {
    if (is_dir(cand[i])) {
      copy_str(dir, n, cand[i]);
      return 1;
    }
    size_t used = strlen(tried);
    snprintf(tried + used, tn - used, "%s%s", i ? " or " : "", cand[i]);
  }
  return 0;
}

struct case_param {
  char dir[PATH_MAX];
  char name[128]; /* "" when the suite is missing: dir then says where we looked */
};

static int name_cmp(const void *a, const void *b) {
  return strcmp(((const struct case_param *)a)->name, ((const struct case_param *)b)->name);
}

static void free_params(struct criterion_test_params *ctp) { cr_free(ctp->params); }

/* Runs in the runner process, so the array lives in Criterion's shared
 * memory (cr_malloc).  A missing suite gives one placeholder parameter, so
 * the tests run and skip loudly instead of vanishing. */
static struct criterion_test_params case_params(void) {
  char dir[PATH_MAX], tried[3 * PATH_MAX];
  int found = find_suite(dir, sizeof(dir), tried, sizeof(tried));
  size_t n = 0, cap = 64;
  struct case_param *p = cr_malloc(cap * sizeof(*p));
  DIR *d = found ? opendir(dir) : NULL;
  for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
    char *req = join(dir, de->d_name, "request.txt");
    struct stat st;
    int is_case = de->d_name[0] != '.' && stat(req, &st) == 0;
    free(req);
    if (!is_case || strlen(de->d_name) >= sizeof(p->name)) continue;
    if (n == cap) p = cr_realloc(p, (cap *= 2) * sizeof(*p));
    copy_str(p[n].dir, sizeof(p[n].dir), dir);
    copy_str(p[n].name, sizeof(p[n].name), de->d_name);
    n++;
  }
  if (d) closedir(d);
  if (n == 0) { /* missing, or present but empty: the test reports which */
    copy_str(p[0].dir, sizeof(p[0].dir), found ? dir : tried);
    p[0].name[0] = '\0';
    p[0].name[1] = (char)found;
    n = 1;
  }
  qsort(p, n, sizeof(*p), name_cmp);
  return cr_make_param_array(struct case_param, p, n, free_params);
}

/* ------------------------------------------------------------------ */
/* context.json: a flat reader for the handful of keys the suite uses   */
/* ------------------------------------------------------------------ */

typedef struct jkv {
  char key[64];
  char val[2048];
} jkv;

/* Reads the JSON string at p (on the opening quote) into out; returns the
 * position after the closing quote, NULL when malformed or too long. */
static const char *json_string(const char *p, char *out, size_t cap) {
  size_t n = 0;
  for (p++; *p != '"'; p++) {
    char c = *p;
    if (!c || n + 1 >= cap) return NULL;
    if (c == '\\') {
      const char *esc = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", *++p);
      if (!*p || !esc || (esc - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2) return NULL; /* \u: unused */
      c = esc[1];
    }
    out[n++] = c;
  }
  out[n] = '\0';
  return p + 1;
}

/* Every "key": scalar pair, nested objects flattened (the suite's keys are
 * unique).  Returns the count, -1 for JSON this reader does not handle. */
static int json_read(const char *p, jkv *kv, int max) {
  int n = 0;
  for (;;) {
    p += strspn(p, " \t\r\n{},");
    if (!*p) return n;
    char key[64];
    if (*p != '"' || !(p = json_string(p, key, sizeof(key)))) return -1;
    p += strspn(p, " \t\r\n");
    if (*p++ != ':') return -1;
    p += strspn(p, " \t\r\n");
    if (*p == '{') continue;
    if (n == max || *p == '[') return -1;
    snprintf(kv[n].key, sizeof(kv[n].key), "%s", key);
    if (*p == '"') {
      if (!(p = json_string(p, kv[n].val, sizeof(kv[n].val)))) return -1;
    } else {
      size_t len = strcspn(p, " \t\r\n,}");
      if (len == 0 || len >= sizeof(kv[n].val)) return -1;
      memcpy(kv[n].val, p, len);
      kv[n].val[len] = '\0';
      p += len;
    }
    n++;
  }
}

static const char *json_get(const jkv *kv, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(kv[i].key, key) == 0) return kv[i].val;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* One case: request.txt and context.json                              */
/* ------------------------------------------------------------------ */

#define MAX_FIELDS 32

typedef struct tcase {
  char *text; /* request.txt, cut in place into the fields below */
  char *method, *target_path, *raw_query, *protocol;
  char *request_line; /* first line as written */
  char *header_block; /* the header lines as written, each ending '\n' */
  char *body;
  size_t body_len;
  sluice__sigv4_pair headers[MAX_FIELDS], query[MAX_FIELDS];
  char *owned[2 * MAX_FIELDS + 8]; /* strings to free */
  size_t n_headers, n_query, n_owned;
  jkv ctx[16];
  int n_ctx;
  time_t when;
} tcase;

static char *own(tcase *tc, char *s) {
  cr_assert(s && tc->n_owned < sizeof(tc->owned) / sizeof(tc->owned[0]));
  return tc->owned[tc->n_owned++] = s;
}

static void tcase_free(tcase *tc) {
  for (size_t i = 0; i < tc->n_owned; i++) free(tc->owned[i]);
  free(tc->text);
}

static char *pct_decode(const char *s, size_t n) {
  char *out = malloc(n + 1), *o = out;
  for (size_t i = 0; out && i < n; i++) {
    if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
        isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = {s[i + 1], s[i + 2], '\0'};
      *o++ = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  if (out) *o = '\0';
  return out;
}

static const char *ctx_str(const tcase *tc, const char *key) {
  const char *v = json_get(tc->ctx, tc->n_ctx, key);
  return v ? v : "";
}
static int ctx_true(const tcase *tc, const char *key) {
  const char *v = json_get(tc->ctx, tc->n_ctx, key);
  return v && strcmp(v, "true") == 0;
}

static void load_case(const struct case_param *p, tcase *tc) {
  memset(tc, 0, sizeof(*tc));
  char *dir = join(p->dir, p->name, NULL);
  char *json = slurp_in(dir, "context.json");
  cr_assert(json, "%s: cannot read context.json", p->name);
  tc->n_ctx = json_read(json, tc->ctx, 16);
  free(json);
  cr_assert(tc->n_ctx > 0, "%s: context.json is not the flat JSON this reader expects", p->name);
  struct tm tm = {0};
  cr_assert(sscanf(ctx_str(tc, "timestamp"), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6,
            "%s: bad timestamp \"%s\"", p->name, ctx_str(tc, "timestamp"));
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tc->when = timegm(&tm);

  size_t len = 0;
  char *path = join(dir, "request.txt", NULL);
  tc->text = slurp(path, &len);
  free(path);
  free(dir);
  cr_assert(tc->text, "%s: cannot read request.txt", p->name);
  /* Head and body split at the first empty line (none: no body). */
  char *t = tc->text, *sep = strstr(t, "\n\n");
  if (sep) {
    sep[1] = '\0';
    tc->body = sep + 2;
  } else {
    tc->body = t + len;
  }
  tc->body_len = strlen(tc->body);

  /* Request line: METHOD SP target SP HTTP/x (the target may hold spaces). */
  char *eol = strchr(t, '\n');
  cr_assert(eol, "%s: request.txt has no request line", p->name);
  *eol = '\0';
  tc->request_line = own(tc, strdup(t));
  tc->header_block = eol + 1;
  char *sp = strchr(t, ' ');
  char *proto = NULL;
  for (char *s = t; (s = strstr(s, " HTTP/")) != NULL; s++) proto = s;
  cr_assert(sp && proto && proto > sp, "%s: bad request line \"%s\"", p->name, t);
  *sp = '\0';
  tc->method = t;
  tc->protocol = own(tc, strdup(proto));
  *proto = '\0';
  tc->target_path = sp + 1;
  char *q = strchr(tc->target_path, '?');
  if (q) {
    *q = '\0';
    tc->raw_query = q + 1;
  }

  /* Headers: "Name:value"; a line starting with a blank continues the
   * previous value (kept as a fold, "\n" + the line, for the signer). */
  char *hb = own(tc, strdup(tc->header_block));
  for (char *line = hb, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    size_t l = strlen(line);
    if (l && line[l - 1] == '\r') line[--l] = '\0';
    if (line[0] == ' ' || line[0] == '\t') {
      cr_assert(tc->n_headers > 0, "%s: continuation before any header", p->name);
      sluice__sigv4_pair *h = &tc->headers[tc->n_headers - 1];
      char *joined = NULL;
      cr_assert(asprintf(&joined, "%s\n%s", h->value, line) > 0);
      h->value = own(tc, joined);
      continue;
    }
    char *colon = strchr(line, ':');
    cr_assert(colon && tc->n_headers < MAX_FIELDS, "%s: bad header line \"%s\"", p->name, line);
    *colon = '\0';
    tc->headers[tc->n_headers++] = (sluice__sigv4_pair){line, colon + 1};
  }

  /* Query: '&'-separated name[=value], percent-decoded for the signer. */
  for (char *s = tc->raw_query; s && *s;) {
    size_t n = strcspn(s, "&");
    if (n) {
      char *eq = memchr(s, '=', n);
      size_t nn = eq ? (size_t)(eq - s) : n;
      cr_assert(tc->n_query < MAX_FIELDS);
      sluice__sigv4_pair *qp = &tc->query[tc->n_query++];
      qp->name = own(tc, pct_decode(s, nn));
      qp->value = own(tc, eq ? pct_decode(eq + 1, n - nn - 1) : strdup(""));
    }
    s += n + (s[n] == '&');
  }
}

/* The suite's rules: normalise as context.json says, encode the path once
 * more (generic services), hash the body, and when "sign_body" is set send
 * and sign x-amz-content-sha256 (header form only: a presigned URL carries
 * no headers of its own).  "omit_session_token": the token is added after
 * signing rather than signed. */
static void suite_request(tcase *tc, sluice__sigv4_form form, char body_hash[65],
                          sluice__sigv4_request *r) {
  EXPECT_OK(sluice__sha256_hex(tc->body, tc->body_len, body_hash));
  const char *token = json_get(tc->ctx, tc->n_ctx, "token");
  *r = (sluice__sigv4_request){
      .form = form,
      .method = tc->method,
      .path = tc->target_path,
      .query = tc->query,
      .n_query = tc->n_query,
      .headers = tc->headers,
      .n_headers = tc->n_headers,
      .payload_hash = body_hash,
      .add_content_sha256 = form == SLUICE__SIGV4_HEADER && ctx_true(tc, "sign_body"),
      .access_key_id = ctx_str(tc, "access_key_id"),
      .secret_access_key = ctx_str(tc, "secret_access_key"),
      .session_token = token,
      .session_token_unsigned = ctx_true(tc, "omit_session_token"),
      .region = ctx_str(tc, "region"),
      .service = ctx_str(tc, "service"),
      .when = tc->when,
      .expires = (uint32_t)strtoul(ctx_str(tc, "expiration_in_seconds"), NULL, 10),
      .normalize_path = ctx_true(tc, "normalize"),
      .path_encoding = SLUICE__SIGV4_ENCODE_PATH_TWICE,
  };
}

static void run_case(const struct case_param *p, sluice__sigv4_form form) {
  if (p->name[0] == '\0') {
    if (p->name[1]) cr_assert_fail("AWS SigV4 suite at %s holds no cases", p->dir);
    SKIP_NO_SUITE(p->dir);
  }
  const char *prefix = form == SLUICE__SIGV4_HEADER ? "header" : "query";
  char where[200], file[64];
  snprintf(where, sizeof(where), "%s (%s form)", p->name, prefix);
  char *dir = join(p->dir, p->name, NULL);

  tcase tc;
  load_case(p, &tc);
  char body_hash[65];
  sluice__sigv4_request r;
  suite_request(&tc, form, body_hash, &r);
  sluice__sigv4_result res;
  sluice_error *err = sluice__sigv4_sign(&r, &res);
  cr_assert(err == NULL, "%s: sign failed: %s", where, sluice_error_message(err));

  static const char *const parts[] = {"canonical-request", "string-to-sign", "signature",
                                      "signed-request"};
  char *want[4];
  for (int i = 0; i < 4; i++) {
    snprintf(file, sizeof(file), "%s-%s.txt", prefix, parts[i]);
    want[i] = slurp_in(dir, file);
    cr_assert(want[i], "%s: cannot read %s", where, file);
  }
  want[2][strcspn(want[2], " \r\n")] = '\0';

  /* The signed request as the suite writes it: the request as given plus
   * our headers (header form) or with our parameters appended to its query
   * (query form). */
  char *signed_req = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&signed_req, &n);
  cr_assert(f);
  if (form == SLUICE__SIGV4_HEADER) {
    fprintf(f, "%s\n%s", tc.request_line, tc.header_block);
    for (size_t i = 0; i < res.n_headers; i++)
      fprintf(f, "%s:%s\n", res.headers[i].name, res.headers[i].value);
  } else {
    int has_query = tc.raw_query && *tc.raw_query;
    fprintf(f, "%s %s?%s%s%s%s\n%s", tc.method, tc.target_path, has_query ? tc.raw_query : "",
            has_query ? "&" : "", res.query, tc.protocol, tc.header_block);
  }
  fputc('\n', f);
  fwrite(tc.body, 1, tc.body_len, f);
  fclose(f);

  expect_same(where, "canonical request", want[0], res.canonical_request);
  expect_same(where, "string to sign", want[1], res.string_to_sign);
  expect_same(where, "signature", want[2], res.signature);
  expect_same(where, "signed request", want[3], signed_req);

  free(signed_req);
  for (int i = 0; i < 4; i++) free(want[i]);
  free(dir);
  sluice__sigv4_result_free(&res);
  tcase_free(&tc);
}

ParameterizedTestParameters(sigv4, suite_header_form) { return case_params(); }
ParameterizedTest(struct case_param *p, sigv4, suite_header_form) {
  run_case(p, SLUICE__SIGV4_HEADER);
}

ParameterizedTestParameters(sigv4, suite_query_form) { return case_params(); }
ParameterizedTest(struct case_param *p, sigv4, suite_query_form) {
  run_case(p, SLUICE__SIGV4_QUERY);
}

/* Guards against cases silently dropping out of the parameter list: every
 * folder must be a complete case. */
Test(sigv4, suite_is_complete) {
  char dir[PATH_MAX], tried[3 * PATH_MAX];
  if (!find_suite(dir, sizeof(dir), tried, sizeof(tried))) SKIP_NO_SUITE(tried);
  static const char *const files[] = {"context.json",
                                      "request.txt",
                                      "header-canonical-request.txt",
                                      "header-string-to-sign.txt",
                                      "header-signature.txt",
                                      "header-signed-request.txt",
                                      "query-canonical-request.txt",
                                      "query-string-to-sign.txt",
                                      "query-signature.txt",
                                      "query-signed-request.txt"};
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s: %s", dir, strerror(errno));
  int cases = 0;
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    char *sub = join(dir, de->d_name, NULL);
    if (de->d_name[0] != '.' && is_dir(sub)) {
      cases++;
      for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = join(sub, files[i], NULL);
        struct stat st;
        cr_expect(stat(path, &st) == 0, "case %s lacks %s", de->d_name, files[i]);
        free(path);
      }
    }
    free(sub);
  }
  closedir(d);
  cr_assert(cases > 0, "no cases in %s", dir);
  cr_log_info("AWS SigV4 suite: %d cases in %s", cases, dir);
}

/* ------------------------------------------------------------------ */
/* The S3 documentation's worked examples (S3 path rules)              */
/* ------------------------------------------------------------------ */

static time_t doc_time(void) {
  struct tm tm = {.tm_year = 2013 - 1900, .tm_mon = 4, .tm_mday = 24};
  return timegm(&tm);
}

static sluice__sigv4_request doc_request(sluice__sigv4_form form, const sluice__sigv4_pair *h,
                                         size_t nh) {
  return (sluice__sigv4_request){
      .form = form,
      .method = "GET",
      .path = "/test.txt",
      .headers = h,
      .n_headers = nh,
      .payload_hash = form == SLUICE__SIGV4_HEADER ? EMPTY_SHA256 : SLUICE__SIGV4_UNSIGNED_PAYLOAD,
      .add_content_sha256 = form == SLUICE__SIGV4_HEADER,
      .access_key_id = "AKIAIOSFODNN7EXAMPLE",
      .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      .region = "us-east-1",
      .service = "s3",
      .when = doc_time(),
      .expires = 86400,
      .normalize_path = 0,
      .path_encoding = SLUICE__SIGV4_ENCODE_PATH_ONCE,
  };
}

Test(sigv4, s3_doc_get_object_header) {
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                  {"Range", "bytes=0-9"}};
  sluice__sigv4_request r = doc_request(SLUICE__SIGV4_HEADER, h, 2);
  sluice__sigv4_result res;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  expect_same("S3 GET example", "canonical request",
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" EMPTY_SHA256
              "\nx-amz-date:20130524T000000Z\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256,
              res.canonical_request);
  /* The string to sign ends with the hash of the canonical request. */
  char sts[200] = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n";
  EXPECT_OK(
      sluice__sha256_hex(res.canonical_request, strlen(res.canonical_request), sts + strlen(sts)));
  expect_same("S3 GET example", "string to sign", sts, res.string_to_sign);
  cr_expect_str_eq(res.signature,
                   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  cr_assert_eq(res.n_headers, 3);
  cr_expect_str_eq(res.headers[0].name, "X-Amz-Date");
  cr_expect_str_eq(res.headers[0].value, "20130524T000000Z");
  cr_expect_str_eq(res.headers[1].name, "x-amz-content-sha256");
  cr_expect_str_eq(res.headers[1].value, EMPTY_SHA256);
  cr_expect_str_eq(res.headers[2].name, "Authorization");
  cr_expect_str_eq(res.authorization,
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                   "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                   "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  cr_expect_null(res.query);
  sluice__sigv4_result_free(&res);
}

/* The key cache gives AWS's signature for AWS's example, from a fresh
 * cache, from the cached key, and again after a request of another day
 * replaced it. */
Test(sigv4, key_cache_signs_as_without) {
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                  {"Range", "bytes=0-9"}};
  sluice__sigv4_keycache *cache = sluice__sigv4_keycache_new();
  cr_assert(cache);
  for (int round = 0; round < 3; round++) {
    sluice__sigv4_request r = doc_request(SLUICE__SIGV4_HEADER, h, 2);
    r.key_cache = cache;
    sluice__sigv4_result res;
    EXPECT_OK(sluice__sigv4_sign(&r, &res));
    cr_expect_str_eq(res.signature,
                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", "round %d",
                     round);
    sluice__sigv4_result_free(&res);
    if (round == 1) { /* the next day, through the same cache, then back */
      r.when += 86400;
      sluice__sigv4_request plain = r;
      plain.key_cache = NULL;
      sluice__sigv4_result a, b;
      EXPECT_OK(sluice__sigv4_sign(&r, &a));
      EXPECT_OK(sluice__sigv4_sign(&plain, &b));
      cr_expect_str_eq(a.signature, b.signature);
      cr_expect_str_neq(a.signature,
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
      sluice__sigv4_result_free(&a);
      sluice__sigv4_result_free(&b);
    }
  }
  sluice__sigv4_keycache_free(cache);
  sluice__sigv4_keycache_free(NULL);
}

Test(sigv4, s3_doc_presigned_url) {
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
  sluice__sigv4_request r = doc_request(SLUICE__SIGV4_QUERY, h, 1);
  sluice__sigv4_result res;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  expect_same("S3 presigned example", "canonical request",
              "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
              "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
              "20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
              "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD",
              res.canonical_request);
  expect_same("S3 presigned example", "string to sign",
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04",
              res.string_to_sign);
  cr_expect_str_eq(res.signature,
                   "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  cr_expect_str_eq(res.query,
                   "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"
                   "20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&"
                   "X-Amz-SignedHeaders=host&X-Amz-Expires=86400&X-Amz-Signature="
                   "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  cr_expect_eq(res.n_headers, 0);
  cr_expect_null(res.authorization);
  sluice__sigv4_result_free(&res);
}

/* ------------------------------------------------------------------ */
/* Paths, query encoding and the session token                         */
/* ------------------------------------------------------------------ */

/* Canonical path (second line of the canonical request) of a GET. */
static char *canon_path(const char *path, sluice__sigv4_path_encoding enc, int normalize) {
  const sluice__sigv4_pair h[] = {{"Host", "example.com"}};
  sluice__sigv4_request r = doc_request(SLUICE__SIGV4_HEADER, h, 1);
  r.path = path;
  r.path_encoding = enc;
  r.normalize_path = normalize;
  sluice__sigv4_result res;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  char *line = strchr(res.canonical_request, '\n') + 1;
  char *out = strndup(line, strcspn(line, "\n"));
  sluice__sigv4_result_free(&res);
  return out;
}

Test(sigv4, path_encoding_and_normalisation) {
  static const struct {
    const char *in;
    sluice__sigv4_path_encoding enc;
    int normalize;
    const char *want;
  } cases[] = {
      /* S3: what is sent is what is signed; raw bytes encoded once. */
      {"/my%20file.txt", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/my%20file.txt"},
      {"/my file.txt", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/my%20file.txt"},
      {"/a%2fb", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/a%2Fb"},
      {"/100%", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/100%25"},
      {"/\xe1\x88\xb4!*", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/%E1%88%B4%21%2A"},
      {"/a//b/../c/./", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/a//b/../c/./"},
      {"", SLUICE__SIGV4_ENCODE_PATH_ONCE, 0, "/"},
      /* Generic services: the sent path is encoded again. */
      {"/my%20file.txt", SLUICE__SIGV4_ENCODE_PATH_TWICE, 0, "/my%2520file.txt"},
      {"/a b", SLUICE__SIGV4_ENCODE_PATH_TWICE, 0, "/a%20b"},
      /* Normalisation. */
      {"/a/b/..", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/a/"},
      {"/a/./b/", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/a/b/"},
      {"/../../a", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/a"},
      {"//a//b", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/a/b"},
      {"/a/..", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/"},
      {"", SLUICE__SIGV4_ENCODE_PATH_TWICE, 1, "/"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *got = canon_path(cases[i].in, cases[i].enc, cases[i].normalize);
    cr_expect_str_eq(got, cases[i].want, "path \"%s\" (%s, normalize=%d): got %s, want %s",
                     cases[i].in, cases[i].enc == SLUICE__SIGV4_ENCODE_PATH_ONCE ? "once" : "twice",
                     cases[i].normalize, got, cases[i].want);
    free(got);
  }
}

Test(sigv4, uri_encode) {
  static const struct {
    const char *in;
    int keep_slash;
    const char *want;
  } cases[] = {
      {"a b/c~-_.", 1, "a%20b/c~-_."},
      {"a b/c~-_.", 0, "a%20b%2Fc~-_."},
      {"\xe1\x88\xb4", 0, "%E1%88%B4"},
      {"+=&%?#", 1, "%2B%3D%26%25%3F%23"},
      {"", 0, ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *got = NULL;
    EXPECT_OK(sluice__uri_encode(cases[i].in, strlen(cases[i].in), cases[i].keep_slash, &got));
    cr_expect_str_eq(got, cases[i].want);
    free(got);
  }
}

Test(sigv4, query_sorted_by_encoded_name_then_value) {
  const sluice__sigv4_pair h[] = {{"Host", "example.com"}};
  const sluice__sigv4_pair q[] = {
      {"b", "2"}, {"a", "z"}, {"a", "y y"}, {"A", NULL}, {"\xe1\x88\xb4", "+"}, {"list-type", "2"}};
  sluice__sigv4_request r = doc_request(SLUICE__SIGV4_HEADER, h, 1);
  r.query = q;
  r.n_query = 6;
  sluice__sigv4_result res;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  char *line = strchr(strchr(res.canonical_request, '\n') + 1, '\n') + 1;
  char *got = strndup(line, strcspn(line, "\n"));
  cr_expect_str_eq(got, "%E1%88%B4=%2B&A=&a=y%20y&a=z&b=2&list-type=2");
  free(got);
  sluice__sigv4_result_free(&res);
}

Test(sigv4, session_token_header_and_query) {
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
  sluice__sigv4_request r = doc_request(SLUICE__SIGV4_HEADER, h, 1);
  r.session_token = "tok/en+=";
  sluice__sigv4_result res;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  cr_assert_eq(res.n_headers, 4);
  cr_expect_str_eq(res.headers[0].name, "X-Amz-Security-Token");
  cr_expect_str_eq(res.headers[0].value, "tok/en+=");
  cr_expect(strstr(res.canonical_request, "\nx-amz-security-token:tok/en+=\n"));
  cr_expect(strstr(res.authorization, "x-amz-date;x-amz-security-token,"));
  sluice__sigv4_result_free(&res);

  r.form = SLUICE__SIGV4_QUERY;
  r.payload_hash = SLUICE__SIGV4_UNSIGNED_PAYLOAD;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  cr_expect(strstr(res.query, "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature="));
  cr_expect(strstr(res.canonical_request, "&X-Amz-Security-Token=tok%2Fen%2B%3D&"));
  sluice__sigv4_result_free(&res);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#define SECRET "Do-Not-Leak/ThisSecretKey+EXAMPLE"

static void expect_invalid(const sluice__sigv4_request *r, const char *what) {
  sluice__sigv4_result res;
  memset(&res, 0xa5, sizeof(res));
  sluice_error *err = sluice__sigv4_sign(r, &res);
  cr_assert(err, "%s: accepted", what);
  cr_expect_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "%s: [%s] %s", what,
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  const char *msg = sluice_error_message(err);
  cr_expect(strncmp(msg, "sigv4: ", 7) == 0, "%s: message \"%s\" does not name sigv4", what, msg);
  cr_expect(!strstr(msg, SECRET) && !strstr(msg, "ThisSecret"), "%s: message leaks the secret",
            what);
  cr_expect_null(res.canonical_request, "%s: result not cleared", what);
  cr_expect_eq(res.n_headers, 0);
  sluice_error_free(err);
  sluice__sigv4_result_free(&res);
}

Test(sigv4, invalid_arguments) {
  const sluice__sigv4_pair h[] = {{"Host", "example.com"}};
  const sluice__sigv4_request good = doc_request(SLUICE__SIGV4_HEADER, h, 1);
  sluice__sigv4_request r;
  sluice__sigv4_result res;

  sluice_error *err = sluice__sigv4_sign(NULL, &res);
  cr_expect_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_error_free(err);
  err = sluice__sigv4_sign(&good, NULL);
  cr_expect_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_error_free(err);

#define TRY(what, field, value)   \
  do {                            \
    r = good;                     \
    r.secret_access_key = SECRET; \
    r.field = value;              \
    expect_invalid(&r, what);     \
  } while (0)
  TRY("NULL method", method, NULL);
  TRY("method with a space", method, "GE T");
  TRY("relative path", path, "test.txt");
  TRY("path with a query", path, "/a?b=1");
  TRY("path with a newline", path, "/a\nb");
  TRY("bad payload hash", payload_hash, "xyz");
  TRY("empty access key", access_key_id, "");
  TRY("empty secret", secret_access_key, "");
  TRY("region with a space", region, "us east");
  TRY("service with a slash", service, "s3/x");
  TRY("token with CRLF", session_token, "a\r\nX-Evil: 1");
  TRY("unknown form", form, (sluice__sigv4_form)7);
  TRY("time before 1970", when, (time_t)-86400);
  TRY("NULL headers", headers, NULL);

  static const sluice__sigv4_pair bad_name[] = {{"Bad Name", "x"}};
  static const sluice__sigv4_pair injected[] = {{"X-A", "a\r\nX-Injected: 1"}};
  static const sluice__sigv4_pair ours[] = {{"Host", "h"}, {"authorization", "x"}};
  static const sluice__sigv4_pair no_host[] = {{"Range", "bytes=0-9"}};
  TRY("no Host header", headers, no_host);
  TRY("header name with a space", headers, bad_name);
  TRY("header value with CRLF", headers, injected);
  r = good;
  r.headers = ours;
  r.n_headers = 2;
  expect_invalid(&r, "caller's Authorization header");

  static const sluice__sigv4_pair sig_param[] = {{"X-Amz-Signature", "x"}};
  r = doc_request(SLUICE__SIGV4_QUERY, h, 1);
  r.query = sig_param;
  r.n_query = 1;
  expect_invalid(&r, "caller's X-Amz-Signature");
  r = doc_request(SLUICE__SIGV4_QUERY, h, 1);
  r.expires = 0;
  expect_invalid(&r, "zero expiry");
  r.expires = 604801;
  expect_invalid(&r, "expiry over seven days");

  char long_secret[400];
  memset(long_secret, 'k', sizeof(long_secret) - 1);
  long_secret[sizeof(long_secret) - 1] = '\0';
  r = good;
  r.secret_access_key = long_secret;
  err = sluice__sigv4_sign(&r, &res);
  cr_expect_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  cr_expect(!strstr(sluice_error_message(err), "kkkkkkkk"), "message leaks the secret");
  sluice_error_free(err);

  /* A folded value is accepted (the AWS suite signs one) and collapsed. */
  static const sluice__sigv4_pair folded[] = {{"Host", "h"}, {"X-A", "  a\n  b\r\n\tc  "}};
  r = good;
  r.headers = folded;
  r.n_headers = 2;
  EXPECT_OK(sluice__sigv4_sign(&r, &res));
  cr_expect(strstr(res.canonical_request, "\nx-a:a b c\n"));
  sluice__sigv4_result_free(&res);
  sluice__sigv4_result_free(NULL);
}

/* ------------------------------------------------------------------ */
/* SHA-256                                                             */
/* ------------------------------------------------------------------ */

Test(sigv4, sha256) {
  char hex[65];
  EXPECT_OK(sluice__sha256_hex(NULL, 0, hex));
  cr_expect_str_eq(hex, EMPTY_SHA256);
  EXPECT_OK(sluice__sha256_hex("abc", 3, hex));
  cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  /* A large buffer, one-shot, equals the streamed digest of lib/checksum.c
   * fed in uneven parts (what a multipart upload's SHA-256 uses). */
  size_t n = (1u << 20) + 7;
  unsigned char *buf = malloc(n);
  cr_assert(buf);
  for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
  char one[65];
  EXPECT_OK(sluice__sha256_hex(buf, n, one));
  sluice__checksum ck;
  EXPECT_OK(sluice__ck_init(&ck, SLUICE__CK_SHA256));
  for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1) {
    size_t len = step < n - off ? step : n - off;
    sluice__ck_update(&ck, buf + off, len);
  }
  unsigned char raw[SLUICE__CK_MAX_RAW];
  cr_assert_eq(sluice__ck_final(&ck, raw), 32);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  cr_expect_str_eq(hex, one);
  free(buf);

  sluice_error *err = sluice__sha256_hex(NULL, 1, hex);
  cr_expect_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_error_free(err);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 2000
#define VARIANTS 16

/* Variant v: its own path, time, form and (for odd v) a session token. */
static void variant(int v, sluice__sigv4_request *r, const sluice__sigv4_pair *h, char *path) {
  sprintf(path, "/bucket/key-%d", v);
  *r = doc_request(v % 2 ? SLUICE__SIGV4_QUERY : SLUICE__SIGV4_HEADER, h, 1);
  r->path = path;
  r->when += v * 3600 * 7;
  r->session_token = v % 3 ? NULL : "session-token";
}

struct worker {
  pthread_t tid;
  int id;
  char (*sigs)[65];
  int errors;
  sluice__sigv4_keycache *cache; /* shared by half the threads, NULL for the rest */
};

static void *sign_many(void *arg) {
  struct worker *w = arg;
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
  for (int i = 0; i < PER_THREAD; i++) {
    sluice__sigv4_request r;
    char path[64];
    variant((i + w->id) % VARIANTS, &r, h, path);
    r.key_cache = w->cache;
    sluice__sigv4_result res;
    sluice_error *err = sluice__sigv4_sign(&r, &res);
    if (err) {
      w->errors++;
      sluice_error_free(err);
      continue;
    }
    memcpy(w->sigs[i], res.signature, 65);
    sluice__sigv4_result_free(&res);
  }
  return NULL;
}

/* The threads start first, so they also race on the one-time OpenSSL
 * fetch; the single-threaded reference comes afterwards.  Half of them sign
 * through one key cache, and the variants' dates differ, so that cache is
 * replaced again and again while others read it. */
Test(sigv4, concurrent_signing_matches_single_thread, .timeout = 600) {
  static struct worker w[THREADS];
  sluice__sigv4_keycache *cache = sluice__sigv4_keycache_new();
  cr_assert(cache);
  for (int t = 0; t < THREADS; t++) {
    w[t].id = t;
    w[t].cache = t % 2 ? cache : NULL;
    w[t].sigs = calloc(PER_THREAD, 65);
    cr_assert(w[t].sigs);
    cr_assert(pthread_create(&w[t].tid, NULL, sign_many, &w[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(w[t].tid, NULL);
  sluice__sigv4_keycache_free(cache);

  char want[VARIANTS][65];
  const sluice__sigv4_pair h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
  for (int v = 0; v < VARIANTS; v++) {
    sluice__sigv4_request r;
    char path[64];
    variant(v, &r, h, path);
    sluice__sigv4_result res;
    EXPECT_OK(sluice__sigv4_sign(&r, &res));
    memcpy(want[v], res.signature, 65);
    sluice__sigv4_result_free(&res);
  }
  int mismatches = 0;
  for (int t = 0; t < THREADS; t++) {
    cr_expect_eq(w[t].errors, 0, "thread %d: %d signing errors", t, w[t].errors);
    for (int i = 0; i < PER_THREAD; i++)
      mismatches += strcmp(w[t].sigs[i], want[(i + t) % VARIANTS]) != 0;
    free(w[t].sigs);
  }
  cr_expect_eq(mismatches, 0, "%d of %d concurrent signatures differ from the single-thread ones",
               mismatches, THREADS * PER_THREAD);
}
