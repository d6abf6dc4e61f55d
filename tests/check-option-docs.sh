#!/bin/sh
# SPDX-License-Identifier: MIT
# Every option name the library reads is documented where users look: the
# "Option reference" of include/sluice.h (installed) and the OPTIONS
# section of libsluice(3).  The names are those the sources pass to the
# option getters, so a new option fails here until it is documented.
set -eu
srcdir=${top_srcdir:-.}
names=$(grep -rhoE '(sluice__opt_[a-z]+|sluice_options_get|opt_str|opt_long)\([a-z_>-]+, "[a-z_]+"' \
          "$srcdir/lib" "$srcdir/pipeline" | sed -E 's/.*"([a-z_]+)"$/\1/' | sort -u)
[ "$(printf '%s\n' "$names" | wc -l)" -gt 20 ] ||
  { echo "found too few option names in the sources: $names"; exit 1; }
header=$(awk '/^\/\* Option reference/ { f = 1 } f { print } f && /\*\/$/ { exit }' "$srcdir/include/sluice.h")
man=$(awk '/^\.SH OPTIONS/ { f = 1; next } f && /^\.SH / { exit } f { print }' "$srcdir/docs/libsluice.3")
status=0
for n in $names; do
  printf '%s\n' "$header" | grep -qw -- "$n" ||
    { echo "option '$n' is missing from the Option reference in include/sluice.h"; status=1; }
  printf '%s\n' "$man" | grep -qw -- "$n" ||
    { echo "option '$n' is missing from OPTIONS in docs/libsluice.3"; status=1; }
done
[ $status -ne 0 ] || echo "all $(printf '%s\n' "$names" | wc -l) options documented"
exit $status
