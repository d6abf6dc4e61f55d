#!/bin/sh
# SPDX-License-Identifier: MIT
# SLUICE_DEPRECATED (include/sluice.h) does what a caller relies on: a call
# declared with it still compiles and links as before, and the compiler
# warns where it is called, quoting the message.
set -u
src=${top_srcdir:-.}
cc=${CC:-cc}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/t.c" <<'C'
#include "sluice.h"
SLUICE_DEPRECATED("use sluice_new_call() instead") SLUICE_EXTERN int sluice_old_call(void);
int sluice_old_call(void) { return 0; }
int main(void) { return sluice_old_call(); }
C
if ! "$cc" -I"$src/include" -Wall -Werror -Wno-deprecated-declarations -o "$tmp/t" "$tmp/t.c"; then
  echo "check-deprecated: a deprecated call no longer builds"
  exit 1
fi
if "$cc" -I"$src/include" -Werror=deprecated-declarations -o "$tmp/t" "$tmp/t.c" 2>"$tmp/err"; then
  echo "check-deprecated: calling a SLUICE_DEPRECATED function gives no warning"
  exit 1
fi
if ! grep -q 'use sluice_new_call() instead' "$tmp/err"; then
  echo "check-deprecated: the warning does not quote the message:"
  cat "$tmp/err"
  exit 1
fi
echo "check-deprecated: a deprecated call builds, and its callers are warned with the message"
