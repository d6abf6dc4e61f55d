#!/bin/sh
# SPDX-License-Identifier: MIT
# python/README's route for a library installed under a prefix of one's
# own, as a new user takes it: `make install prefix=DIR`, a virtual
# environment of Debian's /usr/bin/python3 (--system-site-packages: no PyPI
# here), `pip install --no-build-isolation --no-index ./python` with only
# PKG_CONFIG_PATH pointing at DIR, then `import sluice` and one call, with
# no LD_LIBRARY_PATH: python/setup.py gives the extension an rpath to the
# prefix's libdir.  About 30 s.  Skips (77), saying why, when a Debian
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
# Outside the source copy, so that the installed package is the one imported.
cd "$work" && "$work/venv/bin/python" -c '
import sluice
op = sluice.Operator("memory")
op.write("a", b"hello")
assert op.read("a") == b"hello"
print("check-python-prefix.sh: import sluice from", sluice.__file__)
' >"$work/log" 2>&1 || fail "import sluice with the library under $prefix and no LD_LIBRARY_PATH"
cat "$work/log"
echo "check-python-prefix.sh: make install prefix=, venv, pip install ./python, import sluice: ok"
