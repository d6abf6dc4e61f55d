/* SPDX-License-Identifier: MIT */
/* Escaping text for people: sluice_escape() (sluice.h) and escape.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "sluice.h"

/* Length of the valid, printable UTF-8 sequence at p (1 for printable
 * ASCII), or 0 when the byte at p must be escaped. */
static size_t printable_len(const unsigned char *p) {
  unsigned char c = p[0];
  if (c < 0x80) return c >= 0x20 && c != 0x7f;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c == 0xe0)
    n = 3, lo = 0xa0; /* no overlong forms */
  else if (c == 0xed)
    n = 3, hi = 0x9f; /* no UTF-16 surrogates */
  else if (c >= 0xe1 && c <= 0xef)
    n = 3;
  else if (c == 0xf0)
    n = 4, lo = 0x90;
  else if (c == 0xf4)
    n = 4, hi = 0x8f; /* nothing past U+10FFFF */
  else if (c >= 0xf1 && c <= 0xf3)
    n = 4;
  else
    return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  if (c == 0xc2 && p[1] <= 0x9f) return 0; /* a C1 control */
  return n;
}

/* Writes the escape for byte c at o; returns its length. */
static int escape_byte(unsigned char c, char *o) {
  char named = 0;
  switch (c) {
  case '\a': named = 'a'; break;
  case '\b': named = 'b'; break;
  case '\t': named = 't'; break;
  case '\n': named = 'n'; break;
  case '\v': named = 'v'; break;
  case '\f': named = 'f'; break;
  case '\r': named = 'r'; break;
  case '\\': named = '\\'; break;
  default: break;
  }
  return named ? sprintf(o, "\\%c", named) : sprintf(o, "\\%03o", c);
}

int sluice__text_needs_escape(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = printable_len(p);
    if (!n) return 1;
    p += n;
  }
  return 0;
}

char *sluice_escape(const char *text, unsigned flags) {
  if (!text || (flags & ~SLUICE_ESCAPE_BACKSLASH)) return NULL;
  /* Every byte becomes at most four ("\ooo"). */
  char *out = malloc(strlen(text) * 4 + 1), *o = out;
  if (!out) return NULL;
  const unsigned char *p = (const unsigned char *)text;
  while (*p) {
    size_t n = printable_len(p);
    if (n && !(*p == '\\' && (flags & SLUICE_ESCAPE_BACKSLASH))) {
      memcpy(o, p, n);
      o += n, p += n;
      continue;
    }
    o += escape_byte(*p++, o);
  }
  *o = '\0';
  return out;
}
