#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check-servers.sh on a machine whose test servers cannot start (here:
# their Debian packages look missing, through a dpkg-query that knows no
# package, and installing is off): a developer's `make check` skips the
# server suites (77) and says why; CI (CI=true, or SLUICE_SERVERS_REQUIRED=1
# as scripts/test sets) fails instead.  Nothing is started or installed.
set -u
srcdir=${top_srcdir:-.}
shim=$(mktemp -d "${TMPDIR:-/tmp}/sluice-noserver.XXXXXX")
trap 'rm -rf "$shim"' EXIT
printf '#!/bin/sh\nexit 1\n' >"$shim/dpkg-query"
chmod +x "$shim/dpkg-query"
fails=0
check() { # NAME WANT_STATUS REGEX ENV...
  name=$1 want=$2 re=$3
  shift 3
  env -u CI -u SLUICE_SERVERS_REQUIRED PATH="$shim:$PATH" SLUICE_SERVERS_NO_INSTALL=1 "$@" \
    sh "$srcdir/tests/check-servers.sh" >"$shim/out" 2>&1
  rc=$?
  if [ $rc = "$want" ] && grep -Eq "$re" "$shim/out"; then
    echo "ok - $name (exit $rc)"
  else
    echo "not ok - $name: exit $rc, want $want and /$re/"
    sed 's/^/    /' "$shim/out" | tail -n 10
    fails=$((fails + 1))
  fi
}
check "make check without the servers skips, naming the cause" 77 \
  "SKIP: .*need it" SLUICE_SERVERS_REQUIRED=0
grep -q "missing Debian packages" "$shim/out" && echo "ok - the skip says which packages" ||
  { echo "not ok - the skip does not name the packages"; fails=$((fails + 1)); }
check "scripts/test (SLUICE_SERVERS_REQUIRED=1) fails" 1 "FAIL: CI needs every server" \
  SLUICE_SERVERS_REQUIRED=1
check "CI=true fails" 1 "FAIL: CI needs every server" CI=true
[ $fails = 0 ]
