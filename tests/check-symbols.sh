#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when libsluice.so exports a name without the sluice_ prefix, or
# exports an internal sluice__ name: only the public API may leak.
so=$(ls "$top_builddir"/.libs/libsluice.so.*.*.* 2>/dev/null | head -n 1)
[ -n "$so" ] || { echo "no libsluice.so built"; exit 1; }
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
      grep -v '^sluice_' ; nm -D --defined-only "$so" | awk '{print $3}' | grep '^sluice__')
if [ -n "$bad" ]; then
  echo "symbols leaking from $so:"
  echo "$bad"
  exit 1
fi
n=$(nm -D --defined-only "$so" | grep -c ' T sluice_')
echo "$so exports $n sluice_ functions and nothing else"
[ "$n" -gt 30 ]
