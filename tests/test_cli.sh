#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sluice command end to end, as a user runs it: real processes, real
# pipes, the real S3 (Swift s3api) and HTTP (nginx) servers that
# tests/check-servers.sh starts (SLUICE_S3_*, SLUICE_HTTP_* in the
# environment), signals delivered mid-upload, a pseudo-terminal for the
# progress bar.  Prints "ok"/"not ok" lines; exits 1 if any check failed.
# Every wait is bounded: commands run under timeout(1), polls give up after
# 20 s; all of these times x $tscale, so a slow (sanitized, busy) machine
# never fails a check: $SLUICE_TIMEOUT_SCALE, else 10 with SLUICE_SANITIZED=1.
set -u
builddir=$(cd "${top_builddir:-.}" && pwd)  # absolute: some checks cd elsewhere
tscale=${SLUICE_TIMEOUT_SCALE:-1}
[ -z "${SLUICE_TIMEOUT_SCALE:-}" ] && [ "${SLUICE_SANITIZED:-0}" = 1 ] && tscale=10
T60=$((60 * tscale)) T120=$((120 * tscale))
hold=$((60 * tscale)).$$  # how long a held-open input lasts: sleep $hold
SLUICE=$builddir/tools/sluice
UPLOADS=$builddir/tests/s3_uploads
for v in SLUICE_S3_ENDPOINT SLUICE_S3_BUCKET SLUICE_S3_ACCESS_KEY SLUICE_S3_SECRET_KEY \
         SLUICE_HTTP_ENDPOINT SLUICE_HTTP_ROOT; do
  [ -n "${!v:-}" ] || { echo "test_cli.sh: $v is not set (run through tests/check-servers.sh)"; exit 1; }
done
export AWS_ACCESS_KEY_ID=$SLUICE_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SLUICE_S3_SECRET_KEY
export AWS_ENDPOINT_URL=$SLUICE_S3_ENDPOINT AWS_REGION=${SLUICE_S3_REGION:-us-east-1}
# No config file or AWS profile of the machine's user may leak in.
export HOME=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cli-home.XXXXXX")
unset SLUICE_CONFIG XDG_CONFIG_HOME AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cli.XXXXXX")
bucket=s3://$SLUICE_S3_BUCKET
prefix=cli-$$
s3=$bucket/$prefix
ro_mount=
px_pid=
cleanup() {
  [ -n "$ro_mount" ] && umount "$ro_mount" 2>/dev/null
  [ -n "$px_pid" ] && kill "$px_pid" 2>/dev/null
  timeout $T60 "$SLUICE" rm -r "$s3/" >/dev/null 2>&1
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp" "$HOME"
}
trap cleanup EXIT

pass=0 failed=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
  echo "not ok - $1"
  shift
  for f in "$@"; do [ -f "$f" ] && sed 's/^/    /' "$f" | tail -n 15; done
  failed=$((failed + 1))
}

# run NAME CMD...: runs CMD with stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err; its exit status in $rc.
run() {
  local name=$1; shift
  timeout $T120 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
}
# expect NAME STATUS [REGEX]: the last run of NAME exited STATUS and its
# stderr matches REGEX.
expect() {
  local name=$1 want=$2 re=${3:-}
  if [ "$rc" != "$want" ]; then
    not_ok "$name: exit $rc, want $want" "$tmp/$name.err"
  elif [ -n "$re" ] && ! grep -Eq -- "$re" "$tmp/$name.err"; then
    not_ok "$name: stderr does not match /$re/" "$tmp/$name.err"
  else
    ok "$name (exit $want)"
  fi
}
same() { # NAME FILE1 FILE2
  if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1: $2 and $3 differ"; fi
}
json_field() { # FILE FIELD: the field of the last JSON line of FILE
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
wait_for() { # DESC CMD...: polls CMD until it succeeds, 20 s at most
  local i
  for i in $(seq $((200 * tscale))); do "${@:2}" && return 0; sleep 0.1; done
  echo "# gave up waiting for $1"
  return 1
}

head -c $((12 << 20)) /dev/urandom >"$tmp/12m.bin"
head -c 100000 /dev/urandom >"$tmp/small.bin"

# ---- the command line ----
run version "$SLUICE" --version
if [ $rc = 0 ] && grep -Eq '^sluice [0-9]+\.[0-9]+\.[0-9]+ \(libsluice [0-9.]+\)$' "$tmp/version.out"; then
  ok "--version"
else not_ok "--version" "$tmp/version.out" "$tmp/version.err"; fi
run help "$SLUICE" --help; expect help 0
run unknown_option "$SLUICE" cp --frobnicate a b; expect unknown_option 2 "unknown option '--frobnicate'"
run unknown_command "$SLUICE" mv a b; expect unknown_command 2 "unknown command 'mv'"
run missing_operand "$SLUICE" cp onlyone; expect missing_operand 2 "usage: sluice cp SRC DST"
run no_command "$SLUICE"; expect no_command 2 "no command"
run bad_chunk "$SLUICE" cp --chunk 3 a b; expect bad_chunk 2 "bad value '3' for chunk"
run bad_size_suffix "$SLUICE" cp --chunk 8XB a b; expect bad_size_suffix 2 "chunk"
run missing_value "$SLUICE" cp a b --concurrent; expect missing_value 2 "needs a value"
run count_with_unit "$SLUICE" cp --concurrent 1K a b; expect count_with_unit 2 "'1K' for concurrent: not a count"
run bad_scheme "$SLUICE" cp "$tmp/small.bin" ftp://host/x; expect bad_scheme 2 "unsupported scheme 'ftp'"
run no_bucket "$SLUICE" cp "$tmp/small.bin" s3:///key; expect no_bucket 2 "no bucket"
run bad_bucket "$SLUICE" ls "s3://bad bucket!/"; expect bad_bucket 2 "the bucket has byte 0x20"
run bad_bucket_srv "$SLUICE" ls "s3://Not_A_Valid_Bucket/"; expect bad_bucket_srv 2 "InvalidBucketName"
run stdin_to_dir "$SLUICE" put "$tmp/"; expect stdin_to_dir 2 "name the object"

# ---- local files and pipes ----
run fs_copy "$SLUICE" cp "$tmp/12m.bin" "$tmp/copy.bin" --chunk 1MiB; expect fs_copy 0
same "fs copy is byte-identical" "$tmp/12m.bin" "$tmp/copy.bin"
# MB is 10^6, as in SI: 12 MiB in parts of "4 MB" is 4 parts (3 with 4 MiB).
run chunk_mb "$SLUICE" cp "$tmp/12m.bin" "$tmp/copy_mb.bin" --chunk "4 MB" --json; expect chunk_mb 0
[ "$(json_field "$tmp/chunk_mb.out" parts)" = 4 ] && ok "--chunk '4 MB' is 4000000 bytes" ||
  not_ok "--chunk '4 MB': $(json_field "$tmp/chunk_mb.out" parts) parts, want 4" "$tmp/chunk_mb.out"
same "fs copy in 4 MB parts is byte-identical" "$tmp/12m.bin" "$tmp/copy_mb.bin"
mkdir -p "$tmp/into"
(cd "$tmp" && timeout $T60 "$SLUICE" cp small.bin into/ 2>"$tmp/rel.err"); rc=$?; expect rel 0
same "relative source into an existing directory keeps its name" "$tmp/small.bin" "$tmp/into/small.bin"
run fs_missing "$SLUICE" cp "$tmp/nothere" "$tmp/x"; expect fs_missing 4 "cp $tmp/nothere -> $tmp/x: .*No such file"

# ---- S3 ----
head -c $((12 << 20)) "$tmp/12m.bin" | timeout $T120 "$SLUICE" put "$s3/piped.bin" --chunk 5MiB \
  2>"$tmp/put.err"; rc=$?; expect put 0
timeout $T120 "$SLUICE" cat "$s3/piped.bin" >"$tmp/piped.back" 2>"$tmp/cat.err"; rc=$?; expect cat 0
same "put from a pipe then cat: byte-identical" "$tmp/12m.bin" "$tmp/piped.back"
# cat | head: the reader closes early; sluice ends at once, like cat.
timeout $T60 bash -c '"$1" cat "$2" | head -c 1000 | wc -c' _ "$SLUICE" "$s3/piped.bin" >"$tmp/head.out" 2>"$tmp/head.err"
if [ "$(cat "$tmp/head.out")" = 1000 ] && ! grep -q . "$tmp/head.err"; then ok "cat | head ends quietly"
else not_ok "cat | head" "$tmp/head.out" "$tmp/head.err"; fi

run json_cp "$SLUICE" cp "$tmp/12m.bin" "$s3/json.bin" --chunk 5MiB --concurrent 2 --json; expect json_cp 0
if [ "$(json_field "$tmp/json_cp.out" bytes)" = $((12 << 20)) ] && [ "$(json_field "$tmp/json_cp.out" parts)" = 3 ] &&
   [ "$(json_field "$tmp/json_cp.out" ok)" = True ] && [ "$(json_field "$tmp/json_cp.out" exit_code)" = 0 ] &&
   [ "$(json_field "$tmp/json_cp.out" peak_rss_kib)" -gt 0 ]; then ok "--json summary: bytes, parts, ok, peak memory"
else not_ok "--json summary" "$tmp/json_cp.out"; fi
run json_cat "$SLUICE" cat "$s3/json.bin" --json
if cmp -s "$tmp/json_cat.out" "$tmp/12m.bin" && [ "$(json_field "$tmp/json_cat.err" bytes)" = $((12 << 20)) ]; then
  ok "cat --json: data alone on stdout, summary on stderr"
else not_ok "cat --json" "$tmp/json_cat.err"; fi

run stat "$SLUICE" stat "$s3/json.bin" --json; expect stat 0
[ "$(json_field "$tmp/stat.out" size)" = $((12 << 20)) ] && ok "stat --json size" || not_ok "stat --json size" "$tmp/stat.out"

mkdir -p "$tmp/tree/a/b" "$tmp/tree/c"
cp "$tmp/small.bin" "$tmp/tree/top.bin"; cp "$tmp/small.bin" "$tmp/tree/a/b/deep.bin"
cp "$tmp/12m.bin" "$tmp/tree/c/big.bin"
run cp_r_up "$SLUICE" cp -r "$tmp/tree" "$s3/tree/" --chunk 5MiB; expect cp_r_up 0
run ls_r "$SLUICE" ls -r "$s3/tree"; expect ls_r 0
if [ "$(awk '{print $3}' "$tmp/ls_r.out" | sort | tr '\n' ' ')" = "a/b/deep.bin c/big.bin top.bin " ] &&
   grep -q "^ *$((12 << 20)) " "$tmp/ls_r.out"; then ok "ls -r lists the tree with sizes"
else not_ok "ls -r" "$tmp/ls_r.out"; fi
run cp_r_down "$SLUICE" cp -r "$s3/tree/" "$tmp/back"; expect cp_r_down 0
if diff -r "$tmp/tree" "$tmp/back" >"$tmp/diff.out"; then ok "cp -r there and back: same tree"
else not_ok "cp -r round trip" "$tmp/diff.out"; fi

# ---- trees: cp -r and sync run on the library's tree job ----
mkdir -p "$tmp/many/d1/d2" "$tmp/many/with space"
for i in $(seq 1 120); do printf 'object %s\n' "$i" >"$tmp/many/d1/f$i"; done
: >"$tmp/many/d1/d2/empty"
cafe=$'caf\xc3\xa9.txt'
printf 'unicode\n' >"$tmp/many/with space/$cafe"
run tree_up "$SLUICE" cp -r --transfers 8 --memory-limit 64MiB --json "$tmp/many" "$s3/many/"
expect tree_up 0
[ "$(json_field "$tmp/tree_up.out" copied)" = 122 ] && ok "cp -r --json: 122 copied" ||
  not_ok "cp -r --json copied" "$tmp/tree_up.out"
run tree_down "$SLUICE" cp -r --bwlimit 100M "$s3/many/" "$tmp/many.back"; expect tree_down 0
if diff -r "$tmp/many" "$tmp/many.back" >"$tmp/many.diff"; then ok "cp -r of 122 objects there and back"
else not_ok "cp -r many round trip" "$tmp/many.diff"; fi
# sync between two prefixes (S3 lists in byte order on both sides)
run sync1 "$SLUICE" sync --json "$s3/many/" "$s3/mirror/"; expect sync1 0
[ "$(json_field "$tmp/sync1.out" copied)" = 122 ] && ok "sync: 122 copied" || not_ok "sync copied" "$tmp/sync1.out"
run sync2 "$SLUICE" sync --json "$s3/many/" "$s3/mirror/"; expect sync2 0
[ "$(json_field "$tmp/sync2.out" copied)" = 0 ] && [ "$(json_field "$tmp/sync2.out" skipped)" = 122 ] &&
  ok "sync twice: the second copies nothing" || not_ok "sync twice" "$tmp/sync2.out"
"$SLUICE" cp "$tmp/small.bin" "$s3/mirror/extra.bin" 2>/dev/null
run sync_dry "$SLUICE" sync --delete --dry-run "$s3/many/" "$s3/mirror/"; expect sync_dry 0
grep -qx "would delete extra.bin" "$tmp/sync_dry.out" && ok "sync --dry-run says what it would delete" ||
  not_ok "sync --dry-run" "$tmp/sync_dry.out"
run stat_extra "$SLUICE" stat "$s3/mirror/extra.bin"; expect stat_extra 0
run sync_del "$SLUICE" sync --delete --json --exclude 'd1/f1*' "$s3/many/" "$s3/mirror/"; expect sync_del 0
[ "$(json_field "$tmp/sync_del.out" deleted)" = 1 ] && ok "sync --delete removed the one extra" ||
  not_ok "sync --delete" "$tmp/sync_del.out"
run stat_extra_gone "$SLUICE" stat "$s3/mirror/extra.bin"; expect stat_extra_gone 4
# some objects fail (a file stands where a directory must go): exit 8,
# one line each, the rest arrive
mkdir -p "$tmp/blocked" && printf x >"$tmp/blocked/d1"
run tree_partial "$SLUICE" cp -r --json "$s3/many/" "$tmp/blocked"
expect tree_partial 8 "cp $s3/many/d1/f7: "
[ "$(grep -c "^sluice: cp $s3/many/d1/" "$tmp/tree_partial.err")" = 121 ] &&
  [ "$(json_field "$tmp/tree_partial.out" failed)" = 121 ] && [ -f "$tmp/blocked/with space/$cafe" ] &&
  ok "cp -r: 121 failed objects, one stderr line each, the rest copied" ||
  not_ok "cp -r partial" "$tmp/tree_partial.err" "$tmp/tree_partial.out"
run tree_empty "$SLUICE" cp -r "$s3/nothing-here/" "$tmp/none"; expect tree_empty 4 "nothing there to copy"
run bad_transfers "$SLUICE" cp -r --transfers 0 a b; expect bad_transfers 2 "transfers"

run server_copy "$SLUICE" cp "$s3/json.bin" "$s3/copied.bin"; expect server_copy 0

# An object key is used exactly as given: "a//b" and "c/../d" are keys of
# their own, never "a/b" or "d".
run key_dslash "$SLUICE" cp "$tmp/small.bin" "$s3/keys/a//b"; expect key_dslash 0
run key_dotdot "$SLUICE" cp "$tmp/small.bin" "$s3/keys/c/../d"; expect key_dotdot 0
run ls_keys "$SLUICE" ls -r "$s3/keys/"; expect ls_keys 0
if [ "$(awk '{print $3}' "$tmp/ls_keys.out" | tr '\n' ' ')" = "a//b c/../d " ]; then
  ok "ls shows the keys as written: a//b, c/../d"
else not_ok "ls of exact keys" "$tmp/ls_keys.out"; fi
run cat_key "$SLUICE" cat "$s3/keys/a//b"; expect cat_key 0
same "cat reads a//b back byte-identical" "$tmp/small.bin" "$tmp/cat_key.out"
run key_lookalike "$SLUICE" stat "$s3/keys/a/b"; expect key_lookalike 4
run stream_copy "$SLUICE" cp --stream --chunk 5MiB "$s3/json.bin" "$s3/streamed.bin"; expect stream_copy 0
"$SLUICE" cat "$s3/copied.bin" >"$tmp/copied.back" 2>/dev/null
"$SLUICE" cat "$s3/streamed.bin" >"$tmp/streamed.back" 2>/dev/null
same "server-side copy within a bucket" "$tmp/12m.bin" "$tmp/copied.back"
same "--stream copy within a bucket" "$tmp/12m.bin" "$tmp/streamed.back"

run checksum_crc32c "$SLUICE" cp --checksum-algorithm crc32c --chunk 5MiB "$tmp/12m.bin" "$s3/crc32c.bin"; expect checksum_crc32c 0
"$SLUICE" cat "$s3/crc32c.bin" >"$tmp/crc32c.back" 2>/dev/null
same "--checksum-algorithm crc32c upload" "$tmp/12m.bin" "$tmp/crc32c.back"
run checksum_bad "$SLUICE" cp --checksum-algorithm crc16 "$tmp/small.bin" "$s3/crc16.bin"; expect checksum_bad 2 "checksum"

run exists_first "$SLUICE" cp --if-not-exists "$tmp/small.bin" "$s3/once.bin"; expect exists_first 0
run exists_again "$SLUICE" cp --if-not-exists "$tmp/12m.bin" "$s3/once.bin"; expect exists_again 7
"$SLUICE" cat "$s3/once.bin" >"$tmp/once.back" 2>/dev/null
same "--if-not-exists left the first object alone" "$tmp/small.bin" "$tmp/once.back"

run s3_not_found "$SLUICE" cat "$s3/nope"; expect s3_not_found 4 "cat $s3/nope"
run no_such_bucket "$SLUICE" ls s3://no-such-bucket-$$/; expect no_such_bucket 4 "no-such-bucket"
# A HEAD's 404 has no body: the missing bucket and the missing key still get
# messages of their own.
run stat_no_bucket "$SLUICE" stat s3://no-such-bucket-$$/key
expect stat_no_bucket 4 "HeadObject 'key': NoSuchBucket: The specified bucket does not exist"
run stat_no_key "$SLUICE" stat "$s3/nope"; expect stat_no_key 4 "HeadObject '[^']*nope': NoSuchKey"
run cat_no_bucket "$SLUICE" cat s3://no-such-bucket-$$/key; expect cat_no_bucket 4 "NoSuchBucket"
# A dangling symlink in a source tree is a failed object that names it, not
# a file passed by without a word.
mkdir -p "$tmp/dangling" && echo a >"$tmp/dangling/a" && ln -s nowhere "$tmp/dangling/b"
run dangling "$SLUICE" cp -r "$tmp/dangling" "$tmp/dangling.copy"
expect dangling 8 "dangling/b': No such file"
same "the tree's other file copied beside a dangling symlink" "$tmp/dangling/a" "$tmp/dangling.copy/a"

run presign "$SLUICE" presign --expires 600 "$s3/once.bin"; expect presign 0
if curl -sf "$(cat "$tmp/presign.out")" -o "$tmp/presigned.back" && cmp -s "$tmp/presigned.back" "$tmp/small.bin"; then
  ok "presigned URL fetched with plain curl"
else not_ok "presigned URL" "$tmp/presign.out"; fi
run presign_lower "$SLUICE" presign --method get --expires 600 "$s3/once.bin"; expect presign_lower 0
if curl -sf "$(cat "$tmp/presign_lower.out")" -o "$tmp/presigned_lower.back" &&
   cmp -s "$tmp/presigned_lower.back" "$tmp/small.bin"; then
  ok "presigned URL for --method get (lower case) fetched with plain curl"
else not_ok "presigned URL for --method get" "$tmp/presign_lower.out" "$tmp/presign_lower.err"; fi

run rm_one "$SLUICE" rm "$s3/once.bin"; expect rm_one 0
run stat_gone "$SLUICE" stat "$s3/once.bin"; expect stat_gone 4
run rm_r "$SLUICE" rm -r "$s3/tree"; expect rm_r 0
run ls_empty "$SLUICE" ls -r "$s3/tree/"
[ $rc = 0 ] && ! grep -q . "$tmp/ls_empty.out" && ok "rm -r emptied the prefix" || not_ok "rm -r" "$tmp/ls_empty.out"

# ---- names a server sends, printed for a person ----
# Keys holding a newline, an ESC sequence and a backslash, put with curl's
# own signer (the library refuses control characters in paths it is given):
# ls must neither split an entry over two lines nor let a bucket forge one,
# nor pass the escape to the terminal; --json keeps every key exact.
put_raw() { # ENCODED_KEY: a 1-byte object under $prefix/esc/
  curl -sf --netrc-file "$SLUICE_S3_NETRC" --aws-sigv4 "aws:amz:${SLUICE_S3_REGION:-us-east-1}:s3" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary x -X PUT \
    "$SLUICE_S3_ENDPOINT/$SLUICE_S3_BUCKET/$prefix/esc/$1" -o /dev/null
}
raw_keys=("a%0Ab" "e%1B%5B31mred" "x%0A%20%20%20%20%20%20%20%20%20%209%20%202026-01-01T00%3A00%3A00Z%20%20forged"
          "back%5Cslash")
esc_ok=1
for k in "${raw_keys[@]}"; do put_raw "$k" || esc_ok=0; done
[ $esc_ok = 1 ] && ok "keys with control characters stored through curl" || not_ok "curl could not store the test keys"
run ls_escaped "$SLUICE" ls "$s3/esc/"; expect ls_escaped 0
printf '%s\n' 'a\nb' 'back\\slash' 'e\033[31mred' 'x\n          9  2026-01-01T00:00:00Z  forged' >"$tmp/esc.want"
awk '{ sub(/^ *[0-9]+  [^ ]+  /, ""); print }' "$tmp/ls_escaped.out" | sort >"$tmp/esc.got"
if [ "$(wc -l <"$tmp/ls_escaped.out")" = 4 ] && cmp -s "$tmp/esc.want" "$tmp/esc.got" &&
   ! LC_ALL=C grep -q $'[\x01-\x1f\x7f]' "$tmp/ls_escaped.out"; then
  ok "ls: one line per key, control characters escaped as \\n \\033 \\\\"
else not_ok "ls escaping" "$tmp/ls_escaped.out"; fi
run ls_json "$SLUICE" ls --json "$s3/esc/"; expect ls_json 0
if /usr/bin/python3 - "$tmp/ls_json.out" <<'PY'
import json, sys
got = sorted(json.loads(line)["path"] for line in open(sys.argv[1]))
want = sorted(["a\nb", "e\x1b[31mred", "x\n          9  2026-01-01T00:00:00Z  forged", "back\\slash"])
sys.exit(got != want)
PY
then ok "ls --json: every key exact"; else not_ok "ls --json keys" "$tmp/ls_json.out"; fi
run rm_escaped "$SLUICE" rm -r "$s3/esc/"; expect rm_escaped 0
run ls_escaped_gone "$SLUICE" ls "$s3/esc/"
[ $rc = 0 ] && ! grep -q . "$tmp/ls_escaped_gone.out" && ok "rm -r removed keys with control characters" ||
  not_ok "rm -r of keys with control characters" "$tmp/ls_escaped_gone.out" "$tmp/rm_escaped.err"

# ---- HTTP source ----
mkdir -p "$SLUICE_HTTP_ROOT/cli-$$"
cp "$tmp/12m.bin" "$SLUICE_HTTP_ROOT/cli-$$/f.bin"
run http_cp "$SLUICE" cp "$SLUICE_HTTP_ENDPOINT/cli-$$/f.bin" "$tmp/http.back" --chunk 1MiB --readers 4
expect http_cp 0
same "http -> file with 4 ranged readers" "$tmp/12m.bin" "$tmp/http.back"
run http_write "$SLUICE" cp "$tmp/small.bin" "$SLUICE_HTTP_ENDPOINT/cli-$$/new.bin"
expect http_write 1 "read-only"
rm -rf "${SLUICE_HTTP_ROOT:?}/cli-$$"

# ---- configuration and credentials ----
printf '# test config\nendpoint = %s\nchunk = 5MiB\nconcurrent = 2\n' "$SLUICE_S3_ENDPOINT" >"$tmp/config"
SLUICE_CONFIG=$tmp/config run config env -u AWS_ENDPOINT_URL "$SLUICE" cp "$tmp/12m.bin" "$s3/cfg.bin" --json
expect config 0
[ "$(json_field "$tmp/config.out" parts 2>/dev/null)" = 3 ] && ok "config file settings used (5MiB parts)" ||
  not_ok "config file chunk" "$tmp/config.out"
printf 'chunk = 5MiB\nspeed = fast\n' >"$tmp/badconfig"
run bad_config "$SLUICE" --config "$tmp/badconfig" ls "$s3/"; expect bad_config 3 "config $tmp/badconfig:2: unknown setting 'speed'"
run no_creds env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$SLUICE" cp "$tmp/small.bin" "$s3/nocreds.bin"
expect no_creds 3 "credentials"
run wrong_secret env AWS_SECRET_ACCESS_KEY=not-the-secret-c4f2 "$SLUICE" cp "$tmp/small.bin" "$s3/wrong.bin"
expect wrong_secret 5 "SignatureDoesNotMatch|403"
if grep -rq -e "not-the-secret-c4f2" -e "$SLUICE_S3_SECRET_KEY" "$tmp"/*.err "$tmp"/*.out 2>/dev/null; then
  not_ok "a secret key appears in the command's output"
else ok "no secret key in any output"; fi

# ---- read-only destination ----
mkdir -p "$tmp/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" 2>/dev/null; then
  ro_mount=$tmp/ro
  run read_only "$SLUICE" cp "$tmp/small.bin" "$tmp/ro/x.bin"; expect read_only 5 "Read-only file system"
  umount "$tmp/ro"; ro_mount=
elif [ "$(id -u)" != 0 ]; then
  chmod 555 "$tmp/ro"
  run read_only "$SLUICE" cp "$tmp/small.bin" "$tmp/ro/x.bin"; expect read_only 5 "Permission denied"
else
  echo "# SKIP read-only destination: root here cannot mount a read-only tmpfs"
fi

# ---- a full disk: the error names the path as the user gave it ----
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=1m tmpfs "$tmp/full" 2>/dev/null; then
  ro_mount=$tmp/full
  run disk_full "$SLUICE" cp "$tmp/12m.bin" "$tmp/full/x/out.bin"
  expect disk_full 1 "fs: write '$tmp/full/x/out.bin': No space left on device"
  [ -z "$(ls -A "$tmp/full/x")" ] && ok "disk full: no partial file left" ||
    { ls -la "$tmp/full/x" >"$tmp/full.ls"; not_ok "disk full: files left behind" "$tmp/full.ls"; }
  umount "$tmp/full"; ro_mount=
else
  echo "# SKIP disk full: cannot mount a 1 MiB tmpfs here (needs root)"
fi

# ---- signals: an interrupted upload leaves nothing behind ----
# 12 MiB arrive, then the pipe goes quiet: two 5 MiB parts are on the
# server in an open multipart upload when SIGINT lands.
# The producer goes in a process substitution so that $! and wait are
# about sluice alone, not a pipeline that lasts as long as the sleep.
timeout $T120 "$SLUICE" put "$s3/int/a.bin" --chunk 5MiB --json >"$tmp/sigint.out" 2>"$tmp/sigint.err" \
  < <(head -c $((12 << 20)) "$tmp/12m.bin"; sleep $hold) &
pid=$!
if wait_for "an upload in progress" bash -c '"$1" "$2" | grep -q .' _ "$UPLOADS" "$prefix/int/a.bin"; then
  ok "SIGINT: the multipart upload is open on the server before the signal"
else not_ok "SIGINT: no upload seen in progress" "$tmp/sigint.err"; fi
kill -INT "$pid"
wait "$pid"; rc=$?
pkill -f "sleep $hold" 2>/dev/null
expect sigint 130 "interrupted by SIGINT; the destination was not written \(upload aborted\)"
[ "$(json_field "$tmp/sigint.out" exit_code 2>/dev/null)" = 130 ] && ok "SIGINT: --json says exit_code 130" ||
  not_ok "SIGINT json" "$tmp/sigint.out"
"$UPLOADS" "$prefix/int/" >"$tmp/uploads.out" 2>&1
if [ $? = 0 ] && ! grep -q . "$tmp/uploads.out"; then ok "SIGINT: the multipart upload was aborted on the server"
else not_ok "SIGINT: an upload is still in progress" "$tmp/uploads.out"; fi

# cp -r interrupted: --bwlimit holds each big file's second part back, so
# uploads are open on the server when SIGINT lands; all are aborted.
mkdir -p "$tmp/slowtree"
for i in 1 2 3; do cp "$tmp/12m.bin" "$tmp/slowtree/big$i.bin"; done
cp "$tmp/small.bin" "$tmp/slowtree/small.bin"
timeout 120 "$SLUICE" cp -r --chunk 5MiB --bwlimit 1M "$tmp/slowtree" "$s3/inttree/" \
  >"$tmp/sigint_tree.out" 2>"$tmp/sigint_tree.err" &
pid=$!
if wait_for "a tree upload in progress" bash -c '"$1" "$2" | grep -q .' _ "$UPLOADS" "$prefix/inttree/"; then
  ok "SIGINT cp -r: multipart uploads are open before the signal"
else not_ok "SIGINT cp -r: no upload seen in progress" "$tmp/sigint_tree.err"; fi
kill -INT "$pid"
wait "$pid"; rc=$?
expect sigint_tree 130 "interrupted by SIGINT after [0-9]+ objects; the transfers in flight were aborted"
"$UPLOADS" "$prefix/inttree/" >"$tmp/uploads_tree.out" 2>&1
if [ $? = 0 ] && ! grep -q . "$tmp/uploads_tree.out"; then ok "SIGINT cp -r: every upload was aborted"
else not_ok "SIGINT cp -r: uploads still in progress" "$tmp/uploads_tree.out"; fi
run sigint_stat "$SLUICE" stat "$s3/int/a.bin"; expect sigint_stat 4

# ---- SIGKILL leaves an upload open: sluice uploads finds and aborts it ----
# No timeout(1) in between: SIGKILL must reach sluice itself.  The input
# ends after 60 s, which bounds it anyway.
"$SLUICE" put "$s3/kill/a.bin" --chunk 5MiB 2>"$tmp/sigkill.err" \
  < <(head -c $((12 << 20)) "$tmp/12m.bin"; sleep $hold) &
pid=$!
wait_for "an upload in progress" bash -c '"$1" "$2" | grep -q .' _ "$UPLOADS" "$prefix/kill/a.bin"
{ kill -KILL "$pid"; wait "$pid"; } 2>/dev/null
pkill -f "sleep $hold" 2>/dev/null
"$UPLOADS" "$prefix/kill/" >"$tmp/killed.oracle" 2>&1
run uploads_ls "$SLUICE" uploads ls "$s3/kill/"; expect uploads_ls 0
want_id=$(awk '{print $2}' "$tmp/killed.oracle")
if [ -n "$want_id" ] && [ "$(wc -l <"$tmp/uploads_ls.out")" = 1 ] &&
   grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +$want_id +$prefix/kill/a.bin\$" "$tmp/uploads_ls.out"; then
  ok "uploads ls: the upload SIGKILL left open, with its id and start time"
else not_ok "uploads ls after SIGKILL" "$tmp/killed.oracle" "$tmp/uploads_ls.out"; fi
run uploads_json "$SLUICE" uploads ls --json "$s3/"; expect uploads_json 0
[ "$(json_field "$tmp/uploads_json.out" upload_id 2>/dev/null)" = "$want_id" ] &&
  [ "$(json_field "$tmp/uploads_json.out" path)" = "$prefix/kill/a.bin" ] &&
  ok "uploads ls --json: path and upload_id" || not_ok "uploads ls --json" "$tmp/uploads_json.out"
run uploads_young "$SLUICE" uploads abort --older-than 1d "$s3/kill/"; expect uploads_young 0
[ ! -s "$tmp/uploads_young.out" ] && [ "$("$UPLOADS" "$prefix/kill/")" = "$(cat "$tmp/killed.oracle")" ] &&
  ok "uploads abort --older-than 1d keeps a fresh upload" || not_ok "--older-than 1d aborted" "$tmp/uploads_young.out"
run uploads_bad_id "$SLUICE" uploads abort "$s3/kill/" no-such-upload-id; expect uploads_bad_id 4 "no upload 'no-such-upload-id'"
run uploads_abort "$SLUICE" uploads abort --older-than 0s "$s3/kill/"; expect uploads_abort 0
grep -q "$want_id" "$tmp/uploads_abort.out" && ok "uploads abort prints what it aborted" ||
  not_ok "uploads abort output" "$tmp/uploads_abort.out"
run uploads_after "$SLUICE" uploads ls "$s3/kill/"
"$UPLOADS" "$prefix/kill/" >"$tmp/killed.after" 2>&1
[ $rc = 0 ] && [ ! -s "$tmp/uploads_after.out" ] && [ ! -s "$tmp/killed.after" ] &&
  ok "uploads abort: nothing left on the server" || not_ok "uploads left after abort" "$tmp/killed.after"
run uploads_fs "$SLUICE" uploads ls "$tmp/"; expect uploads_fs 1 "no multipart uploads"
run uploads_usage "$SLUICE" uploads rm "$s3/"; expect uploads_usage 2 "usage: sluice uploads"
run uploads_bad_age "$SLUICE" uploads abort --older-than 3x "$s3/"; expect uploads_bad_age 2 "older-than"

mkdir -p "$tmp/termdst"
timeout $T120 "$SLUICE" put "$tmp/termdst/out.bin" --chunk 1MiB 2>"$tmp/sigterm.err" \
  < <(head -c $((3 << 20)) "$tmp/12m.bin"; sleep $hold) &
pid=$!
wait_for "a temporary file" bash -c '[ -n "$(ls -A "$1")" ]' _ "$tmp/termdst"
kill -TERM "$pid"
wait "$pid"; rc=$?
pkill -f "sleep $hold" 2>/dev/null
expect sigterm 143 "interrupted by SIGTERM"
[ -z "$(ls -A "$tmp/termdst")" ] && ok "SIGTERM: no partial file left" || {
  ls -la "$tmp/termdst" >"$tmp/termdst.ls"; not_ok "SIGTERM: files left behind" "$tmp/termdst.ls"; }

# ---- counts, statuses and dry runs ----
run count_missing "$SLUICE" cp /nonexistent/x mem://y --json; expect count_missing 4
[ "$(json_field "$tmp/count_missing.out" copied)" = 0 ] &&
  [ "$(json_field "$tmp/count_missing.out" failed)" = 1 ] &&
  [ "$(json_field "$tmp/count_missing.out" objects)" = 1 ] &&
  ok "a copy that failed counts as failed, not as copied" ||
  not_ok "failed copy counts" "$tmp/count_missing.out"
# A dry run lists what it would do (--json: one object a line, the path
# exact) and counts it as would-copy/would-delete, never as done.
"$SLUICE" cp "$tmp/small.bin" "$s3/dry/extra.bin" 2>/dev/null
run dry_json "$SLUICE" sync --delete --dry-run --json "$tmp/many" "$s3/dry/"; expect dry_json 0
if /usr/bin/python3 - "$tmp/dry_json.out" "$cafe" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8", errors="surrogateescape")]
*acts, summary = lines
copies = sorted(a["path"] for a in acts if a["action"] == "would_copy")
deletes = [a["path"] for a in acts if a["action"] == "would_delete"]
cafe = sys.argv[2]
assert len(copies) == 122 and "with space/" + cafe in copies, copies[:5]
assert deletes == ["extra.bin"], deletes
assert (summary["would_copy"], summary["would_delete"]) == (122, 1), summary
assert (summary["copied"], summary["deleted"], summary["bytes"]) == (0, 0, 0), summary
assert summary["objects"] == 123, summary
PY
then ok "sync --dry-run --json: 122 would_copy and 1 would_delete lines, none counted as done"
else not_ok "sync --dry-run --json" "$tmp/dry_json.out"; fi
run dry_after "$SLUICE" ls -r "$s3/dry/"; expect dry_after 0
[ "$(awk '{print $3}' "$tmp/dry_after.out")" = extra.bin ] && ok "the dry run changed nothing" ||
  not_ok "dry run wrote" "$tmp/dry_after.out"
# Through tests/servers/checksum-proxy.py, a front end that checks
# x-amz-checksum-* as AWS does and flips a byte of PUT bodies.
start_px() { # FAULT ARGS...: the front end; its endpoint in $px_ep
  rm -f "$tmp/px.port"
  /usr/bin/python3 "$(dirname "$0")/servers/checksum-proxy.py" \
    --target "127.0.0.1:${SLUICE_S3_ENDPOINT##*:}" --port-file "$tmp/px.port" \
    --log "$tmp/px.log" --max-seconds $T120 --access-key "$SLUICE_S3_ACCESS_KEY" \
    --secret-key "$SLUICE_S3_SECRET_KEY" --region "${SLUICE_S3_REGION:-us-east-1}" "$@" &
  px_pid=$!
  wait_for "the front end's port" test -s "$tmp/px.port"
  px_ep=http://127.0.0.1:$(cat "$tmp/px.port")
}
stop_px() { kill "$px_pid" 2>/dev/null; wait "$px_pid" 2>/dev/null; px_pid=; }
mkdir -p "$tmp/flip"
for i in $(seq 1 20); do printf 'flipped on the way %s\n' "$i" >"$tmp/flip/f$i"; done
start_px --corrupt-upload --times 6
run flip_tree "$SLUICE" cp -r --transfers 4 --json --endpoint "$px_ep" "$tmp/flip" "$s3/flip/"
stop_px
expect flip_tree 0
[ "$(json_field "$tmp/flip_tree.out" retries)" = 6 ] && [ "$(json_field "$tmp/flip_tree.out" parts)" = 20 ] &&
  [ "$(json_field "$tmp/flip_tree.out" copied)" = 20 ] &&
  ok "cp -r --json through 6 flipped PUTs: 6 retries, 20 parts" ||
  not_ok "cp -r --json retries and parts ($(grep -c 'FAULT corrupt-upload' "$tmp/px.log") flips)" \
    "$tmp/flip_tree.out"
run flip_back "$SLUICE" cp -r "$s3/flip/" "$tmp/flip.back"; expect flip_back 0
diff -r "$tmp/flip" "$tmp/flip.back" >/dev/null && ok "every flipped object arrived whole" ||
  not_ok "flipped objects differ"
# Every attempt refused (BadDigest): the store rejected what was sent,
# exit 9, never 2 (usage).
start_px --corrupt-upload --times 1000
run refused "$SLUICE" cp --json --endpoint "$px_ep" "$tmp/small.bin" "$s3/refused.bin"
stop_px
expect refused 9 "BadDigest"
[ "$(json_field "$tmp/refused.out" exit_code)" = 9 ] && [ "$(json_field "$tmp/refused.out" copied)" = 0 ] &&
  ok "refused on every attempt: exit 9 in --json too" || not_ok "refused --json" "$tmp/refused.out"
run refused_gone "$SLUICE" stat "$s3/refused.bin"; expect refused_gone 4

# ---- progress ----
# A terminal: the bar, redrawn in place with \r.
script -qfec "timeout $T120 '$SLUICE' cp --chunk 5MiB --concurrent 1 '$tmp/12m.bin' '$s3/bar.bin'" /dev/null \
  >"$tmp/bar.out" 2>&1; rc=$?
if [ $rc = 0 ] && grep -q $'\r' "$tmp/bar.out" && grep -Eq '\[=*>? *\] +[0-9]+% ' "$tmp/bar.out" &&
   grep -Eq 'ring [0-9]+/[0-9]+' "$tmp/bar.out" && grep -Eq 'ETA [0-9-]' "$tmp/bar.out" &&
   grep -q 'done, 12.00 MiB' "$tmp/bar.out"; then ok "progress bar under a pseudo-terminal"
else tr '\r' '\n' <"$tmp/bar.out" >"$tmp/bar.txt"; not_ok "progress bar under a pty" "$tmp/bar.txt"; fi
# Not a terminal: nothing at all.
run no_tty "$SLUICE" cp --chunk 5MiB "$tmp/12m.bin" "$s3/quiet.bin"; expect no_tty 0
[ ! -s "$tmp/no_tty.err" ] && ok "no progress output when stderr is not a terminal" ||
  not_ok "progress output without a terminal" "$tmp/no_tty.err"
# Plain lines for logs: a line per interval, then a last line.
(head -c $((6 << 20)) "$tmp/12m.bin"; sleep 1.5; head -c $((6 << 20)) "$tmp/12m.bin") |
  timeout $T120 "$SLUICE" put --chunk 5MiB --progress=plain --progress-interval 0.2 "$s3/plain.bin" \
  2>"$tmp/plain.err"; rc=$?
lines=$(grep -Ec "^sluice: - -> $s3/plain.bin: [0-9.]+ (B|KiB|MiB), [0-9.]+ (B|KiB|MiB)/s, [0-9]+ in flight, ring [0-9]+/[0-9]+$" "$tmp/plain.err")
if [ $rc = 0 ] && [ "$lines" -ge 3 ] && tail -n 1 "$tmp/plain.err" | grep -q "done, 12.00 MiB in"; then
  ok "--progress=plain: $lines progress lines and a last line"
else not_ok "--progress=plain ($lines lines)" "$tmp/plain.err"; fi

# ---- downloads checked on a store without CRCs (Swift, as MinIO, Ceph...) ----
# The front end (start_px) --plain, as such a store: it flips one byte of
# the first GET replies whose request line matches.  A copy, cat or cp -r
# must fail, not write it.
run up_flip "$SLUICE" cp --chunk 5MiB "$tmp/12m.bin" "$s3/etag/multi.bin"; expect up_flip 0
run up_flip1 "$SLUICE" cp "$tmp/small.bin" "$s3/etag/one.bin"; expect up_flip1 0
# A file destination is written once more after a mismatch; a second
# flip on every GET fails the copy and leaves no file.
start_px --plain --corrupt-download --match '^GET .*etag/multi.bin'
run flip_cp1 "$SLUICE" cp --endpoint "$px_ep" "$s3/etag/multi.bin" "$tmp/flip1.bin" --json
expect flip_cp1 0
same "a flip is fetched again: byte-identical" "$tmp/12m.bin" "$tmp/flip1.bin"
[ "$(json_field "$tmp/flip_cp1.out" retries)" -ge 1 ] && ok "the second fetch is counted as a retry" ||
  not_ok "the second fetch is not counted" "$tmp/flip_cp1.out"
stop_px
start_px --plain --corrupt-download --times 9 --match '^GET .*etag/multi.bin'
run flip_cp "$SLUICE" cp --endpoint "$px_ep" "$s3/etag/multi.bin" "$tmp/flip.bin" --json
expect flip_cp 8 "does not match the object's ETag"
[ ! -e "$tmp/flip.bin" ] && ok "a flipped download leaves no file" || not_ok "a flipped download left a file"
[ "$(json_field "$tmp/flip_cp.out" copied)" = 0 ] && ok "a flipped download is not counted as copied" ||
  not_ok "a flipped download counted as copied" "$tmp/flip_cp.out"
stop_px
start_px --plain --corrupt-download --match '^GET .*etag/multi.bin'
timeout $T120 "$SLUICE" cat --endpoint "$px_ep" "$s3/etag/multi.bin" >"$tmp/flip_cat.out" 2>"$tmp/flip_cat.err"
rc=$?; expect flip_cat 8 "does not match the object's ETag"
stop_px
# A tree copies an object once more after a mismatch, and an object read
# in one GET is fetched twice each time: four flips in a row fail that
# object only.
start_px --plain --corrupt-download --times 4 --match '^GET .*etag/one.bin'
run etag_tree "$SLUICE" cp -r --endpoint "$px_ep" "$s3/etag/" "$tmp/etagtree/" --json
expect etag_tree 8 "one.bin: .*does not match the object's ETag"
[ -f "$tmp/etagtree/multi.bin" ] && [ ! -e "$tmp/etagtree/one.bin" ] &&
  ok "cp -r: the flipped object fails, the other is copied" || not_ok "cp -r with a flip" "$tmp/etag_tree.err"
stop_px
run check_ok "$SLUICE" cp "$s3/etag/multi.bin" "$tmp/flipok.bin" --json; expect check_ok 0
same "a checked multipart download is byte-identical" "$tmp/12m.bin" "$tmp/flipok.bin"
[ "$(json_field "$tmp/check_ok.out" verified)" = etag-md5 ] && ok "--json: verified etag-md5" ||
  not_ok "--json verified of a multipart download" "$tmp/check_ok.out"
run check_one "$SLUICE" cp "$s3/etag/one.bin" "$tmp/flipone.bin" --json --verify required
expect check_one 0
[ "$(json_field "$tmp/check_one.out" verified)" = md5 ] && ok "--json: verified md5" ||
  not_ok "--json verified of a single-part download" "$tmp/check_one.out"
run check_tree "$SLUICE" cp -r "$s3/etag/" "$tmp/etagtree2/" --json; expect check_tree 0
python3 -c 'import json,sys; v=json.loads(open(sys.argv[1]).read().splitlines()[-1])["verified"]; sys.exit(v != {"md5": 1, "etag-md5": 1})' \
  "$tmp/check_tree.out" && ok "--json of cp -r counts each kind of check" ||
  not_ok "--json verified of cp -r" "$tmp/check_tree.out"
run bad_verify "$SLUICE" cp --verify always "$s3/etag/one.bin" "$tmp/x"; expect bad_verify 2 "verify"

echo "# test_cli.sh: $pass passed, $failed failed"
[ "$failed" = 0 ]
