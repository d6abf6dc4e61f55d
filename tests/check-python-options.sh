#!/bin/sh
# SPDX-License-Identifier: MIT
# The Python binding's option names, defaults and texts (the docstrings'
# sluice/_options.py and the TypedDicts of sluice/__init__.pyi) are
# generated from libsluice's option table, the OPTIONS of docs/libsluice.3
# (which tests/check-option-docs.sh keeps complete): fails when they are
# stale, i.e. an option changed there and python/gen_options.py was not
# run.  With mypy installed, the stubs are type-checked too.
set -u
srcdir=${top_srcdir:-.}
PYTHON=${SLUICE_PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || { echo "check-python-options.sh: SKIP: $PYTHON not found"; exit 77; }
"$PYTHON" "$srcdir/python/gen_options.py" --check || exit 1
echo "python/sluice/_options.py and the stubs' options match docs/libsluice.3"
"$PYTHON" -c 'import mypy' 2>/dev/null || {
  echo "mypy not installed (apt-get install mypy): the stubs were not type-checked"
  exit 0
}
# The stubs alone, then a program using them: good option names and types
# pass, a misspelt option is caught (what an IDE shows its user).
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-stubs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/sluice" && cp "$srcdir/python/sluice/__init__.pyi" "$work/sluice/" || exit 1
cat >"$work/use.py" <<'PY'
import pathlib
import sluice
op = sluice.Operator("s3", bucket="b", region="us-east-1", max_attempts=3)
sluice.Operator("fs", root=pathlib.Path("/tmp"))
with op.open("k", "rb", concurrent=4, chunk="8MiB") as f:
    f.seek(0)
with op.open(pathlib.PurePosixPath("k"), "wb", user_metadata={"a": "b"}) as w:
    w.write_from(open("/dev/null", "rb"))
op.copy_tree("a", op, "b", transfers=4, dry_run=True)
PY
printf 'import sluice
sluice.Operator("memory").write("k", b"", chunkk=5)
' >"$work/typo.py"
mypy() { (cd "$work" && MYPYPATH=$work "$PYTHON" -m mypy --no-incremental --cache-dir=/dev/null \
            --enable-incomplete-feature=Unpack "$@" 2>&1); }
mypy sluice/__init__.pyi use.py || { echo "the stubs do not type-check"; exit 1; }
out=$(mypy typo.py)
echo "$out" | grep -q 'Unexpected keyword argument "chunkk"' ||
  { echo "a misspelt option was not caught by the stubs: $out"; exit 1; }
echo "stubs type-check; a misspelt option is caught"
