/* SPDX-License-Identifier: MIT */
/*
 * A growable string, and percent-encoding into one.  An allocation failure
 * is sticky (oom) and checked once at the end, which keeps builders free of
 * error plumbing.  A zeroed struct is an empty buffer.  One thread at a time
 * per buffer.
 */
#ifndef SLUICE_LIB_STRBUF_H
#define SLUICE_LIB_STRBUF_H

#include <stddef.h>

#include "sluice.h"

typedef struct sluice__strbuf {
  char *data; /* NUL-terminated once anything was added; NULL before */
  size_t len, cap;
  int oom; /* an append failed: data is incomplete */
} sluice__strbuf;

void sluice__strbuf_putn(sluice__strbuf *b, const char *s, size_t n);
void sluice__strbuf_puts(sluice__strbuf *b, const char *s);
void sluice__strbuf_putc(sluice__strbuf *b, char c);
/* Appends s[0..n) percent-encoded the RFC 3986 way: A-Z a-z 0-9 - _ . ~
 * stay, and '/' too when keep_slash; every other byte becomes %XX
 * (uppercase hex).  This is also SigV4's encoding. */
void sluice__strbuf_put_uri(sluice__strbuf *b, const char *s, size_t n, int keep_slash);
/* Hands the string over (malloc'd; "" when nothing was added; NULL after an
 * allocation failure) and resets the buffer. */
char *sluice__strbuf_take(sluice__strbuf *b);
/* Frees the string and resets the buffer. */
void sluice__strbuf_free(sluice__strbuf *b);

/* s[0..len) percent-encoded (sluice__strbuf_put_uri) into a new string
 * *out (free()); *out is NULL on error: INVALID_ARGUMENT for a NULL out or
 * input, OUT_OF_MEMORY. */
sluice_error *sluice__uri_encode(const char *s, size_t len, int keep_slash, char **out);

/* Decodes s's %XX escapes in place, and '+' as a space when plus_is_space
 * (S3's URL-encoded listings).  0; or -1, s untouched, for a broken escape
 * or one that makes a NUL byte. */
int sluice__uri_decode(char *s, int plus_is_space);

/* The value of one hex digit, or -1. */
int sluice__hex_digit(int c);

#endif
