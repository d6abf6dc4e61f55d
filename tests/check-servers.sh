#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the suites that need real servers: starts OpenStack Swift with the
# s3api middleware and nginx on free loopback ports (tests/servers/, which
# install what they need), plus a second nginx serving the same docroot over
# HTTPS with a throwaway CA (nginx-http.sh start --tls: SLUICE_HTTPS_*),
# runs the S3 and HTTP suites and the shared service suite with their
# addresses in the environment, and stops all three servers whatever
# happens.
#
# A server that cannot start: in CI ($CI=true, or scripts/test, which sets
# SLUICE_SERVERS_REQUIRED=1) that is a failure (exit 1); anywhere else, as
# a developer's `make check` perhaps run by an ordinary user, the suites
# are skipped (exit 77) with the reason.  Only root (or CI) installs the
# servers' Debian packages; elsewhere SLUICE_SERVERS_NO_INSTALL=1 applies.
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
servers=$srcdir/tests/servers
docroot=$(mktemp -d "${TMPDIR:-/tmp}/sluice-http-root.XXXXXX")
s3env= httpenv= httpsenv=
required=0
[ "${CI:-}" = true ] || [ "${SLUICE_SERVERS_REQUIRED:-0}" = 1 ] && required=1
if [ $required = 0 ] && [ "$(id -u)" != 0 ] && [ -z "${SLUICE_SERVERS_NO_INSTALL:-}" ]; then
  SLUICE_SERVERS_NO_INSTALL=1
  export SLUICE_SERVERS_NO_INSTALL
fi
startlog=$(mktemp "${TMPDIR:-/tmp}/sluice-servers-start.XXXXXX")
cleanup() {
  [ -n "$s3env" ] && "$servers/swift-s3api.sh" stop "$(dirname "$s3env")" >/dev/null 2>&1
  [ -n "$httpenv" ] && "$servers/nginx-http.sh" stop "$(dirname "$httpenv")" >/dev/null 2>&1
  [ -n "$httpsenv" ] && "$servers/nginx-http.sh" stop "$(dirname "$httpsenv")" >/dev/null 2>&1
  rm -rf "$docroot" "$startlog"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The servers' supervisor stops them if this script dies without cleanup.
SLUICE_SERVERS_OWNER_PID=$$; export SLUICE_SERVERS_OWNER_PID
# start VAR WHAT SCRIPT ARGS...: the env file of a started server into VAR,
# or the end of this run, failed (CI) or skipped, saying why.
start() {
  local var=$1 what=$2 out
  shift 2
  out=$("$@" 2>"$startlog")
  local rc=$?
  cat "$startlog"
  if [ $rc = 0 ] && [ -n "$out" ]; then
    eval "$var=\$out"
    return
  fi
  echo "could not start $what (exit $rc): $(tail -n 1 "$startlog")"
  if [ $required = 1 ]; then
    echo "FAIL: CI needs every server (CI=true or SLUICE_SERVERS_REQUIRED=1)"
    exit 1
  fi
  echo "SKIP: the S3 and HTTP suites and test_cli.sh need it; as root, scripts/install-deps"
  echo "      and tests/servers/ install what is missing (or run scripts/test)"
  exit 77
}
start s3env "the S3 server (Swift s3api)" "$servers/swift-s3api.sh" start
start httpenv "nginx" "$servers/nginx-http.sh" start "$docroot"
start httpsenv "nginx with TLS" "$servers/nginx-http.sh" start --tls "$docroot"
set -a
. "$s3env"
. "$httpenv"
. "$httpsenv"
set +a
status=0
for t in test_s3 test_s3_abort test_s3_options test_s3_errors test_s3_list test_s3_faults \
  test_http test_services test_s3_bulk test_s3_checksum test_tree; do
  echo "== $t (S3 $SLUICE_S3_ENDPOINT, HTTP $SLUICE_HTTP_ENDPOINT, HTTPS $SLUICE_HTTPS_ENDPOINT)"
  "$builddir/tests/$t" || status=1
done
echo "== test_cli.sh (the sluice command, end to end)"
bash "$srcdir/tests/test_cli.sh" || status=1
echo "== test_completion.sh (s3:// keys from the server)"
bash "$srcdir/tests/test_completion.sh"
case $? in 0 | 77) ;; *) status=1 ;; esac
exit $status
