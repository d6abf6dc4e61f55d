#!/bin/sh
# SPDX-License-Identifier: MIT
# The Python binding's suite (python/tests): builds and installs the
# extension with Debian's /usr/bin/python3 and pip (offline, no build
# isolation, into a scratch --target) against the libsluice just built in
# this tree, starts OpenStack Swift with s3api on loopback as
# check-servers.sh does, and runs pytest + pytest-asyncio with the server's
# address in the environment.  Skips (77), saying why, when a Debian package
# it needs is missing or when the library is built with sanitizers (an
# instrumented libsluice cannot be loaded into an uninstrumented python3).
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
srcdir=$(cd "$srcdir" && pwd)
builddir=$(cd "$builddir" && pwd)
PYTHON=${SLUICE_PYTHON:-/usr/bin/python3}
skip() { echo "check-python.sh: SKIP: $*"; exit 77; }
[ "${SLUICE_SANITIZED:-0}" = 1 ] &&
  skip "sanitized build: the binding is tested against the plain build only"
# configure records SAN_CFLAGS; a sanitized tree has -fsanitize there.
[ -f "$builddir/config.log" ] && grep -q "^SAN_CFLAGS='.*-fsanitize" "$builddir/config.log" &&
  skip "built with -fsanitize (see $builddir/config.log): the binding is tested against the plain build only"
[ -x "$PYTHON" ] || skip "$PYTHON not found (apt-get install python3)"
"$PYTHON" -c 'import pytest, pytest_asyncio' 2>/dev/null ||
  skip "pytest or pytest-asyncio missing (apt-get install python3-pytest python3-pytest-asyncio)"
"$PYTHON" -c 'import setuptools, pip' 2>/dev/null ||
  skip "setuptools or pip missing (apt-get install python3-setuptools python3-pip)"
"$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  skip "Python.h missing (apt-get install python3-dev)"
libdir=$builddir/.libs
[ -e "$libdir/libsluice.so" ] || { echo "check-python.sh: $libdir/libsluice.so not built"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-python.XXXXXX")
s3env=
cleanup() {
  [ -n "$s3env" ] && "$srcdir/tests/servers/swift-s3api.sh" stop "$(dirname "$s3env")" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy: pip builds in the source folder, which distcheck makes read-only.
cp -R "$srcdir/python" "$work/src" && chmod -R u+w "$work/src" &&
  rm -rf "$work/src/build" "$work/src"/*.egg-info "$work/src"/sluice/*.so
echo "== building python/ with $PYTHON against $libdir"
if ! SLUICE_CFLAGS="-I$srcdir/include" SLUICE_LIBS="-L$libdir -lsluice" \
     PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
     "$PYTHON" -m pip install -q --no-build-isolation --no-deps --no-index --no-cache-dir \
     --target "$work/site" "$work/src"; then
  echo "check-python.sh: pip install failed"
  exit 1
fi

SLUICE_SERVERS_OWNER_PID=$$; export SLUICE_SERVERS_OWNER_PID
s3env=$("$srcdir/tests/servers/swift-s3api.sh" start) || { echo "could not start the S3 server"; exit 1; }
set -a
. "$s3env"
set +a
SLUICE_S3_UPLOADS=$builddir/tests/s3_uploads
SLUICE_TESTS_SERVERS=$srcdir/tests/servers
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PYTHONPATH=$work/site PYTHONDONTWRITEBYTECODE=1
export SLUICE_S3_UPLOADS SLUICE_TESTS_SERVERS LD_LIBRARY_PATH PYTHONPATH PYTHONDONTWRITEBYTECODE
echo "== pytest python/tests (S3 $SLUICE_S3_ENDPOINT)"
cd "$work/src/tests" && "$PYTHON" -m pytest -q -p no:cacheprovider .
