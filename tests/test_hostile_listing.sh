#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A listing is untrusted input: the sluice command against a hostile S3
# endpoint (tests/servers/hostile-list.py, started here on a free loopback
# port) that lists keys outside the prefix asked for, "..", "//", ".", a
# leading '/', C0 and C1 controls, bytes that are not UTF-8, a newline, a
# 4 KiB key, a key twice and keys going backwards.  Checks, with the real
# command (cp -r, sync, rm -r, ls): nothing is written outside the
# destination or under a name nobody asked for, nothing outside a prefix is
# deleted, refused keys are failed objects (exit 8) or refuse the listing,
# and no raw control byte or invalid UTF-8 reaches stdout or stderr.
# Prints "ok"/"not ok" lines; exits 1 if any check failed, 77 (skip)
# without Debian's python3.  Every command runs under timeout(1), x
# $SLUICE_TIMEOUT_SCALE (10 with SLUICE_SANITIZED=1).
set -u
builddir=$(cd "${top_builddir:-.}" && pwd)
srcdir=$(cd "${top_srcdir:-.}" && pwd)
SLUICE=$builddir/tools/sluice
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY is missing"; exit 77; }
tscale=${SLUICE_TIMEOUT_SCALE:-1}
[ -z "${SLUICE_TIMEOUT_SCALE:-}" ] && [ "${SLUICE_SANITIZED:-0}" = 1 ] && tscale=10
T60=$((60 * tscale))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-hostile.XXXXXX")
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PY" "$srcdir/tests/servers/hostile-list.py" --port-file "$tmp/port" --log "$tmp/requests.log" \
  --max-seconds $((600 * tscale)) &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "not ok - the hostile server did not start"; exit 1; }

# No config file or AWS profile of the machine's user may leak in.
export HOME=$tmp/home
mkdir -p "$HOME"
unset SLUICE_CONFIG XDG_CONFIG_HOME AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
  AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=hostile AWS_SECRET_ACCESS_KEY=hostile AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$tmp/port")

pass=0 failed=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() {
  echo "not ok - $1"
  shift
  for f in "$@"; do [ -f "$f" ] && sed 's/^/    /' "$f" | cat -v | tail -n 15; done
  failed=$((failed + 1))
}

# Whether FILE holds only what a terminal shows as text: UTF-8 without C0
# controls (but the newline ending a line), DEL or C1 controls.
raw_free() {
  "$PY" - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read()
try:
    text = data.decode('utf-8')
except UnicodeDecodeError as e:
    sys.exit('raw byte 0x%02x that is not UTF-8 at offset %d' % (data[e.start], e.start))
m = re.search('[\x00-\x09\x0b-\x1f\x7f-\x9f]', text)
if m:
    sys.exit('raw control U+%04X at offset %d' % (ord(m.group()), m.start()))
EOF
}

# run NAME STATUS CMD...: runs CMD (stdout in NAME.out, stderr in NAME.err),
# checks its exit status (STATUS: one, or "1|8") and that neither output
# carries a raw control.
run() {
  local name=$1 want=$2 f why
  shift 2
  timeout $T60 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
  if ! [[ $rc =~ ^($want)$ ]]; then
    not_ok "$name: exit $rc, want $want" "$tmp/$name.err"
  else
    ok "$name (exit $want)"
  fi
  for f in out err; do
    if why=$(raw_free "$tmp/$name.$f" 2>&1); then
      ok "$name: std$f holds no raw control byte"
    else
      not_ok "$name: std$f: $why" "$tmp/$name.$f"
    fi
  done
}
# expect_err NAME REGEX: NAME's stderr matches REGEX.
expect_err() {
  if grep -Eq -- "$2" "$tmp/$1.err"; then ok "$1: stderr says /$2/"; else
    not_ok "$1: stderr does not match /$2/" "$tmp/$1.err"; fi
}
# files_are NAME DIR PATH...: DIR holds exactly the files PATH... (sorted).
files_are() {
  local name=$1 dir=$2 got want
  shift 2
  got=$(cd "$dir" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
  want=$(printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort)
  if [ "$got" = "$want" ]; then ok "$name: only the names asked for"; else
    not_ok "$name: files are [$(echo $got | cat -v)], want [$(echo $want)]"; fi
}
# untouched NAME: nothing was written beside the destinations ($tmp/out/x/y/).
untouched() {
  local extra
  extra=$(cd "$tmp/out" && find . -mindepth 1 -maxdepth 2 ! -name x ! -path ./x/y | cat -v)
  if [ -z "$extra" ] && [ ! -e /abs.txt ]; then ok "$1: nothing outside the destination"; else
    not_ok "$1: written outside the destination: $extra"; fi
}
# requests NAME REGEX: the count of requests matching REGEX is 0.
no_requests() {
  local n
  n=$(grep -Ec -- "$2" "$tmp/requests.log")
  if [ "$n" = 0 ]; then ok "$1: no request matches /$2/"; else
    not_ok "$1: $n requests match /$2/" "$tmp/requests.log"; fi
}
fresh() { rm -rf "$tmp/out"; mkdir -p "$tmp/out/x/y/dest"; }
dest=$tmp/out/x/y/dest

# ---- keys outside the prefix asked for ----
fresh
run outside_cp 1 "$SLUICE" cp -r s3://outside/sub/ "$dest/"
expect_err outside_cp "listing of 'sub/' holds 'ok\.txt', which is not under it"
files_are outside_cp "$dest"
untouched outside_cp
fresh
run outside_sync 1 "$SLUICE" sync s3://outside/sub/ "$dest/"
files_are outside_sync "$dest"
run outside_ls 1 "$SLUICE" ls s3://outside/sub/
run outside_ls_r 1 "$SLUICE" ls -r s3://outside/sub/
: >"$tmp/requests.log"
run outside_rm "1|8" "$SLUICE" rm -r s3://outside/sub/
no_requests outside_rm '^(DELETE|POST) '
# A sync's destination lists keys outside its prefix: with --delete, not one
# is deleted, and nothing is sent on a listing that is refused.
mkdir -p "$tmp/src"
echo local >"$tmp/src/keep.txt"
: >"$tmp/requests.log"
run outside_dst_sync 1 "$SLUICE" sync --delete "$tmp/src/" s3://dst/sub/
expect_err outside_dst_sync "holds 'ok\.txt', which is not under it"
no_requests outside_dst_sync '^(DELETE|POST|PUT) '

# ---- names a file tree cannot hold, or that drive terminals ----
asked=(plain.txt dir/plain2.txt 'back\slash.txt')
fresh
run names_cp 8 "$SLUICE" cp -r s3://names/ "$dest/"
files_are names_cp "$dest" "${asked[@]}"
untouched names_cp
expect_err names_cp '^sluice: cp s3://names/nl\\nforged\.txt: injected line: '
expect_err names_cp "names/c1\\\\302\\\\23331m\.txt: fs: write '.*' is not a name to create"
expect_err names_cp "fs: write '.*/c1dir\\\\302\\\\233/x\.txt': 'c1dir\\\\302\\\\233' is not a name"
expect_err names_cp "names/bad\\\\377\\\\376\.txt: fs: write"
expect_err names_cp "names/\.\./escape\.txt: .*cannot hold this name"
expect_err names_cp "names/a//double\.txt: .*cannot hold this name"
if grep -q '^forged' "$tmp/names_cp.err"; then
  not_ok "names_cp: a key forged a line of stderr" "$tmp/names_cp.err"
else ok "names_cp: no key forges a line of stderr"; fi
fresh
run names_sync 8 "$SLUICE" sync s3://names/ "$dest/"
files_are names_sync "$dest" "${asked[@]}"
untouched names_sync
# A dry run decides from the listing alone: what the destination refuses
# only a real run finds, but the plan it prints is escaped.
fresh
run names_dry_run 0 "$SLUICE" cp -r --dry-run s3://names/ "$dest/"
files_are names_dry_run "$dest"
if grep -qF 'would copy esc\033[31mred.txt' "$tmp/names_dry_run.out"; then
  ok "names_dry_run: the key is escaped as ls prints it"
else not_ok "names_dry_run: no escaped 'would copy' line" "$tmp/names_dry_run.out"; fi
run names_ls 0 "$SLUICE" ls s3://names/
run names_ls_r 0 "$SLUICE" ls -r s3://names/
run names_ls_json 0 "$SLUICE" ls --json s3://names/dir/
# --json is exact: keys that are not UTF-8 pass as they are (JSON cannot
# carry them), but every control is a \u escape and a JSON reader gets the
# key back.
timeout $T60 "$SLUICE" ls --json s3://names/ >"$tmp/ls_json_all.out" 2>&1
if why=$("$PY" - "$tmp/ls_json_all.out" 2>&1 <<'PYEOF'
import json, re, sys
data = open(sys.argv[1], 'rb').read()
m = re.search(rb'[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]', data)
if m:
    sys.exit('raw control %r at offset %d' % (m.group(), m.start()))
paths = [json.loads(l.decode('utf-8', 'surrogateescape'))['path'] for l in data.splitlines()]
if 'c1\u009b31m.txt' not in paths or 'esc\x1b[31mred.txt' not in paths:
    sys.exit('keys not read back exactly: %r' % paths)
PYEOF
); then ok "ls --json: controls as \\u escapes, the keys exact"; else
  not_ok "ls --json: $why" "$tmp/ls_json_all.out"; fi
run names_json 8 "$SLUICE" cp -r --json s3://names/ "$dest/"
# The single-object path to the same refusal.
fresh
run c1_single 2 "$SLUICE" cp "s3://names/c1$(printf '\302\233')31m.txt" "$dest/"
expect_err c1_single "is not a name to create: it holds a C1 control"
files_are c1_single "$dest"

# ---- a leading '/' (a listing of the whole bucket) ----
fresh
run lead_cp 8 "$SLUICE" cp -r s3://lead/ "$dest/"
files_are lead_cp "$dest" plain.txt
untouched lead_cp
expect_err lead_cp "'/abs\.txt'.*cannot hold this name"

# ---- listings out of order: refused (1), or 8 when what came before the
# bad key was copied before the refusal stopped the job ----
fresh
run repeat_cp "1|8" "$SLUICE" cp -r s3://repeat/ "$dest/"
expect_err repeat_cp "the listing of '' repeats a key \('b\.txt' after 'b\.txt'\)"
fresh
run backwards_cp "1|8" "$SLUICE" cp -r s3://backwards/ "$dest/"
expect_err backwards_cp "goes backwards, not in byte order \('b\.txt' after 'c\.txt'\)"
fresh
run backwards_sync "1|8" "$SLUICE" sync s3://backwards/ "$dest/"
fresh
run nul_cp 1 "$SLUICE" cp -r s3://nul/ "$dest/"
files_are nul_cp "$dest"

echo "# $pass passed, $failed failed"
[ $failed = 0 ]
