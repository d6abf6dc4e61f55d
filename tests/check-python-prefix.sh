#!/bin/sh
# SPDX-License-Identifier: MIT
# python/README's route for a library installed under a prefix of one's
# own, as a new user takes it: `make install prefix=DIR`, a virtual
# environment of Debian's /usr/bin/python3 (--system-site-packages: no PyPI
# here), `pip install --no-build-isolation --no-index ./python` with only
# PKG_CONFIG_PATH pointing at DIR, then `import sluice` and one call, with
# no LD_LIBRARY_PATH (python/setup.py gives the extension an rpath to the
# prefix's libdir), running README.md's "From Python" example.  About 30 s.  Skips (77), saying why, when a Debian
# package it needs is missing and in sanitized builds (an instrumented
# libsluice cannot be loaded into an uninstrumented python3).
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
PYTHON=${SLUICE_PYTHON:-/usr/bin/python3}
skip() { echo "check-python-prefix.sh: SKIP: $*"; exit 77; }
fail() { echo "check-python-prefix.sh: FAIL: $*"; [ -f "$work/log" ] && tail -n 30 "$work/log"; exit 1; }
[ "${SLUICE_SANITIZED:-0}" = 1 ] && skip "sanitized build: the binding is tested against the plain build only"
[ -f "$builddir/config.log" ] && grep -q "^SAN_CFLAGS='.*-fsanitize" "$builddir/config.log" &&
  skip "built with -fsanitize: the binding is tested against the plain build only"
[ -x "$PYTHON" ] || skip "$PYTHON not found (apt-get install python3)"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config missing (apt-get install pkgconf)"
"$PYTHON" -c 'import setuptools, pip, venv, ensurepip' 2>/dev/null ||
  skip "setuptools, pip or venv missing (apt-get install python3-setuptools python3-pip python3-venv)"
"$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  skip "Python.h missing (apt-get install python3-dev)"

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pyprefix.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
prefix=$work/prefix

# The parent make's flags (jobserver, TESTS=...) are not this install's.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$builddir" install prefix="$prefix" >"$work/log" 2>&1 ||
  fail "make install prefix=$prefix"
# A copy: pip builds in the source folder, which distcheck makes read-only.
cp -R "$srcdir/python" "$work/src" && chmod -R u+w "$work/src" &&
  rm -rf "$work/src/build" "$work/src"/*.egg-info "$work/src"/sluice/*.so
"$PYTHON" -m venv --system-site-packages "$work/venv" >"$work/log" 2>&1 || fail "python3 -m venv"
unset LD_LIBRARY_PATH SLUICE_CFLAGS SLUICE_LIBS PYTHONPATH
PKG_CONFIG_PATH=$prefix/lib/pkgconfig PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$work/venv/bin/python" -m pip install -q --no-build-isolation --no-index --no-cache-dir \
  "$work/src" >"$work/log" 2>&1 || fail "pip install ./python into the venv"
# Then README.md's "From Python" example, as printed but for its two
# operators: /data becomes a directory of ours, the bucket a memory store.
mkdir -p "$work/data" && head -c 3000000 /dev/urandom >"$work/data/big.bin"
awk '/^## From Python/ { f = 1 } f && /^```python$/ { p = 1; next } p && /^```$/ { exit } p' \
  "$srcdir/README.md" >"$work/example.py"
grep -q 'sluice.Operator("fs", root="/data")' "$work/example.py" &&
  grep -q 'sluice.Operator("s3", bucket="backups")' "$work/example.py" ||
  fail "README.md's 'From Python' example changed; update this script"
# Outside the source copy, so that the installed package is the one imported.
cd "$work" && SLUICE_DATA=$work/data "$work/venv/bin/python" -c '
import os, sys
import sluice
print("check-python-prefix.sh: import sluice from", sluice.__file__)
code = open("example.py").read()
code = code.replace("root=\"/data\"", "root=os.environ[\"SLUICE_DATA\"]")
code = code.replace("sluice.Operator(\"s3\", bucket=\"backups\")", "sluice.Operator(\"memory\")")
env = {"__name__": "readme", "os": os}
exec(compile(code, "README.md", "exec"), env)
data = open(os.path.join(os.environ["SLUICE_DATA"], "big.bin"), "rb").read()
assert env["dst"].read("big.bin") == data, "the README example copied other bytes"
print("check-python-prefix.sh: README.md example copied", len(data), "bytes")
' >"$work/log" 2>&1 || fail "import sluice and README.md's example, the library under $prefix, no LD_LIBRARY_PATH"
cat "$work/log"
echo "check-python-prefix.sh: make install prefix=, venv, pip install ./python, import sluice: ok"
