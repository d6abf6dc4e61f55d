#!/bin/sh
# SPDX-License-Identifier: MIT
# The library's ABI against the last release's, with Debian's abigail-tools
# (abidw, abidiff).  The package stage (tests/check-packages.sh) runs it and
# installs abigail-tools first; `make check` runs it too, and skips it (77)
# where abigail-tools is missing.
#   tests/check-abi.sh [BUILD_DIR]          compare BUILD_DIR's libsluice.so
#                                           (default: $top_builddir)
#   tests/check-abi.sh --update BUILD_DIR   write the baseline from it
# The baseline is abi/<soname>.abi (abi/libsluice.so.0.abi): abidw's
# description of the released library, restricted to what include/sluice.h
# shows a caller (the handles are opaque, so their insides are free to
# change).  It changes only deliberately, at release time (abi/README.md).
#
# Additions pass: a new call, an enumerator appended, a field appended to a
# struct the header says may grow (sluice_progress: $growable below).
# Anything else that abidiff finds - a call removed, a parameter or return
# type changed, a public type changed - fails, unless the soname changed
# too: a library with a new soname (CURRENT-AGE grew in Makefile.am) has
# no baseline yet, which is the one way an incompatible change lands.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
update=0
if [ "${1:-}" = --update ]; then
  update=1
  shift
fi
# Under make check (no BUILD_DIR), missing tools skip; asked by name, fail.
missing=2
if [ $# -eq 0 ] && [ "$update" -eq 0 ] && [ -n "${top_builddir:-}" ]; then
  set -- "$top_builddir"
  missing=77
fi
[ $# -eq 1 ] || { echo "usage: $0 [--update] BUILD_DIR" >&2; exit 2; }
build=$1
for t in abidw abidiff objdump; do
  command -v "$t" >/dev/null ||
    { echo "abi: $t is missing (Debian: apt-get install abigail-tools binutils)"; exit $missing; }
done
lib=$build/.libs/libsluice.so
[ -f "$lib" ] || { echo "abi: no $lib: build first" >&2; exit 2; }
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[ -n "$soname" ] || { echo "abi: $lib has no SONAME" >&2; exit 2; }
base=$here/abi/$soname.abi
# Both sides are read by abidw with the same options and compared as XML,
# so that a difference is in the library and not in how it was read: the
# exported calls and the public types they reach, nothing internal.  No
# source locations: a comment added to the header must not change the
# baseline.  (abidiff reading the library itself with --headers-dir2
# against a baseline without locations took every public type for a
# private one and hid its changes.)
describe() { # library, output file
  abidw --headers-dir "$here/include" --drop-private-types --exported-interfaces-only \
    --no-corpus-path --no-comp-dir-path --no-show-locs --out-file "$2" "$1"
}

if [ "$update" -eq 1 ]; then
  mkdir -p "$here/abi"
  describe "$lib" "$base"
  echo "abi: wrote abi/$soname.abi from $lib"
  exit 0
fi

if [ ! -f "$base" ]; then
  echo "abi: no baseline abi/$soname.abi: a new soname starts a new ABI;"
  echo "abi: the release that ships $soname commits its baseline (tests/check-abi.sh --update)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
describe "$lib" "$tmp/new.abi"
# abidiff's status is a bit set: 1 error, 2 usage, 4 ABI change, 8 an
# incompatible change.  Leaf mode (-l) reports each changed type once, as a
# block "'struct x' changed:" followed by indented lines; an enumerator
# appended is harmless to abidiff and not reported.
status=0
abidiff -l --no-show-locs "$base" "$tmp/new.abi" >"$tmp/report" 2>&1 || status=$?
if [ $((status & 3)) -ne 0 ]; then
  cat "$tmp/report"
  echo "abi: abidiff failed (status $status)"
  exit 1
fi
# Compatible: calls and variables added, none removed or changed, and no
# changed type but the structs sluice.h lets grow, each with members
# inserted at or beyond its old end and nothing else.
growable=" sluice_progress "
broken=$(awk -v growable="$growable" '
  /summary:/ {
    for (i = 1; i <= NF; i++)
      if ($i ~ /^(Removed|Changed)/ && $(i - 1) + 0 > 0 && $0 ~ /functions|variables/) bad = 1
    next
  }
  /^\047/ {
    type = $0; sub(/^\047(struct|class|union|enum) /, "", type); sub(/\047 changed:$/, "", type)
    ok = index(growable, " " type " ") > 0 && $0 ~ /^\047struct /
    if (!ok) bad = 1
    inblock = 1; oldsize = -1
    next
  }
  /^[^ ]/ { inblock = 0; next }
  inblock && /type size changed from/ { oldsize = $5 + 0; next }
  inblock && /data member insertions?:$/ { next }
  inblock && /, at offset [0-9]+ \(in bits\)$/ {
    off = $0; sub(/.*, at offset /, "", off); off += 0
    if (oldsize < 0 || off < oldsize) bad = 1
    next
  }
  inblock && NF > 0 { bad = 1 }
  END { print bad + 0 }' "$tmp/report")
if [ $((status & 8)) -ne 0 ] || [ "$broken" -ne 0 ]; then
  cat "$tmp/report"
  echo "abi: $soname changed incompatibly since abi/$soname.abi (above): keep the old"
  echo "abi: calls working (SLUICE_DEPRECATED marks one for removal), or bump the soname"
  echo "abi: by Makefile.am's rules and regenerate the baseline at release (abi/README.md)"
  exit 1
fi
if [ $((status & 4)) -ne 0 ]; then
  grep -E '^  \[A\]|^\047' "$tmp/report" || true
  echo "abi: $soname: additions only since abi/$soname.abi: compatible"
else
  echo "abi: $soname: the same ABI as abi/$soname.abi"
fi
