#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sluice command under valgrind memcheck: copies through files, pipes
# and memory, and its error paths (usage, not found, bad config).  No
# server: the S3 and HTTP paths are the library's, covered by the suites.
#   SLUICE_VALGRIND_LOG=DIR/sluice.%p tests/valgrind-cli.sh BUILD_DIR
# Every process logs to its own file; the caller fails on any error line.
set -uo pipefail
build=$1
log=${SLUICE_VALGRIND_LOG:?}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-vgcli-XXXXXX")
trap 'rm -rf "$work"' EXIT
vg() {
  "$build/libtool" --mode=execute valgrind -q --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --log-file="$log" "$build/tools/sluice" "$@"
}
head -c $((6 << 20)) /dev/urandom >"$work/src.bin"
status=0
step() { # DESC WANT_STATUS CMD...
  local desc=$1 want=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" != "$want" ]; then
    echo "valgrind-cli: $desc: exit $rc, want $want"; cat "$work/err"; status=1
  fi
}
step "cp file" 0 vg cp --chunk 1MiB --progress=plain --json "$work/src.bin" "$work/dst/a.bin"
cmp -s "$work/src.bin" "$work/dst/a.bin" || { echo "valgrind-cli: copy differs"; status=1; }
step "put from a pipe" 0 bash -c 'cat "$1" | "${@:2}"' _ "$work/src.bin" \
  "$build/libtool" --mode=execute valgrind -q --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --log-file="$log" "$build/tools/sluice" put --chunk 1MiB "$work/dst/b.bin"
cmp -s "$work/src.bin" "$work/dst/b.bin" || { echo "valgrind-cli: put differs"; status=1; }
step "cat" 0 vg cat --chunk 1MiB "$work/src.bin"
cmp -s "$work/src.bin" "$work/out" || { echo "valgrind-cli: cat differs"; status=1; }
step "cp -r" 0 vg cp -r "$work/dst" "$work/tree"
step "cp into mem://" 0 vg cp "$work/src.bin" mem://x
step "ls -r" 0 vg ls -r "$work/tree"
step "stat --json" 0 vg stat --json "$work/src.bin"
step "rm -r" 0 vg rm -r "$work/tree"
step "unknown option" 2 vg cp --nope a b
step "not found" 4 vg cp "$work/missing" "$work/x"
printf 'chunk = 1\n' >"$work/config"
step "bad config" 3 vg --config "$work/config" ls "$work"
exit $status
