# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers shared by swift-s3api.sh and nginx-http.sh (sourced, not run).
# Everything here logs to stderr: the scripts' stdout carries only the env
# file path.
#
# Process records: "<pid> <starttime>" in a pid file, starttime being field 22
# of /proc/<pid>/stat, so that a stale pid file whose pid was reused by some
# unrelated process is never acted upon.  Every long-running process is
# started with setsid, so its pid is also its process-group id and the whole
# group (server + its forked workers) can be swept at stop.

SERVERS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVERS_PY=/usr/bin/python3   # Debian's python (python3-swift lives there), not a pyenv shim

servers_log() { printf '%s: %s\n' "${SERVERS_NAME:-servers}" "$*" >&2; }
servers_die() { servers_log "$*"; exit 1; }
# SLUICE_SERVERS_DEBUG=1: phase timings on stderr
servers_debug() { [ "${SLUICE_SERVERS_DEBUG:-0}" = 1 ] && servers_log "[$(date +%T.%3N)] $*"; return 0; }

# servers_base: parent directory of the state directories
servers_base() {
  local b=${SLUICE_SERVERS_DIR:-${TMPDIR:-/tmp}}
  mkdir -p "$b" && (cd "$b" && pwd)
}

# now_ms: milliseconds since the epoch
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }

# ensure_packages PKG...: install the Debian packages that are missing.
# Fast path: one dpkg-query.  Slow path (once per machine): apt-get update,
# then apt-get install -y, serialised by a lock so that concurrent starts do
# not fight over dpkg.  SLUICE_SERVERS_NO_INSTALL=1 turns installing off.
_missing_packages() {
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [ "${st:0:2}" = ii ] || printf '%s ' "$p"
  done
}
ensure_packages() {
  local missing sudo=
  missing=$(_missing_packages "$@")
  [ -z "$missing" ] && return 0
  [ "${SLUICE_SERVERS_NO_INSTALL:-0}" = 1 ] &&
    servers_die "missing Debian packages: $missing(SLUICE_SERVERS_NO_INSTALL=1)"
  command -v apt-get >/dev/null || servers_die "missing packages $missing and no apt-get"
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"
    else servers_die "missing Debian packages: $missing(run as root: apt-get install -y $missing)"; fi
  fi
  (
    # lock on this (read-only) file: no lock file is left behind
    flock -w 900 9 || servers_die "timeout waiting for the package install lock"
    missing=$(_missing_packages "$@")   # another start may have installed them
    [ -z "$missing" ] && exit 0
    servers_log "installing Debian packages: $missing"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >&2 ||
      servers_log "apt-get update failed; trying the install anyway"
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 \
      install -y --no-install-recommends $missing >&2 ||
      servers_die "apt-get install $missing failed"
  ) 9<"$SERVERS_LIB_DIR/common.sh" || exit 1
  missing=$(_missing_packages "$@")
  [ -z "$missing" ] || servers_die "still missing after install: $missing"
}

# free_ports N: N distinct loopback TCP ports that are free right now, one per
# line.  Random picks in 20000-40000 outside the kernel's ephemeral range (so
# that an outgoing connection cannot grab the port between this test and the
# server's bind), each bind-tested; all are held until all are found.
free_ports() {
  "$SERVERS_PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
try:
    elo, ehi = map(int, open('/proc/sys/net/ipv4/ip_local_port_range').read().split())
except Exception:
    elo, ehi = 32768, 60999
cands = [p for p in range(20000, 40001) if not elo <= p <= ehi] or list(range(20000, 40001))
held, ports = [], []
for _ in range(5000):
    p = random.choice(cands)
    if p in ports:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', p))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
    if len(ports) == n:
        break
if len(ports) < n:
    sys.exit('no free loopback ports found')
print('\n'.join(map(str, ports)))
EOF
}

# proc_start PID: the process's start time (clock ticks since boot); fails if
# there is no such process or it is a zombie (exited, not reaped: on machines
# whose pid 1 does not reap orphans, stopped servers stay as zombies)
proc_start() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }                       # drop "pid (comm) " (comm may hold spaces)
  # shellcheck disable=SC2086
  set -- $s
  [ "$1" != Z ] || return 1         # field 3: state
  echo "${20}"                      # field 22: starttime
}

# record_pid FILE PID
record_pid() { echo "$2 $(proc_start "$2")" > "$1"; }

# pidfile_alive FILE: prints the pid if the recorded process is still that process
pidfile_alive() {
  local pid st cur
  [ -f "$1" ] || return 1
  read -r pid st < "$1" || true
  [ -n "$pid" ] || return 1
  cur=$(proc_start "$pid") || return 1
  [ -z "$st" ] || [ "$st" = "$cur" ] || return 1
  echo "$pid"
}

# group_members PGID: pids of the live (non-zombie) processes in that group
group_members() { ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'; }

# stop_pidfiles SIGNAL FILE...: signal every recorded process that is still
# alive (and, once it is gone, whatever remains of its process group), wait
# up to 10 s, then SIGKILL the groups.  Only processes recorded by start, or
# members of the process groups they lead, are ever signalled.
stop_pidfiles() {
  local sig=$1; shift
  local f pid pids=() left
  for f in "$@"; do
    pid=$(pidfile_alive "$f") || pid=
    if [ -n "$pid" ]; then
      pids+=("$pid"); kill "-$sig" "$pid" 2>/dev/null || true
    elif [ -f "$f" ]; then
      # leader gone: its group id cannot have been reused while members remain
      read -r pid _ < "$f" || true
      [ -n "$pid" ] && [ -n "$(group_members "$pid")" ] && pids+=("$pid")
    fi
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  for _ in $(seq 1 100); do
    left=0
    for pid in "${pids[@]}"; do
      [ -n "$(group_members "$pid")" ] && left=1
    done
    [ $left = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if [ -n "$(group_members "$pid")" ]; then
      servers_log "process group $pid did not exit on SIG$sig; SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  for _ in $(seq 1 50); do
    left=0
    for pid in "${pids[@]}"; do [ -n "$(group_members "$pid")" ] && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.1
  done
  servers_log "some processes survived SIGKILL: ${pids[*]}"
  return 1
}

# run_supervised DIR [supervise.py options] -- CMD...: run CMD under the
# instance's supervisor (see supervise.py); returns CMD's status
run_supervised() {
  local dir=$1; shift
  "$SERVERS_PY" "$SERVERS_LIB_DIR/supervise.py" --state "$dir" \
    --ttl "${SLUICE_SERVERS_TTL:-3600}" --owner "${SLUICE_SERVERS_OWNER_PID:-0}" \
    --stop "$SELF" "$@"
}

# stop_supervisor DIR: once the servers are gone the supervisor exits by
# itself (within 0.2 s); wait for that, SIGTERM it after 3 s
stop_supervisor() {
  local pid
  for _ in $(seq 1 30); do
    pid=$(pidfile_alive "$1/run/supervisor.pid") || return 0
    sleep 0.1
  done
  stop_pidfiles TERM "$1/run/supervisor.pid"
}
