#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when a C file is not formatted the way .clang-format (at the top of
# the tree) says; prints each place.  Skips (77) when clang-format is not
# installed (scripts/install-deps installs it).  To fix the tree:
#   clang-format -i $(find include lib pipeline tools tests -name '*.[ch]')
set -u
command -v clang-format >/dev/null 2>&1 || {
  echo "clang-format is not installed: format check skipped"
  exit 77
}
cd "${top_srcdir:-.}" || exit 1
# Files a build makes are not ours to format: an in-tree build writes
# tests/readme_example.c (README.md's example, kept as the README prints it)
# beside the sources.
files=$(find include lib pipeline tools tests -name '*.[ch]' ! -path tests/readme_example.c | sort)
if clang-format --style=file --dry-run --Werror $files; then
  echo "$(echo "$files" | wc -l) files formatted as .clang-format says"
else
  echo "not formatted as .clang-format says (clang-format -i FILE fixes it)"
  exit 1
fi
