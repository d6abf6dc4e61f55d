/* SPDX-License-Identifier: MIT */
/* Names that came from a server, escaped before they reach a terminal.
 * A key may hold any byte: a newline would forge a line of `sluice ls`,
 * an ESC would drive the user's terminal.  The library escapes the keys
 * inside its error messages itself; what the command prints on its own
 * (listings, metadata, labels) goes through here.  The form is `ls -b`'s:
 * see sluice(1), OUTPUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Length of the printable UTF-8 character at p, or 0 when the byte at p
 * is a control (C0, DEL, C1: some terminals obey U+0080..U+009F as
 * escapes), a backslash, or not part of valid UTF-8. */
static size_t printable_len(const unsigned char *p) {
  unsigned char c = p[0];
  if (c < 0x80) return c >= 0x20 && c != 0x7f && c != '\\';
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
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

char *cli_escape(const char *s) {
  if (!s) s = "";
  char *out = malloc(strlen(s) * 4 + 1), *o = out; /* "\ooo" at most per byte */
  if (!out) cli_oom();
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = printable_len(p);
    if (n) {
      memcpy(o, p, n);
      o += n, p += n;
      continue;
    }
    const char *named = NULL;
    switch (*p) {
    case '\\': named = "\\\\"; break;
    case '\a': named = "\\a"; break;
    case '\b': named = "\\b"; break;
    case '\t': named = "\\t"; break;
    case '\n': named = "\\n"; break;
    case '\v': named = "\\v"; break;
    case '\f': named = "\\f"; break;
    case '\r': named = "\\r"; break;
    default: break;
    }
    o += named ? sprintf(o, "%s", named) : sprintf(o, "\\%03o", *p);
    p++;
  }
  *o = '\0';
  return out;
}

void cli_put_escaped(FILE *f, const char *s) {
  char *e = cli_escape(s);
  fputs(e, f);
  free(e);
}
