#!/bin/sh
# SPDX-License-Identifier: MIT
# The version is written once, in include/sluice.h; configure.ac reads it
# from there (tests/test_error checks the built copy).  The copies that
# cannot read it must agree too: the man pages' .TH lines and the top
# entry of debian/changelog (its upstream part, before any "-N").
set -eu
srcdir=${top_srcdir:-.}
v=$(for c in MAJOR MINOR PATCH; do
      sed -n "s/^#define SLUICE_VERSION_$c  *//p" "$srcdir/include/sluice.h"
    done | paste -s -d . -)
case $v in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "cannot read the version from include/sluice.h (got '$v')"; exit 1 ;;
esac
status=0
for man in "$srcdir"/docs/*.[1-8]; do
  grep -q "^\.TH .*\"libsluice $v\"" "$man" ||
    { echo "$man: .TH does not say \"libsluice $v\": $(grep '^\.TH' "$man")"; status=1; }
done
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$srcdir/debian/changelog")
[ "${deb%%-*}" = "$v" ] ||
  { echo "debian/changelog: top entry is $deb, include/sluice.h says $v"; status=1; }
[ $status -ne 0 ] || echo "version $v everywhere"
exit $status
