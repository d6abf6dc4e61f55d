#!/bin/sh
# SPDX-License-Identifier: MIT
# BENCHMARKS.md's headline is what `bench/report.py --headline` makes of the
# runs stored under bench/results/, so that it cannot show an old round
# while newer figures sit beside it.  Skips (77) in a release tarball, which
# carries neither, and without /usr/bin/python3.
set -u
srcdir=${top_srcdir:-.}
[ -f "$srcdir/bench/report.py" ] && [ -f "$srcdir/BENCHMARKS.md" ] ||
  { echo "check-bench-headline.sh: SKIP: no bench/ here (a release tarball)"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "check-bench-headline.sh: SKIP: /usr/bin/python3 missing"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-headline.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$srcdir/BENCHMARKS.md" "$work/BENCHMARKS.md"
/usr/bin/python3 "$srcdir/bench/report.py" --headline "$srcdir/bench/results" "$work/BENCHMARKS.md" \
  >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
if ! diff -u "$srcdir/BENCHMARKS.md" "$work/BENCHMARKS.md"; then
  echo "BENCHMARKS.md's headline is stale: bench/report.py --headline bench/results BENCHMARKS.md"
  exit 1
fi
echo "BENCHMARKS.md's headline is bench/report.py's of $(ls -d "$srcdir"/bench/results/2*/ | wc -l) stored runs"
