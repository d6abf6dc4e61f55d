#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-test of the server harness (curl only, no awscli): two Swift+s3api
# instances side by side, nginx-http.sh, fault-proxy.py.  Prints one line per
# check; exit 0 = all passed, 1 = a check failed, 99 = a server did not start.
# Everything it starts is stopped by the EXIT trap.
#   usage: tests/servers/selftest.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-selftest.XXXXXX")
S1='' S2='' NG='' FP=''
cleanup() {
  [ -n "$FP" ] && kill "$FP" 2>/dev/null && wait "$FP" 2>/dev/null
  [ -n "$S1" ] && "$HERE/swift-s3api.sh" stop "$S1" 2>/dev/null
  [ -n "$S2" ] && "$HERE/swift-s3api.sh" stop "$S2" 2>/dev/null
  [ -n "$NG" ] && "$HERE/nginx-http.sh" stop "$NG" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export SLUICE_SERVERS_OWNER_PID=$$      # safety net if this script is killed

fails=0
check() {  # name, then a command; PASS if it succeeds
  local name=$1; shift
  if "$@" > "$W/out" 2>&1; then echo "PASS  $name"
  else echo "FAIL  $name: $(head -c 300 "$W/out")"; fails=$((fails + 1)); fi
}
var() { grep "^$2=" "$1" | cut -d= -f2-; }

# --- two swift instances, started concurrently
"$HERE/swift-s3api.sh" start > "$W/e1" 2> "$W/log1" & p1=$!
"$HERE/swift-s3api.sh" start > "$W/e2" 2> "$W/log2" & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
[ -s "$W/e1" ] && S1=$(var "$(cat "$W/e1")" SLUICE_S3_STATE)
[ -s "$W/e2" ] && S2=$(var "$(cat "$W/e2")" SLUICE_S3_STATE)
if [ $r1 != 0 ] || [ $r2 != 0 ]; then cat "$W/log1" "$W/log2" >&2; exit 99; fi
E1=$(cat "$W/e1"); E2=$(cat "$W/e2")
EP1=$(var "$E1" SLUICE_S3_ENDPOINT); EP2=$(var "$E2" SLUICE_S3_ENDPOINT)
B=$(var "$E1" SLUICE_S3_BUCKET)
echo "INFO  swift instances at $EP1 and $EP2 ($(tail -n 1 "$W/log1" | grep -o 'ready in [0-9]* ms'))"
s3() {  # ENDPOINT-env-file, curl args...
  local env=$1; shift
  curl -sS --aws-sigv4 "aws:amz:$(var "$env" SLUICE_S3_REGION):s3" \
    --netrc-file "$(var "$env" SLUICE_S3_NETRC)" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
check "different ports and state dirs" test "$EP1" != "$EP2" -a "$S1" != "$S2"
check "listeners on 127.0.0.1 only" \
  bash -c "! ss -ltnH | awk '{print \$4}' | grep -E ':(${EP1##*:}|${EP2##*:})\$' | grep -v '^127.0.0.1:'"

head -c 1000 /dev/urandom > "$W/small"
head -c 6291456 /dev/urandom > "$W/p1"; head -c 1048576 /dev/urandom > "$W/p2"
check "PUT object" test "$(s3 "$E1" -T "$W/small" -o /dev/null -w '%{http_code}' "$EP1/$B/dir/small")" = 200
check "GET object" bash -c "$(declare -f s3 var); s3 '$E1' '$EP1/$B/dir/small' | cmp - '$W/small'"
check "ranged GET 10-19" bash -c "$(declare -f s3 var); s3 '$E1' -r 10-19 '$EP1/$B/dir/small' | cmp - <(tail -c +11 '$W/small' | head -c 10)"
check "ListObjectsV2 lists the key" bash -c "$(declare -f s3 var); s3 '$E1' '$EP1/$B?list-type=2' | grep -q '<Key>dir/small</Key>'"
check "instances are separate (key absent in the other)" \
  test "$(s3 "$E2" -o /dev/null -w '%{http_code}' "$EP2/$B/dir/small")" = 404

# multipart: 6 MiB + 1 MiB
# "?uploads=", not "?uploads": curl 7.88's --aws-sigv4 signs a query parameter
# without value as "uploads" where S3 (and Swift) canonicalise "uploads="
uid=$(s3 "$E1" -X POST "$EP1/$B/mp?uploads=" | sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p')
e1=$(s3 "$E1" -T "$W/p1" -D - -o /dev/null "$EP1/$B/mp?partNumber=1&uploadId=$uid" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
e2=$(s3 "$E1" -T "$W/p2" -D - -o /dev/null "$EP1/$B/mp?partNumber=2&uploadId=$uid" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
printf '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>' "$e1" "$e2" > "$W/complete.xml"
check "multipart upload (6 MiB + 1 MiB) completes" \
  bash -c "$(declare -f s3 var); s3 '$E1' -X POST --data-binary @'$W/complete.xml' '$EP1/$B/mp?uploadId=$uid' | grep -q CompleteMultipartUploadResult"
check "multipart object content" bash -c "$(declare -f s3 var); s3 '$E1' '$EP1/$B/mp' | cmp - <(cat '$W/p1' '$W/p2')"
printf 'machine 127.0.0.1\nlogin %s\npassword WRONG\n' "$(var "$E1" SLUICE_S3_ACCESS_KEY)" > "$W/netrc-wrong"
check "wrong secret -> 403 SignatureDoesNotMatch" bash -c "
  code=\$(curl -s -o '$W/o' -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file '$W/netrc-wrong' \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' '$EP1/$B/dir/small'); [ \"\$code\" = 403 ] && grep -q SignatureDoesNotMatch '$W/o'"
check "env lists both instances" bash -c "'$HERE/swift-s3api.sh' env | grep -q '$S1' && '$HERE/swift-s3api.sh' env | grep -q '$S2'"

# --- fault proxy in front of instance 1
"$HERE/fault-proxy.py" --target "127.0.0.1:${EP1##*:}" --port-file "$W/fp.port" \
  --http-status 503 --times 2 --max-seconds 60 & FP=$!
for _ in $(seq 100); do [ -s "$W/fp.port" ] && break; sleep 0.05; done
PX=http://127.0.0.1:$(cat "$W/fp.port")
codes=$(for _ in 1 2 3; do s3 "$E1" -o /dev/null -w '%{http_code} ' "$PX/$B/dir/small"; done)
check "fault-proxy --http-status 503 --times 2: 503 503 200" test "$codes" = "503 503 200 "
kill "$FP"; wait "$FP" 2>/dev/null; FP=''
rm -f "$W/fp.port"
head -c 8388608 /dev/urandom > "$W/big"
"$HERE/fault-proxy.py" --target "127.0.0.1:${EP1##*:}" --port-file "$W/fp.port" \
  --reset-after-bytes 1000000 --times 1 --max-seconds 60 & FP=$!
for _ in $(seq 100); do [ -s "$W/fp.port" ] && break; sleep 0.05; done
PX=http://127.0.0.1:$(cat "$W/fp.port")
s3 "$E1" -T "$W/big" -o /dev/null "$PX/$B/big" 2>/dev/null; rc1=$?
code2=$(s3 "$E1" -T "$W/big" -o /dev/null -w '%{http_code}' "$PX/$B/big")
check "fault-proxy --reset-after-bytes: 1st PUT reset (curl 55/56), 2nd 200" \
  bash -c "{ [ $rc1 = 55 ] || [ $rc1 = 56 ]; } && [ '$code2' = 200 ]"
kill "$FP"; wait "$FP" 2>/dev/null; FP=''
t0=$(date +%s)
"$HERE/fault-proxy.py" --target "127.0.0.1:${EP1##*:}" --max-seconds 1
check "fault-proxy --max-seconds 1 exits by itself" test $(( $(date +%s) - t0 )) -le 3
check "fault-proxy refuses a non-loopback target" bash -c "! '$HERE/fault-proxy.py' --target 192.0.2.1:80 --max-seconds 1"

# --- nginx
mkdir -p "$W/doc/d"; head -c 100000 /dev/urandom > "$W/doc/d/f"
NE=$("$HERE/nginx-http.sh" start "$W/doc" 2> "$W/logn") || { cat "$W/logn" >&2; exit 99; }
NG=$(var "$NE" SLUICE_HTTP_STATE); HE=$(var "$NE" SLUICE_HTTP_ENDPOINT)
check "nginx Range 10-19" bash -c "curl -s -r 10-19 '$HE/d/f' | cmp - <(tail -c +11 '$W/doc/d/f' | head -c 10)"
check "nginx HEAD Content-Length" bash -c "curl -sI '$HE/d/f' | tr -d '\r' | grep -qx 'Content-Length: 100000'"

# --- stop, and nothing left behind: every recorded process group is gone
groups=$(cat "$S1"/run/*.pid "$S2"/run/*.pid "$NG"/run/*.pid 2>/dev/null | awk '$1 ~ /^[0-9]+$/ {print $1}' | sort -u)
"$HERE/swift-s3api.sh" stop "$S1" 2>/dev/null; "$HERE/swift-s3api.sh" stop "$S2" 2>/dev/null
"$HERE/nginx-http.sh" stop "$NG" 2>/dev/null
check "stop removes the state dirs" test ! -e "$S1" -a ! -e "$S2" -a ! -e "$NG"
left=$(ps -eo pid=,pgid=,stat= | awk -v g=" $(tr "\n" " " <<< "$groups") " '$3 !~ /^Z/ && index(g, " " $2 " ") { print $1 }')
check "no server process left ($(echo "$groups" | wc -w) process groups checked)" test -z "$left"
S1='' S2='' NG=''
[ $fails = 0 ] && echo "all passed" || echo "$fails check(s) failed"
[ $fails = 0 ]
