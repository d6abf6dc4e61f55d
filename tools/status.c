/* SPDX-License-Identifier: MIT */
/* Exit statuses and one-line errors.  The table in sluice(1), EXIT STATUS,
 * documents the same mapping: keep the two in step. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_status_of(sluice_errkind kind, int moved) {
  switch (kind) {
  case SLUICE_OK: return CLI_OK;
  case SLUICE_ERR_INVALID_ARGUMENT: return CLI_USAGE;
  case SLUICE_ERR_CONFIG_INVALID: return CLI_CONFIG;
  case SLUICE_ERR_NOT_FOUND: return CLI_NOT_FOUND;
  case SLUICE_ERR_PERMISSION_DENIED: return CLI_PERMISSION;
  case SLUICE_ERR_NETWORK:
  case SLUICE_ERR_TIMEOUT:
  case SLUICE_ERR_RATE_LIMITED: return CLI_NETWORK;
  case SLUICE_ERR_ALREADY_EXISTS:
  case SLUICE_ERR_CONDITION_NOT_MATCH: return CLI_EXISTS;
  case SLUICE_ERR_CANCELED: return CLI_INTERRUPTED;
  case SLUICE_ERR_PARTIAL: return CLI_PARTIAL;
  case SLUICE_ERR_REJECTED: return CLI_REJECTED;
  default:
    /* A cause with no status of its own: say at least whether the
     * transfer had started (and so was rolled back). */
    return moved ? CLI_PARTIAL : CLI_FAILED;
  }
}

int cli_fail(const char *op, const char *uri, sluice_error *err, int moved) {
  sluice_errkind kind = sluice_error_kind(err);
  char *u = cli_escape_text(uri);
  fprintf(stderr, "sluice: %s %s: %s\n", op, u, sluice_error_message(err));
  sluice_free(u);
  sluice_error_free(err);
  return cli_status_of(kind, moved);
}

void cli_json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\u%04x", *p);
    else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1: the same string, nothing raw */
      fprintf(f, "\\u%04x", *++p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

void cli_oom(void) {
  fputs("sluice: out of memory\n", stderr);
  exit(CLI_FAILED);
}
