#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints the C program of README.md's "The API in one short program" for
# tests/check-readme.sh: as printed, except that the two URIs it names come
# from the environment (SLUICE_README_SRC, SLUICE_README_DST), so the test
# can point them at files of its own.  Fails when the block or either URI
# is gone, rather than testing something else.
set -eu
readme=$1
code=$(awk '/^## The API in / { f = 1 } f && /^```c$/ { p = 1; next } p && /^```$/ { exit } p' \
  "$readme")
[ -n "$code" ] || { echo "$0: $readme: no \`\`\`c block under '## The API in ...'" >&2; exit 1; }
for uri in '"/data/big.bin"' '"s3://backups/big.bin"'; do
  case $code in
    *"$uri"*) ;;
    *) echo "$0: $readme: the example no longer names $uri; update this script" >&2; exit 1 ;;
  esac
done
printf '#include <stdlib.h> /* getenv, for the URIs below */\n'
printf '%s\n' "$code" |
  sed -e 's|"/data/big.bin"|getenv("SLUICE_README_SRC")|' \
      -e 's|"s3://backups/big.bin"|getenv("SLUICE_README_DST")|'
