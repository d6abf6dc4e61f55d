#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the suites that need real servers: starts OpenStack Swift with the
# s3api middleware and nginx on free loopback ports (tests/servers/, which
# install what they need), plus a second nginx serving the same docroot over
# HTTPS with a throwaway CA (nginx-http.sh start --tls: SLUICE_HTTPS_*),
# runs the S3 and HTTP suites and the shared service suite with their
# addresses in the environment, and stops all three servers whatever
# happens.
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
servers=$srcdir/tests/servers
docroot=$(mktemp -d "${TMPDIR:-/tmp}/sluice-http-root.XXXXXX")
s3env= httpenv= httpsenv=
cleanup() {
  [ -n "$s3env" ] && "$servers/swift-s3api.sh" stop "$(dirname "$s3env")" >/dev/null 2>&1
  [ -n "$httpenv" ] && "$servers/nginx-http.sh" stop "$(dirname "$httpenv")" >/dev/null 2>&1
  [ -n "$httpsenv" ] && "$servers/nginx-http.sh" stop "$(dirname "$httpsenv")" >/dev/null 2>&1
  rm -rf "$docroot"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The servers' supervisor stops them if this script dies without cleanup.
SLUICE_SERVERS_OWNER_PID=$$; export SLUICE_SERVERS_OWNER_PID
s3env=$("$servers/swift-s3api.sh" start) || { echo "could not start the S3 server"; exit 1; }
httpenv=$("$servers/nginx-http.sh" start "$docroot") || { echo "could not start nginx"; exit 1; }
httpsenv=$("$servers/nginx-http.sh" start --tls "$docroot") || { echo "could not start nginx with TLS"; exit 1; }
set -a
. "$s3env"
. "$httpenv"
. "$httpsenv"
set +a
status=0
for t in test_s3 test_http test_services test_s3_bulk test_tree; do
  echo "== $t (S3 $SLUICE_S3_ENDPOINT, HTTP $SLUICE_HTTP_ENDPOINT, HTTPS $SLUICE_HTTPS_ENDPOINT)"
  "$builddir/tests/$t" || status=1
done
echo "== test_cli.sh (the sluice command, end to end)"
bash "$srcdir/tests/test_cli.sh" || status=1
echo "== test_completion.sh (s3:// keys from the server)"
bash "$srcdir/tests/test_completion.sh"
case $? in 0 | 77) ;; *) status=1 ;; esac
exit $status
