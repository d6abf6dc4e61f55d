# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by bench/run and the case scripts (sourced).  Globals set by run:
#   WORK (scratch dir), RESULTS (the TSV every measurement appends to),
#   RUNS, TIMEOUT (seconds one command may take), QUICK (0/1).

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

MIB=$((1024 * 1024))

# size_bytes 64M|1G|256K|123: bytes
size_bytes() {
  local n=${1%[KMG]}
  case $1 in
    *K) echo $((n * 1024)) ;;
    *M) echo $((n * MIB)) ;;
    *G) echo $((n * 1024 * MIB)) ;;
    *) echo "$1" ;;
  esac
}

# random_file PATH BYTES: random bytes, made once and reused by later runs
random_file() {
  [ "$(stat -c %s "$1" 2>/dev/null || echo -1)" = "$2" ] && return 0
  head -c "$2" /dev/urandom > "$1.tmp"
  mv "$1.tmp" "$1"
}

# rotate N WORD...: the words, starting at the (N mod count)-th, so that no
# tool always runs first (right after the page cache or the server settled)
rotate() {
  local n=$1; shift
  local k=$((n % $#)) i
  for ((i = 0; i < $#; i++)); do
    local j=$(((i + k) % $# + 1))
    printf '%s\n' "${!j}"
  done
}

# measure SECTION CASE SERVER TOOL RUN BYTES STDIN -- CMD...
# Runs CMD once (stdin from the file STDIN, or /dev/null for "-"; stdout to
# /dev/null, or to the file MEASURE_OUT when set; stderr to WORK/stderr.out)
# under /usr/bin/time and `timeout`, and appends a TSV row:
#   section case server tool run bytes wall_s user_s sys_s maxrss_kib status note load
# (load: the 1-minute load average as the command started, to show when
# something else was using the machine)
# Wall time comes from the monotonic clock around the command (time's %e has
# 10 ms steps); CPU and peak RSS from time (the child's getrusage).  A failed
# command is recorded with its exit status and the last line it printed;
# measure itself returns 0 unless the harness is broken.
measure() {
  local section=$1 case=$2 server=$3 tool=$4 run=$5 bytes=$6 in=$7
  shift 8
  local tf=$WORK/time.out ef=$WORK/stderr.out t0 t1 rc=0 note="" load
  [ "$in" = - ] && in=/dev/null
  read -r load _ < /proc/loadavg
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$tf" timeout -k 5 "$TIMEOUT" "$@" < "$in" > "${MEASURE_OUT:-/dev/null}" 2> "$ef" || rc=$?
  t1=$(date +%s%N)
  local user sys rss
  read -r user sys rss < <(tail -n 1 "$tf") || die "no /usr/bin/time output for $tool $case"
  [[ $rss =~ ^[0-9]+$ ]] || die "cannot parse /usr/bin/time output: $(tail -n 1 "$tf")"
  if [ $rc != 0 ]; then
    note=$(grep -v '^\s*$' "$ef" | tail -n 1 | tr '\t' ' ' | cut -c1-200)
    [ $rc = 124 ] && note="timeout after ${TIMEOUT}s"
    log "FAIL $section/$case/$server/$tool (exit $rc): $note"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$case" "$server" "$tool" \
    "$run" "$bytes" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" \
    "$user" "$sys" "$rss" "$rc" "$note" "$load" >> "$RESULTS"
}
