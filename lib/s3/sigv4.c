/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4.  The steps follow AWS's description: canonical
 * request -> string to sign -> HMAC chain over the date, region and service
 * -> signature.  See sigv4.h for the API and the path-encoding modes.
 *
 * The signing key is kept per credential set (sluice__sigv4_keycache), not
 * per process: deriving it took four of the five HMACs of every request,
 * and OpenSSL 3's HMAC init costs about 13,000 instructions, which made it
 * a fifth of a small PUT's user-space CPU (callgrind, 1,100 PUTs of 16 KiB).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "error.h"
#include "s3/sigv4.h"
#include "strbuf.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
/* Bounds the stack buffer that holds "AWS4" + secret; real secrets are 40
 * bytes (AWS) to 64 (some S3-compatible services). */
#define MAX_SECRET 256
#define MAX_EXPIRES 604800 /* seven days: the longest AWS accepts */

#define BAD(...) sluice__error(SLUICE_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define OR_NULL(s) ((s) ? (s) : "(null)")

/* ------------------------------------------------------------------ */
/* Shared OpenSSL objects                                              */
/* ------------------------------------------------------------------ */

/* OpenSSL 3 looks implementations up in a locked store on every implicit
 * fetch, which shows up badly when many threads sign at once.  So SHA-256 is
 * fetched once, and HMAC once into a template context that already carries
 * its digest: each signature dups the template (no fetch) and re-keys it.
 * Both are written only inside pthread_once, which also publishes them to
 * every thread; afterwards they are only read.  They live for the process
 * (OpenSSL's own atexit cleanup runs first, so freeing them later would be
 * wrong), which valgrind reports as "still reachable", not as a leak. */
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static EVP_MAC_CTX *hmac_template;

static void crypto_init(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (mac) {
    hmac_template = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context keeps its own reference */
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_end()};
  if (hmac_template && !EVP_MAC_CTX_set_params(hmac_template, params)) {
    EVP_MAC_CTX_free(hmac_template);
    hmac_template = NULL;
  }
  ERR_clear_error();
}

/* The queued OpenSSL reason; OpenSSL messages never carry key material. */
static sluice_error *ossl_error(const char *what) {
  char why[256] = "no OpenSSL error queued";
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, why, sizeof(why));
  ERR_clear_error();
  return sluice__error(SLUICE_ERR_UNEXPECTED, "sigv4: %s failed: %s", what, why);
}

static sluice_error *crypto_ready(void) {
  pthread_once(&crypto_once, crypto_init);
  if (!sha256_md || !hmac_template)
    return sluice__error(SLUICE_ERR_UNEXPECTED,
                         "sigv4: OpenSSL provides no %s (fetch failed at first use)",
                         sha256_md ? "HMAC-SHA256" : "SHA256");
  return NULL;
}

static void to_hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* ------------------------------------------------------------------ */
/* SHA-256                                                             */
/* ------------------------------------------------------------------ */

sluice_error *sluice__sha256_hex(const void *data, size_t len, char out[65]) {
  if (!out) return BAD("sigv4: sha256: NULL output");
  out[0] = '\0';
  if (!data && len) return BAD("sigv4: sha256: NULL data");
  sluice_error *err = crypto_ready();
  if (err) return err;
  unsigned char md[32];
  unsigned int n = 0;
  if (!EVP_Digest(data ? data : "", len, md, &n, sha256_md, NULL) || n != 32)
    return ossl_error("SHA-256");
  to_hex(md, 32, out);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* String building and encoding                                        */
/* ------------------------------------------------------------------ */

typedef sluice__strbuf sb;

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* The path with "." and ".." segments resolved and empty segments (from
 * "//") dropped, keeping a trailing '/' (RFC 3986 section 5.2.4 plus the
 * collapsing of repeated slashes that AWS's generic signer does). */
static void normalize_path(sb *b, const char *path) {
  const char *p = path;
  int trailing = 0;
  while (*p) {
    while (*p == '/') p++;
    const char *seg = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - seg);
    if (n == 0) continue; /* only at the end: slashes were skipped above */
    int dot = n == 1 && seg[0] == '.', dotdot = n == 2 && !memcmp(seg, "..", 2);
    /* "a/" and "a/." and "a/.." all name a directory: keep the '/'. */
    trailing = *p == '/' || dot || dotdot;
    if (dot) continue;
    if (dotdot) {
      while (b->len && b->data[b->len - 1] != '/') b->len--;
      if (b->len) b->len--; /* the '/' before the dropped segment */
      if (b->data) b->data[b->len] = '\0';
      continue;
    }
    sluice__strbuf_putc(b, '/');
    sluice__strbuf_putn(b, seg, n);
  }
  if (trailing || b->len == 0) sluice__strbuf_putc(b, '/');
}

static void canonical_path(sb *out, const sluice__sigv4_request *req) {
  const char *path = req->path[0] ? req->path : "/";
  sb norm = {0};
  if (req->normalize_path) {
    normalize_path(&norm, path);
    if (norm.oom) out->oom = 1;
    path = norm.data ? norm.data : "/";
  }
  if (req->path_encoding == SLUICE__SIGV4_ENCODE_PATH_TWICE) {
    sluice__strbuf_put_uri(out, path, strlen(path), 1);
  } else {
    /* Sent once-encoded: keep escapes as they are (hex in upper case, as
     * S3 re-encodes on its side), encode what was sent raw. */
    for (const char *s = path; *s; s++) {
      unsigned char c = (unsigned char)*s;
      if (c == '%' && sluice__hex_digit(s[1]) >= 0 && sluice__hex_digit(s[2]) >= 0) {
        char e[3] = {'%', upper(s[1]), upper(s[2])};
        sluice__strbuf_putn(out, e, 3);
        s += 2;
      } else {
        sluice__strbuf_put_uri(out, s, 1, 1);
      }
    }
  }
  free(norm.data);
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

static int is_tchar(unsigned char c) { return is_unreserved(c) || (c && strchr("!#$%&'*+^`|", c)); }
static int is_token(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++)
    if (!is_tchar((unsigned char)*s)) return 0;
  return 1;
}
/* Printable ASCII without '/', ',', ';', '=' or space: these strings end up
 * inside the credential scope and the Authorization header. */
static int is_scope_word(const char *s) {
  if (!s || !*s) return 0;
  for (const unsigned char *u = (const unsigned char *)s; *u; u++)
    if (*u <= ' ' || *u >= 0x7f || strchr("/,;=", *u)) return 0;
  return 1;
}
/* A header value may fold lines (CRLF or LF followed by space or tab), as
 * the AWS suite does; any other control byte could split the request. */
static int is_header_value(const char *v) {
  for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
    if (*s == '\r' && s[1] == '\n') s++;
    if (*s == '\n') {
      if (s[1] != ' ' && s[1] != '\t') return 0;
    } else if ((*s < ' ' && *s != '\t') || *s == 0x7f) {
      return 0;
    }
  }
  return 1;
}
static int is_payload_hash(const char *h) {
  if (!h || !*h) return 0;
  size_t n = strlen(h), hex = strspn(h, "0123456789abcdef");
  if (n == 64 && hex == 64) return 1;
  return strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n; /* UNSIGNED-PAYLOAD, ... */
}

/* Never names the secret or the token, only that they are malformed. */
static sluice_error *validate(const sluice__sigv4_request *r) {
  if (r->form != SLUICE__SIGV4_HEADER && r->form != SLUICE__SIGV4_QUERY)
    return BAD("sigv4: unknown signature form %d", (int)r->form);
  if (r->path_encoding != SLUICE__SIGV4_ENCODE_PATH_ONCE &&
      r->path_encoding != SLUICE__SIGV4_ENCODE_PATH_TWICE)
    return BAD("sigv4: unknown path encoding %d", (int)r->path_encoding);
  if (!is_token(r->method))
    return BAD("sigv4: method \"%s\" is not an HTTP token", OR_NULL(r->method));
  if (!r->path) return BAD("sigv4: NULL path");
  if (r->path[0] && r->path[0] != '/')
    return BAD("sigv4: path \"%s\" does not start with '/'", r->path);
  if (strpbrk(r->path, "?#"))
    return BAD("sigv4: path \"%s\" holds a query or fragment; pass the query as pairs", r->path);
  for (const unsigned char *s = (const unsigned char *)r->path; *s; s++)
    if (*s < ' ' || *s == 0x7f) return BAD("sigv4: path contains a control character");
  if (!is_payload_hash(r->payload_hash))
    return BAD("sigv4: payload hash \"%s\" is neither 64 lowercase hex digits nor a keyword",
               OR_NULL(r->payload_hash));
  if (!is_scope_word(r->access_key_id)) return BAD("sigv4: access key id is empty or malformed");
  if (!r->secret_access_key || !*r->secret_access_key)
    return BAD("sigv4: secret access key is empty");
  if (strlen(r->secret_access_key) > MAX_SECRET)
    return BAD("sigv4: secret access key is longer than %d bytes", MAX_SECRET);
  if (r->session_token && !is_header_value(r->session_token))
    return BAD("sigv4: session token contains a control character");
  if (!is_scope_word(r->region))
    return BAD("sigv4: region \"%s\" is empty or malformed", OR_NULL(r->region));
  if (!is_scope_word(r->service))
    return BAD("sigv4: service \"%s\" is empty or malformed", OR_NULL(r->service));
  if (r->form == SLUICE__SIGV4_QUERY && (r->expires < 1 || r->expires > MAX_EXPIRES))
    return BAD("sigv4: expiry %u s is outside 1..%d", (unsigned)r->expires, MAX_EXPIRES);
  if ((r->n_query && !r->query) || (r->n_headers && !r->headers))
    return BAD("sigv4: NULL query or header array with a non-zero count");
  for (size_t i = 0; i < r->n_query; i++)
    if (!r->query[i].name) return BAD("sigv4: query parameter %zu has no name", i);
  int host = 0;
  for (size_t i = 0; i < r->n_headers; i++) {
    if (!is_token(r->headers[i].name))
      return BAD("sigv4: header name \"%s\" is not an HTTP token", OR_NULL(r->headers[i].name));
    if (r->headers[i].value && !is_header_value(r->headers[i].value))
      return BAD("sigv4: header %s: value contains a control character", r->headers[i].name);
    host |= !strcasecmp(r->headers[i].name, "host");
  }
  /* AWS rejects a signature that does not cover Host. */
  if (!host) return BAD("sigv4: no Host header among the headers to sign");
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Canonical headers and query                                         */
/* ------------------------------------------------------------------ */

typedef struct entry {
  char *name, *value; /* canonical forms, owned */
  size_t order;       /* input position: keeps repeated headers in order */
} entry;

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  c = strcmp(x->value, y->value);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}
/* Headers are sorted by name only: values of a repeated name keep their
 * order, which the signature depends on. */
static int header_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void free_entries(entry *e, size_t n) {
  for (size_t i = 0; e && i < n; i++) {
    free(e[i].name);
    free(e[i].value);
  }
  free(e);
}

/* Lowercase name; value trimmed, each run of blanks (folds included) one
 * space.  Returns 0 when out of memory. */
static int add_header(entry *e, size_t *n, const char *name, const char *value) {
  sb nb = {0}, vb = {0};
  for (const char *s = name; *s; s++) sluice__strbuf_putc(&nb, lower(*s));
  int pending = 0;
  for (const char *s = value ? value : ""; *s; s++) {
    if (strchr(" \t\r\n", *s)) {
      pending = vb.len > 0;
      continue;
    }
    if (pending) sluice__strbuf_putc(&vb, ' ');
    pending = 0;
    sluice__strbuf_putc(&vb, *s);
  }
  e[*n].name = sluice__strbuf_take(&nb);
  e[*n].value = sluice__strbuf_take(&vb);
  e[*n].order = *n;
  (*n)++;
  return e[*n - 1].name && e[*n - 1].value;
}

static int add_param(entry *e, size_t *n, const char *name, const char *value) {
  sb nb = {0}, vb = {0};
  sluice__strbuf_put_uri(&nb, name, strlen(name), 0);
  if (value) sluice__strbuf_put_uri(&vb, value, strlen(value), 0);
  e[*n].name = sluice__strbuf_take(&nb);
  e[*n].value = sluice__strbuf_take(&vb);
  e[*n].order = *n;
  (*n)++;
  return e[*n - 1].name && e[*n - 1].value;
}

static int has_header(const sluice__sigv4_request *r, const char *lname) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (!strcasecmp(r->headers[i].name, lname)) return 1;
  return 0;
}
static int has_param(const sluice__sigv4_request *r, const char *name) {
  for (size_t i = 0; i < r->n_query; i++)
    if (!strcmp(r->query[i].name, name)) return 1;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Signing                                                             */
/* ------------------------------------------------------------------ */

static int hmac(EVP_MAC_CTX *ctx, const unsigned char *key, size_t klen, const char *msg,
                size_t mlen, unsigned char out[32]) {
  size_t n = 0;
  return EVP_MAC_init(ctx, key, klen, NULL) &&
         EVP_MAC_update(ctx, (const unsigned char *)msg, mlen) && EVP_MAC_final(ctx, out, &n, 32) &&
         n == 32;
}

/* An HMAC context keyed with kSigning = the HMAC chain "AWS4"+secret ->
 * date -> region -> service -> "aws4_request", ready for the string to
 * sign; NULL when OpenSSL fails. */
static EVP_MAC_CTX *derive_key(const sluice__sigv4_request *r, const char *date8) {
  unsigned char secret[4 + MAX_SECRET], k[32];
  size_t slen = strlen(r->secret_access_key);
  memcpy(secret, "AWS4", 4);
  memcpy(secret + 4, r->secret_access_key, slen);
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_template);
  int ok = ctx && hmac(ctx, secret, 4 + slen, date8, 8, k) &&
           hmac(ctx, k, 32, r->region, strlen(r->region), k) &&
           hmac(ctx, k, 32, r->service, strlen(r->service), k) &&
           hmac(ctx, k, 32, "aws4_request", 12, k) && EVP_MAC_init(ctx, k, 32, NULL);
  OPENSSL_cleanse(secret, sizeof(secret));
  OPENSSL_cleanse(k, sizeof(k));
  if (ok) return ctx;
  EVP_MAC_CTX_free(ctx); /* OpenSSL wipes the key copies it holds */
  return NULL;
}

struct sluice__sigv4_keycache {
  pthread_mutex_t lock;
  char date8[9];
  EVP_MAC_CTX *keyed; /* derive_key()'s context for date8; NULL at first */
};

sluice__sigv4_keycache *sluice__sigv4_keycache_new(void) {
  sluice__sigv4_keycache *c = calloc(1, sizeof(*c));
  if (c) pthread_mutex_init(&c->lock, NULL);
  return c;
}

void sluice__sigv4_keycache_free(sluice__sigv4_keycache *c) {
  if (!c) return;
  EVP_MAC_CTX_free(c->keyed);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* derive_key()'s context, through r's cache when it names one: a copy of
 * the cached context while the date is the cached one, else derived anew
 * and cached (once a day; the lock is held meanwhile). */
static EVP_MAC_CTX *keyed_ctx(const sluice__sigv4_request *r, const char *date8) {
  sluice__sigv4_keycache *c = r->key_cache;
  if (!c) return derive_key(r, date8);
  EVP_MAC_CTX *ctx = NULL;
  pthread_mutex_lock(&c->lock);
  if (!c->keyed || memcmp(c->date8, date8, 8)) {
    EVP_MAC_CTX *fresh = derive_key(r, date8);
    if (fresh) {
      EVP_MAC_CTX_free(c->keyed);
      c->keyed = fresh;
      memcpy(c->date8, date8, 8);
    }
  }
  if (c->keyed && !memcmp(c->date8, date8, 8)) ctx = EVP_MAC_CTX_dup(c->keyed);
  pthread_mutex_unlock(&c->lock);
  return ctx;
}

/* signature = HMAC(kSigning, string to sign). */
static sluice_error *compute_signature(const sluice__sigv4_request *r, const char *date8,
                                       const char *sts, char sig[65]) {
  unsigned char mac[32];
  size_t n = 0;
  EVP_MAC_CTX *ctx = keyed_ctx(r, date8);
  int ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)sts, strlen(sts)) &&
           EVP_MAC_final(ctx, mac, &n, 32) && n == 32;
  EVP_MAC_CTX_free(ctx);
  if (!ok) return ossl_error("HMAC-SHA256");
  to_hex(mac, 32, sig);
  OPENSSL_cleanse(mac, sizeof(mac));
  return NULL;
}

static void put_param(sb *b, const char *name, const char *value) {
  if (b->len) sluice__strbuf_putc(b, '&');
  sluice__strbuf_puts(b, name);
  sluice__strbuf_putc(b, '=');
  sluice__strbuf_put_uri(b, value, strlen(value), 0);
}

void sluice__sigv4_result_free(sluice__sigv4_result *res) {
  if (!res) return;
  free(res->canonical_request);
  free(res->string_to_sign);
  for (size_t i = 0; i < res->n_headers; i++) free(res->headers[i].value);
  free(res->query);
  memset(res, 0, sizeof(*res));
}

/* Working state of one signature; every string in it is ours to free. */
typedef struct signing {
  const sluice__sigv4_request *req;
  int hdr_form, sign_token;
  const char *token; /* NULL when there is none */
  char amz_date[17], date8[9], expires[16];
  sb scope, cred, signed_headers;
  entry *hs, *qs; /* canonical headers and query parameters, sorted */
  size_t nh, nq;
} signing;

static void signing_free(signing *g) {
  free(g->scope.data);
  free(g->cred.data);
  free(g->signed_headers.data);
  free_entries(g->hs, g->nh);
  free_entries(g->qs, g->nq);
}

/* The caller's headers, plus in header form the ones we add, sorted; and
 * the signed-headers list.  0 when out of memory. */
static int collect_headers(signing *g) {
  const sluice__sigv4_request *r = g->req;
  int ok = (g->hs = calloc(r->n_headers + 3, sizeof(*g->hs))) != NULL;
  for (size_t i = 0; ok && i < r->n_headers; i++)
    ok = add_header(g->hs, &g->nh, r->headers[i].name, r->headers[i].value);
  if (ok && g->hdr_form) ok = add_header(g->hs, &g->nh, "x-amz-date", g->amz_date);
  if (ok && g->hdr_form && g->sign_token)
    ok = add_header(g->hs, &g->nh, "x-amz-security-token", g->token);
  if (ok && g->hdr_form && r->add_content_sha256)
    ok = add_header(g->hs, &g->nh, "x-amz-content-sha256", r->payload_hash);
  if (!ok) return 0;
  qsort(g->hs, g->nh, sizeof(*g->hs), header_cmp);
  for (size_t i = 0; i < g->nh; i++) {
    if (i && !strcmp(g->hs[i].name, g->hs[i - 1].name)) continue;
    if (i) sluice__strbuf_putc(&g->signed_headers, ';');
    sluice__strbuf_puts(&g->signed_headers, g->hs[i].name);
  }
  if (!g->signed_headers.data) sluice__strbuf_putn(&g->signed_headers, "", 0);
  return !g->signed_headers.oom;
}

/* The caller's parameters, plus in query form the X-Amz-* ones that are
 * signed (not the signature itself, nor an unsigned token), sorted. */
static int collect_query(signing *g) {
  const sluice__sigv4_request *r = g->req;
  int ok = (g->qs = calloc(r->n_query + 6, sizeof(*g->qs))) != NULL;
  for (size_t i = 0; ok && i < r->n_query; i++)
    ok = add_param(g->qs, &g->nq, r->query[i].name, r->query[i].value);
  if (ok && !g->hdr_form)
    ok = add_param(g->qs, &g->nq, "X-Amz-Algorithm", ALGORITHM) &&
         add_param(g->qs, &g->nq, "X-Amz-Credential", g->cred.data) &&
         add_param(g->qs, &g->nq, "X-Amz-Date", g->amz_date) &&
         add_param(g->qs, &g->nq, "X-Amz-Expires", g->expires) &&
         add_param(g->qs, &g->nq, "X-Amz-SignedHeaders", g->signed_headers.data) &&
         (!g->sign_token || add_param(g->qs, &g->nq, "X-Amz-Security-Token", g->token));
  if (ok) qsort(g->qs, g->nq, sizeof(*g->qs), entry_cmp);
  return ok;
}

static void canonical_request(sb *b, const signing *g) {
  sluice__strbuf_puts(b, g->req->method);
  sluice__strbuf_putc(b, '\n');
  canonical_path(b, g->req);
  sluice__strbuf_putc(b, '\n');
  for (size_t i = 0; i < g->nq; i++) {
    if (i) sluice__strbuf_putc(b, '&');
    sluice__strbuf_puts(b, g->qs[i].name);
    sluice__strbuf_putc(b, '=');
    sluice__strbuf_puts(b, g->qs[i].value);
  }
  sluice__strbuf_putc(b, '\n');
  /* One line per name; a repeated name's values joined with ','. */
  for (size_t i = 0; i < g->nh; i++) {
    if (i && !strcmp(g->hs[i].name, g->hs[i - 1].name)) {
      sluice__strbuf_putc(b, ',');
    } else {
      sluice__strbuf_puts(b, g->hs[i].name);
      sluice__strbuf_putc(b, ':');
    }
    sluice__strbuf_puts(b, g->hs[i].value);
    if (i + 1 == g->nh || strcmp(g->hs[i].name, g->hs[i + 1].name)) sluice__strbuf_putc(b, '\n');
  }
  sluice__strbuf_putc(b, '\n');
  sluice__strbuf_puts(b, g->signed_headers.data);
  sluice__strbuf_putc(b, '\n');
  sluice__strbuf_puts(b, g->req->payload_hash);
}

/* Header form: the headers to send, in the order the AWS suite shows. */
static int header_outputs(const signing *g, sluice__sigv4_result *out) {
  sb auth = {0};
  sluice__strbuf_puts(&auth, ALGORITHM " Credential=");
  sluice__strbuf_puts(&auth, g->cred.data);
  sluice__strbuf_puts(&auth, ", SignedHeaders=");
  sluice__strbuf_puts(&auth, g->signed_headers.data);
  sluice__strbuf_puts(&auth, ", Signature=");
  sluice__strbuf_puts(&auth, out->signature);
  sluice__sigv4_header *h = out->headers;
  size_t n = 0;
  if (g->token) h[n++] = (sluice__sigv4_header){"X-Amz-Security-Token", strdup(g->token)};
  h[n++] = (sluice__sigv4_header){"X-Amz-Date", strdup(g->amz_date)};
  if (g->req->add_content_sha256)
    h[n++] = (sluice__sigv4_header){"x-amz-content-sha256", strdup(g->req->payload_hash)};
  h[n++] = (sluice__sigv4_header){"Authorization", sluice__strbuf_take(&auth)};
  out->n_headers = n;
  out->authorization = h[n - 1].value;
  for (size_t i = 0; i < n; i++)
    if (!h[i].value) return 0;
  return 1;
}

/* Query form: the parameters to append, in the AWS suite's order with the
 * signature last (the order does not matter to AWS, only the set). */
static int query_outputs(const signing *g, sluice__sigv4_result *out) {
  sb q = {0};
  put_param(&q, "X-Amz-Algorithm", ALGORITHM);
  put_param(&q, "X-Amz-Credential", g->cred.data);
  put_param(&q, "X-Amz-Date", g->amz_date);
  put_param(&q, "X-Amz-SignedHeaders", g->signed_headers.data);
  put_param(&q, "X-Amz-Expires", g->expires);
  if (g->token) put_param(&q, "X-Amz-Security-Token", g->token);
  put_param(&q, "X-Amz-Signature", out->signature);
  return (out->query = sluice__strbuf_take(&q)) != NULL;
}

/* Refuses what the signer itself adds, so a request never carries two. */
static sluice_error *check_collisions(const signing *g) {
  static const char *const headers[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                        "x-amz-content-sha256"};
  static const char *const params[] = {
      "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",          "X-Amz-Expires",
      "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token"};
  for (int i = 0; g->hdr_form && i < 4; i++) {
    int ours = i < 2 || (i == 2 && g->token) || (i == 3 && g->req->add_content_sha256);
    if (ours && has_header(g->req, headers[i]))
      return BAD("sigv4: header %s is set by the signer; do not pass it", headers[i]);
  }
  for (int i = 0; !g->hdr_form && i < 7; i++)
    if (has_param(g->req, params[i]))
      return BAD("sigv4: query parameter %s is set by the signer; do not pass it", params[i]);
  return NULL;
}

sluice_error *sluice__sigv4_sign(const sluice__sigv4_request *req, sluice__sigv4_result *out) {
  if (!out) return BAD("sigv4: NULL result");
  memset(out, 0, sizeof(*out));
  if (!req) return BAD("sigv4: NULL request");
  sluice_error *err = validate(req);
  if (err) return err;

  signing g = {.req = req, .hdr_form = req->form == SLUICE__SIGV4_HEADER};
  g.token = req->session_token && *req->session_token ? req->session_token : NULL;
  g.sign_token = g.token && !req->session_token_unsigned;
  if ((err = check_collisions(&g)) != NULL || (err = crypto_ready()) != NULL) return err;

  struct tm tm;
  if (!gmtime_r(&req->when, &tm) || tm.tm_year < 70 || tm.tm_year > 9999 - 1900)
    return BAD("sigv4: signing time is outside the years 1970..9999");
  strftime(g.amz_date, sizeof(g.amz_date), "%Y%m%dT%H%M%SZ", &tm);
  memcpy(g.date8, g.amz_date, 8);
  snprintf(g.expires, sizeof(g.expires), "%u", (unsigned)req->expires);
  sluice__strbuf_puts(&g.scope, g.date8);
  sluice__strbuf_putc(&g.scope, '/');
  sluice__strbuf_puts(&g.scope, req->region);
  sluice__strbuf_putc(&g.scope, '/');
  sluice__strbuf_puts(&g.scope, req->service);
  sluice__strbuf_puts(&g.scope, "/aws4_request");
  sluice__strbuf_puts(&g.cred, req->access_key_id);
  sluice__strbuf_putc(&g.cred, '/');
  sluice__strbuf_puts(&g.cred, g.scope.data ? g.scope.data : "");

  sb creq = {0}, sts = {0};
  int ok = !g.scope.oom && !g.cred.oom && collect_headers(&g) && collect_query(&g);
  if (ok) {
    canonical_request(&creq, &g);
    ok = !creq.oom;
  }
  char creq_hash[65];
  if (ok && !(err = sluice__sha256_hex(creq.data, creq.len, creq_hash))) {
    sluice__strbuf_puts(&sts, ALGORITHM "\n");
    sluice__strbuf_puts(&sts, g.amz_date);
    sluice__strbuf_putc(&sts, '\n');
    sluice__strbuf_puts(&sts, g.scope.data);
    sluice__strbuf_putc(&sts, '\n');
    sluice__strbuf_puts(&sts, creq_hash);
    ok = !sts.oom;
  }
  if (ok && !err) err = compute_signature(req, g.date8, sts.data, out->signature);
  if (ok && !err) {
    memcpy(out->amz_date, g.amz_date, sizeof(out->amz_date));
    ok = g.hdr_form ? header_outputs(&g, out) : query_outputs(&g, out);
    out->canonical_request = sluice__strbuf_take(&creq);
    out->string_to_sign = sluice__strbuf_take(&sts);
    ok = ok && out->canonical_request && out->string_to_sign;
  }
  free(creq.data);
  free(sts.data);
  signing_free(&g);
  if (!err && !ok) err = sluice__error_oom();
  if (err) sluice__sigv4_result_free(out);
  return err;
}
