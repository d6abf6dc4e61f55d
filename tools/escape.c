/* SPDX-License-Identifier: MIT */
/* Names that came from a server, escaped before they reach a terminal.
 * The library escapes the keys inside its error messages itself; what the
 * command prints on its own (listings, metadata, labels) goes through here,
 * with backslashes escaped too so a listed name maps back to one key.  The
 * form is `ls -b`'s: see sluice(1), OUTPUT. */
#include <stdio.h>

#include "cli.h"

char *cli_escape(const char *s) {
  char *out = sluice_escape(s ? s : "", SLUICE_ESCAPE_BACKSLASH);
  if (!out) cli_oom();
  return out;
}

char *cli_escape_text(const char *s) {
  char *out = sluice_escape(s ? s : "", 0);
  if (!out) cli_oom();
  return out;
}

void cli_put_escaped(FILE *f, const char *s) {
  char *e = cli_escape(s);
  fputs(e, f);
  sluice_free(e);
}
