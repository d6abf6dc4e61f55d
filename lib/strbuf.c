/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "strbuf.h"

void sluice__strbuf_putn(sluice__strbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sluice__strbuf_puts(sluice__strbuf *b, const char *s) { sluice__strbuf_putn(b, s, strlen(s)); }

void sluice__strbuf_putc(sluice__strbuf *b, char c) { sluice__strbuf_putn(b, &c, 1); }

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

void sluice__strbuf_put_uri(sluice__strbuf *b, const char *s, size_t n, int keep_slash) {
  static const char digits[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      sluice__strbuf_putc(b, (char)c);
    } else {
      char e[3] = {'%', digits[c >> 4], digits[c & 15]};
      sluice__strbuf_putn(b, e, 3);
    }
  }
}

char *sluice__strbuf_take(sluice__strbuf *b) {
  if (!b->data) sluice__strbuf_putn(b, "", 0);
  char *p = b->data;
  if (b->oom) {
    free(p);
    p = NULL;
  }
  memset(b, 0, sizeof(*b));
  return p;
}

void sluice__strbuf_free(sluice__strbuf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

sluice_error *sluice__uri_encode(const char *s, size_t len, int keep_slash, char **out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "uri_encode: NULL output");
  *out = NULL;
  if (!s && len) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "uri_encode: NULL input");
  sluice__strbuf b = {0};
  sluice__strbuf_put_uri(&b, s, len, keep_slash);
  *out = sluice__strbuf_take(&b);
  return *out ? NULL : sluice__error_oom();
}

int sluice__uri_decode(char *s, int plus_is_space) {
  for (const char *p = s; *p; p++) {
    if (*p != '%') continue;
    int hi = sluice__hex_digit(p[1]), lo = hi < 0 ? -1 : sluice__hex_digit(p[2]);
    if (lo < 0 || (hi == 0 && lo == 0)) return -1;
    p += 2;
  }
  char *w = s;
  for (const char *p = s; *p; p++) {
    if (*p == '%') {
      *w++ = (char)(sluice__hex_digit(p[1]) * 16 + sluice__hex_digit(p[2]));
      p += 2;
    } else {
      *w++ = plus_is_space && *p == '+' ? ' ' : *p;
    }
  }
  *w = '\0';
  return 0;
}

int sluice__hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
