#!/bin/sh
# SPDX-License-Identifier: MIT
# The TSan build runs the Criterion tests on a shim (tests/tsan/criterion/),
# since Criterion's own runner is not built with TSan.  A Criterion macro a
# test uses and the shim lacks breaks only that build, which a plain
# `make check` never compiles: this check names it here instead.
set -u
src=${top_srcdir:-.}
cd "$src" || exit 1
shim=tests/tsan/criterion/criterion.h
missing=0
for m in $(grep -ho '\bcr_[a-z_]*\b' tests/*.c tests/*.h | sort -u); do
  grep -Eq "^#define $m\b|\b$m\(" "$shim" && continue
  echo "check-tsan-shim: tests use $m, which $shim does not define"
  missing=1
done
exit $missing
