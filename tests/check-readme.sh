#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs README.md's example program (tests/readme_example, built from the
# README by tests/readme-example.sh): it copies a file byte for byte and
# exits 0, and for a missing source says which and exits 1, leaving
# nothing behind.
set -eu
bin=${top_builddir:-.}/tests/readme_example
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-readme.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c 3000000 /dev/urandom > "$work/in.bin"

SLUICE_README_SRC=$work/in.bin SLUICE_README_DST=$work/out.bin "$bin"
cmp "$work/in.bin" "$work/out.bin"

if SLUICE_README_SRC=$work/missing.bin SLUICE_README_DST=$work/out2.bin "$bin" 2>"$work/err"; then
  echo "the README example succeeded on a missing source"; exit 1
fi
grep -q 'missing.bin' "$work/err" || { echo "its message does not name the file:"; cat "$work/err"; exit 1; }
[ ! -e "$work/out2.bin" ] || { echo "a failed copy left its destination behind"; exit 1; }
echo "README example: ok ($(cat "$work/err"))"
