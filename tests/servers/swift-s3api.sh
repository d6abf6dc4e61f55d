#!/bin/bash
# SPDX-License-Identifier: MIT
# OpenStack Swift (Debian 12 packages, 2.30) with the s3api middleware and
# tempauth, on 127.0.0.1 only, as a real S3-compatible server for the tests.
#
# usage:
#   envfile=$(tests/servers/swift-s3api.sh start)   # stdout: the env file path only
#   tests/servers/swift-s3api.sh stop [STATE_DIR]   # default: $SLUICE_S3_STATE
#   tests/servers/swift-s3api.sh env                # env files of running instances
#
# The env file holds plain KEY=VALUE lines (no quoting; paths never contain
# spaces): SLUICE_S3_ENDPOINT=http://127.0.0.1:PORT, SLUICE_S3_REGION=us-east-1,
# SLUICE_S3_BUCKET, SLUICE_S3_ACCESS_KEY=test:tester, SLUICE_S3_SECRET_KEY=testing,
# SLUICE_S3_STATE=<state dir>, and SLUICE_S3_NETRC=<netrc for curl --netrc-file>
# (the access key holds a colon, so `curl -u` cannot carry it).
#
# TEST DRIVERS MUST STOP WHAT THEY START, in a trap, e.g.
#   envfile=$(tests/servers/swift-s3api.sh start) || exit 99   # 99 = hard error
#   set -a; . "$envfile"; set +a
#   trap 'tests/servers/swift-s3api.sh stop "$SLUICE_S3_STATE"' EXIT
#   trap 'exit 130' INT TERM
# Safety net for drivers that die without running their trap: the instance's
# supervisor (supervise.py, which also reaps the servers) stops it after
# $SLUICE_SERVERS_TTL seconds (default 3600; 0 = never) and, if
# $SLUICE_SERVERS_OWNER_PID is set, as soon as that process is gone (a driver
# exports its own $$ there before calling start).
#
# Every run gets its own state directory (mktemp -d under $SLUICE_SERVERS_DIR,
# default $TMPDIR or /tmp) holding configs, rings, data, logs and pid files,
# and its own free loopback ports (proxy, account, container, object,
# memcached), so instances can run side by side.
# stop signals only the processes recorded in that directory's pid files (and
# the process groups they lead), waits for them, and removes the directory.
#
# Other knobs: SLUICE_S3_BUCKET (default sluice-test), SLUICE_SWIFT_PROXY_WORKERS
# (default 1), SLUICE_SERVERS_TIMEOUT (readiness bound, default 30 s),
# SLUICE_SERVERS_NO_INSTALL=1 (never apt-get install; fail if packages miss).
#
# Notes: swift 2.30 reads the hash prefix/suffix from /etc/swift/swift.conf
# (hard-coded path, shipped by the Debian package, read-only here); all the
# rest lives in the state directory.  The object server keeps metadata in
# user.* xattrs, which the state directory's filesystem must support.
set -euo pipefail
SERVERS_NAME=swift-s3api
SELF=$(readlink -f "$0")
# shellcheck source=common.sh
. "$(dirname "$SELF")/common.sh"

PKGS="swift swift-proxy swift-object swift-container swift-account python3-swift memcached curl"
SERVERS="proxy-server object-server container-server account-server"
MARK=.sluice-swift-s3api
AK_ACCOUNT=test AK_USER=tester SK=testing
AK=$AK_ACCOUNT:$AK_USER
REGION=us-east-1

usage() { sed -n '2,9p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------------------
write_configs() {  # uses DIR PORT ACC_PORT CONT_PORT OBJ_PORT MC_PORT LOG_CONF
  local etc=$DIR/etc user
  user=$(id -un)
  common() {  # bind port, workers
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
bind_timeout = 3
workers = $2
user = $user
swift_dir = $etc
devices = $DIR/srv/node
mount_check = false
recon_cache_path = $DIR/cache
$LOG_CONF
log_level = INFO
EOF
  }
  local s
  for s in account container object; do
    local port=$ACC_PORT
    [ $s = container ] && port=$CONT_PORT
    [ $s = object ] && port=$OBJ_PORT
    { common "$port" 1; cat <<EOF
[pipeline:main]
pipeline = healthcheck $s-server
[app:$s-server]
use = egg:swift#$s
[filter:healthcheck]
use = egg:swift#healthcheck
EOF
    } > "$etc/$s-server.conf"
  done
  { common "$PORT" "${SLUICE_SWIFT_PROXY_WORKERS:-1}"; cat <<EOF
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = $REGION
# S3's limits (swift's defaults: 1000 parts)
max_upload_part_num = 10000
min_segment_size = 5242880

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_${AK_ACCOUNT}_${AK_USER} = $SK .admin

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000
[filter:dlo]
use = egg:swift#dlo
[filter:copy]
use = egg:swift#copy
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT
[filter:listing_formats]
use = egg:swift#listing_formats
EOF
  } > "$etc/proxy-server.conf"
}

# launch NAME CMD...: start detached in its own session (pid = pgid), record it
launch() {
  local name=$1; shift
  setsid nohup "$@" > "$DIR/log/$name.log" 2>&1 < /dev/null &
  record_pid "$DIR/run/$name.pid" $!
}

stop_processes() {  # DIR
  local files=() n
  for n in $SERVERS memcached; do files+=("$1/run/$n.pid"); done
  stop_pidfiles TERM "${files[@]}"
}

# one attempt with fresh ports; 0 = up, 2 = port conflict (retry), 1 = failure
start_attempt() {
  local ports deadline n up pid
  rm -rf "${DIR:?}/etc" "$DIR/srv" "$DIR/cache"
  rm -f "$DIR"/run/*-server.pid "$DIR/run/memcached.pid" "$DIR"/log/*-server.log "$DIR/log/memcached.log"
  mkdir -p "$DIR/etc" "$DIR/srv/node/d1" "$DIR/cache" || return 1
  ports=$(free_ports 5) || return 1
  # shellcheck disable=SC2086
  set -- $ports
  PORT=$1 ACC_PORT=$2 CONT_PORT=$3 OBJ_PORT=$4 MC_PORT=$5

  servers_debug "ports $PORT $ACC_PORT $CONT_PORT $OBJ_PORT $MC_PORT"
  write_configs
  # rings: 1 replica, 1 device, partition power 8, written directly in
  # swift's ring format v1 (what RingBuilder(8, 1, 1).get_ring().save() writes
  # for that one device; importing swift for it costs about a second)
  "$SERVERS_PY" - "$DIR/etc" "$ACC_PORT" "$CONT_PORT" "$OBJ_PORT" <<'EOF' >"$DIR/log/rings.log" 2>&1 || { servers_log "ring build failed"; cat "$DIR/log/rings.log" >&2; return 1; }
import gzip, json, os, struct, sys
etc = sys.argv[1]
for name, port in (('account', sys.argv[2]), ('container', sys.argv[3]),
                   ('object', sys.argv[4])):
    meta = json.dumps({'byteorder': sys.byteorder, 'part_shift': 32 - 8,
                       'replica_count': 1, 'version': 1,
                       'devs': [{'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
                                 'port': int(port), 'device': 'd1', 'weight': 100.0,
                                 'meta': ''}]}, sort_keys=True).encode('ascii')
    with gzip.open('%s/%s.ring.gz' % (etc, name), 'wb') as f:
        f.write(struct.pack('!4sHI', b'R1NG', 1, len(meta)) + meta)
        f.write(bytes(2 * 2 ** 8))      # replica 0: every partition on device 0 (uint16)
# the object server keeps metadata in user.* xattrs
p = os.path.join(etc, '..', 'srv', 'node', 'd1', '.xattr-test')
open(p, 'w').close()
try:
    os.setxattr(p, 'user.swift.metadata', b'x' * 254)
except OSError as e:
    sys.exit('user xattrs do not work under %s: %s' % (os.path.dirname(p), e))
finally:
    os.unlink(p)
EOF

  servers_debug "rings written"
  local mcuser=()
  [ "$(id -u)" = 0 ] && mcuser=(-u root)
  launch memcached memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 "${mcuser[@]}"
  for n in account container object proxy; do
    launch "$n-server" "swift-$n-server" "$DIR/etc/$n-server.conf" -v
  done

  servers_debug "servers launched"
  deadline=$(( $(now_ms) + ${SLUICE_SERVERS_TIMEOUT:-30} * 1000 ))
  local last=-1
  while :; do
    # one curl for the four healthchecks (keeps the polling cheap: the
    # servers' start is CPU-bound, about 1 CPU-s each)
    up=$(curl -s --max-time 2 -w '%{http_code}\n' \
           -o /dev/null "http://127.0.0.1:$ACC_PORT/healthcheck" -o /dev/null "http://127.0.0.1:$CONT_PORT/healthcheck" \
           -o /dev/null "http://127.0.0.1:$OBJ_PORT/healthcheck" -o /dev/null "http://127.0.0.1:$PORT/healthcheck" |
         grep -c '^200$') || true
    [ "$up" != "$last" ] && servers_debug "$up/4 healthchecks answer" && last=$up
    [ "$up" = 4 ] && break
    for n in $SERVERS memcached; do
      if ! pid=$(pidfile_alive "$DIR/run/$n.pid"); then
        servers_log "$n exited during startup"
        grep -qsE 'Address already in use|Could not bind' "$DIR/log/$n.log" && return 2
        return 1
      fi
    done
    if [ "$(now_ms)" -gt "$deadline" ]; then
      servers_log "not ready after ${SLUICE_SERVERS_TIMEOUT:-30} s"
      return 1
    fi
    sleep 0.1
  done
  pidfile_alive "$DIR/run/memcached.pid" >/dev/null || {
    grep -qs 'Address already in use' "$DIR/log/memcached.log" && return 2
    servers_log "memcached exited"; return 1; }
  return 0
}

show_logs() {
  local f
  for f in "$DIR"/log/*.log; do
    [ -s "$f" ] || continue
    printf '==> %s (last lines) <==\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
}

on_start_exit() {
  local rc=$1
  [ "$rc" = 0 ] && return 0
  if [ -n "${DIR:-}" ] && [ -d "$DIR" ]; then
    servers_log "start failed (status $rc); stopping what was started"
    show_logs
    stop_processes "$DIR" || true
    # the supervisor leaves by itself once its children are gone
    if [ "${SLUICE_SERVERS_KEEP_FAILED:-0}" = 1 ]; then
      servers_log "start failed; state kept in $DIR"
    else
      rm -rf "$DIR"
    fi
  fi
  return 0
}

cmd_start() {
  local t0 base
  t0=$(now_ms)
  BUCKET=${SLUICE_S3_BUCKET:-sluice-test}
  [[ $BUCKET =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || servers_die "bad bucket name: $BUCKET"
  # shellcheck disable=SC2086
  ensure_packages $PKGS
  [ -f /etc/swift/swift.conf ] || servers_die "/etc/swift/swift.conf missing (it comes with Debian's swift package)"
  base=$(servers_base) || servers_die "cannot create ${SLUICE_SERVERS_DIR:-}"
  case $base in *[[:space:]]*) servers_die "state directory path must not contain spaces: $base" ;; esac
  DIR=$(mktemp -d "$base/sluice-swift.XXXXXX")
  touch "$DIR/$MARK"
  # the rest runs under the instance's supervisor (reaper + safety net)
  local rc=0
  run_supervised "$DIR" --log-sink "$DIR/log/swift.log" -- "$SELF" _start "$DIR" "$t0" "$BUCKET" || rc=$?
  if [ $rc != 0 ] && [ -d "$DIR" ] && [ "${SLUICE_SERVERS_KEEP_FAILED:-0}" != 1 ]; then
    cmd_stop "$DIR" 2>/dev/null || true
  fi
  return $rc
}

cmd__start() {  # DIR T0 BUCKET  (run by supervise.py)
  local t0=$2 rc attempt code addr
  DIR=$1 BUCKET=$3
  trap 'on_start_exit $?' EXIT
  trap 'exit 130' INT TERM HUP
  addr=$(cat "$DIR/run/log.addr")
  case $addr in
    udp:*) LOG_CONF="log_udp_host = 127.0.0.1
log_udp_port = ${addr#udp:}" ;;
    *) servers_die "bad log sink address: $addr" ;;
  esac

  for attempt in 1 2 3; do
    rc=0; start_attempt || rc=$?
    [ $rc = 0 ] && break
    stop_processes "$DIR" || true
    [ $rc = 2 ] && [ $attempt -lt 3 ] || exit 1
    servers_log "port conflict (attempt $attempt), retrying with other ports"
  done

  servers_debug "servers up"
  # credentials + bucket (also proves the S3 path end to end)
  printf 'machine 127.0.0.1\nlogin %s\npassword %s\n' "$AK" "$SK" > "$DIR/netrc"
  chmod 600 "$DIR/netrc"
  code=$(curl -s -o "$DIR/log/create-bucket.out" -w '%{http_code}' --max-time 20 -X PUT \
    --aws-sigv4 "aws:amz:$REGION:s3" --netrc-file "$DIR/netrc" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$PORT/$BUCKET") || true
  [ "$code" = 200 ] || { servers_log "creating bucket $BUCKET: HTTP $code"; cat "$DIR/log/create-bucket.out" >&2 || true; exit 1; }

  cat > "$DIR/env.tmp" <<EOF
SLUICE_S3_ENDPOINT=http://127.0.0.1:$PORT
SLUICE_S3_REGION=$REGION
SLUICE_S3_BUCKET=$BUCKET
SLUICE_S3_ACCESS_KEY=$AK
SLUICE_S3_SECRET_KEY=$SK
SLUICE_S3_STATE=$DIR
SLUICE_S3_NETRC=$DIR/netrc
EOF
  mv "$DIR/env.tmp" "$DIR/env"
  trap - EXIT INT TERM HUP
  servers_log "ready in $(( $(now_ms) - t0 )) ms: http://127.0.0.1:$PORT bucket $BUCKET (state $DIR)"
  echo "$DIR/env"
}

instances() {  # state dirs of running instances under the base directory
  local d base
  base=$(servers_base)
  for d in "$base"/sluice-swift.*; do
    [ -f "$d/$MARK" ] && [ -f "$d/env" ] && pidfile_alive "$d/run/proxy-server.pid" >/dev/null &&
      echo "$d"
  done
  return 0
}

cmd_stop() {
  local dir=${1:-${SLUICE_S3_STATE:-}} list
  if [ -z "$dir" ]; then
    list=$(instances)
    [ -n "$list" ] || { servers_log "nothing to stop"; return 0; }
    [ "$(echo "$list" | wc -l)" = 1 ] || servers_die "several instances run; name one: $(echo "$list" | tr "\n" " ")"
    dir=$list
  fi
  [ -d "$dir" ] || { servers_log "no state directory $dir (already stopped?)"; return 0; }
  [ -f "$dir/$MARK" ] || servers_die "$dir is not a swift-s3api.sh state directory; not touching it"
  stop_processes "$dir" || servers_die "could not stop everything; state kept in $dir"
  stop_supervisor "$dir"
  rm -rf "$dir"
  servers_log "stopped, removed $dir"
}

cmd_env() {
  local d found=1
  for d in $(instances); do echo "$d/env"; found=0; done
  return $found
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  env) cmd_env ;;
  _start) shift; cmd__start "$@" ;;
  *) usage ;;
esac
