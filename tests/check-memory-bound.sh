#!/bin/sh
# SPDX-License-Identifier: MIT
# The memory bound, as the kernel sees it: copy a large file fs->fs with
# 8 MiB chunks, concurrent=4, queue_depth=4, readers=1 and check that peak
# RSS grows by at most chunk x (queue_depth + concurrent + readers) plus
# slack (see tests/rss_copy.c).
#
# An automake TESTS script: $top_builddir comes from AM_TESTS_ENVIRONMENT.
# SIZE is 1 GiB, or $SLUICE_TEST_BIG (suffixes K, M, G, KiB, MiB, GiB).
# Exit 77 (skip) where peak RSS is meaningless or unavailable: sanitizer
# builds (shadow memory inflates RSS) and kernels without VmHWM.

top_builddir=${top_builddir:-.}

if ! grep -q '^VmHWM:' /proc/self/status 2>/dev/null; then
  echo "SKIP: /proc/self/status has no VmHWM; cannot measure peak RSS"
  exit 77
fi

if [ "${SLUICE_SANITIZED:-0}" = 1 ]; then
  echo "SKIP: SLUICE_SANITIZED=1: sanitizer shadow memory inflates RSS"
  exit 77
fi
# configure records SAN_CFLAGS among its output variables; a sanitized
# build tree has -fsanitize there.
if [ -f "$top_builddir/config.log" ] &&
   grep -q "^SAN_CFLAGS='.*-fsanitize" "$top_builddir/config.log"; then
  echo "SKIP: built with -fsanitize (see $top_builddir/config.log): RSS is inflated"
  exit 77
fi

# "64M" -> 67108864; plain numbers pass through.
to_bytes() {
  num=${1%%[!0-9]*}
  suffix=${1#"$num"}
  if [ -z "$num" ]; then
    echo "check-memory-bound: bad size '$1'" >&2
    return 1
  fi
  case $suffix in
    ''|[bB]) mult=1 ;;
    [kK]|[kK][bB]|[kK]i[bB]) mult=1024 ;;
    [mM]|[mM][bB]|[mM]i[bB]) mult=1048576 ;;
    [gG]|[gG][bB]|[gG]i[bB]) mult=1073741824 ;;
    *) echo "check-memory-bound: bad size suffix in '$1'" >&2; return 1 ;;
  esac
  echo $((num * mult))
}

if [ -n "${SLUICE_TEST_BIG:-}" ]; then
  size=$(to_bytes "$SLUICE_TEST_BIG") || exit 99
else
  size=$((1 << 30))
fi

rss_copy=$top_builddir/tests/rss_copy
if [ ! -x "$rss_copy" ]; then
  echo "ERROR: $rss_copy is not built (make check builds it)" >&2
  exit 99
fi

echo "rss_copy $size $((8 << 20)) 4 4 1"
"$rss_copy" "$size" $((8 << 20)) 4 4 1
status=$?
case $status in
  0) echo "PASS: peak RSS within the bound" ;;
  77) echo "SKIP: rss_copy cannot measure peak RSS"; exit 77 ;;
  *) echo "FAIL: rss_copy exited with $status"; exit $status ;;
esac

# Many objects: a tree job's peak RSS must not grow with the number of
# objects.  10,000 small files, then $SLUICE_TREE_OBJECTS (default
# 100,000); the larger may add at most 8 MiB (allocator noise) to the
# smaller's growth.  Each run also checks its growth against the default
# memory_limit.
many=${SLUICE_TREE_OBJECTS:-100000}
growth() { # OBJECTS: prints the peak growth in KiB
  out=$("$rss_copy" tree "$1") || { echo "FAIL: rss_copy tree $1" >&2; return 1; }
  echo "rss_copy tree $1: $out" >&2
  echo "$out" | sed -n 's/.*peak_growth_kib=\([0-9-]*\).*/\1/p'
}
few_kib=$(growth 10000) || exit 1
many_kib=$(growth "$many") || exit 1
if [ "$many_kib" -gt $((few_kib + 8192)) ]; then
  echo "FAIL: peak RSS grows with the number of objects: +${few_kib} KiB for 10000, +${many_kib} KiB for $many"
  exit 1
fi
echo "PASS: tree copy peak RSS flat: +${few_kib} KiB for 10000 objects, +${many_kib} KiB for $many"
exit 0
