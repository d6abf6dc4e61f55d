#!/bin/bash
# SPDX-License-Identifier: MIT
# A fast fake S3 endpoint on 127.0.0.1 for benchmarks: it measures a client's
# own ceiling, which a real (Python) S3 server on the same 2 cores hides.
#
#   bench/servers/nginx-sink.sh start STATE_DIR DATA_DIR   # prints KEY=VALUE lines
#   bench/servers/nginx-sink.sh stop STATE_DIR
#
# One nginx (Debian nginx-light with the echo and lua modules)
# with two faces:
#   fast     http://127.0.0.1:$BENCH_SINK_PORT (default 9310)
#   limited  http://127.0.0.1:$((BENCH_SINK_PORT+1)): a PUT takes at least
#            $BENCH_LIMIT_DELAY (default 0.02 s) + its size / $BENCH_LIMIT_RATE
#            (default 89128960 bytes/s = 85 MiB/s, what one S3 connection
#            gets), and a Complete 0.02 s: the latency-bound case where parts
#            in flight decide the throughput.  (nginx's own rate limits let
#            the first second's worth through at full speed, which hides the
#            limit for parts of a few MiB; so the PUT handler waits instead.)
# PUTs (whole objects and parts) and CompleteMultipartUpload are answered
# only after the whole body was read, as S3 does: a sink that answered early
# would let a client (Go's rclone in particular) count a part as done while
# its bytes are still on the way.  A PUT's body is read in 1 MiB pieces and
# dropped; its ETag is the body's MD5 (sink_put.lua says how).  Chunked
# bodies are buffered in memory up to BENCH_SINK_BODY_BUF (default 64m), then
# in STATE_DIR/tmp.  GET/HEAD serve DATA_DIR/<bucket>/<key> with
# Range and a strong ETag (nginx's own, or for an object with a sidecar
# the MD5 ETag a store without CRCs would give it: sink_etag.lua says how);
# a bucket GET lists what DATA_DIR/<bucket>/ held at
# start (rclone cat finds an object through its listing).  No auth at all.
# CreateMultipartUpload names the checksum algorithm back, as AWS S3 does,
# so a client that sends CRCs where the store checks them does so here.
set -euo pipefail

usage() { echo "usage: $0 start STATE_DIR DATA_DIR | stop STATE_DIR" >&2; exit 2; }

MODS=/usr/lib/nginx/modules
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${BENCH_SINK_PORT:-9310}
LIMITED=$((PORT + 1))

conf() {  # state data
  local st=$1 data=$2
  cat <<EOF
load_module $MODS/ngx_http_echo_module.so;
load_module $MODS/ndk_http_module.so;
load_module $MODS/ngx_http_lua_module.so;
user root;
worker_processes 2;
pid $st/run/nginx.pid;
error_log $st/log/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $st/tmp/body;
    proxy_temp_path $st/tmp/proxy;
    fastcgi_temp_path $st/tmp/fastcgi;
    uwsgi_temp_path $st/tmp/uwsgi;
    scgi_temp_path $st/tmp/scgi;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    client_max_body_size 0;
    client_body_buffer_size ${BENCH_SINK_BODY_BUF:-64m};
    client_body_timeout 300s;
    send_timeout 300s;
    server_tokens off;
    default_type application/octet-stream;
    lua_package_path "$HERE/?.lua;;";
    root $data;
    etag on;
    max_ranges 1;

    map "\$request_method:\$args" \$s3op {
        default                                   get;
        "~^POST:(.*&)?uploads(=[^&]*)?(&.*)?\$"   create;
        "~^POST:(.*&)?uploadId="                  complete;
        "~^PUT:"                                  put;
        "~^DELETE:"                               delete;
    }
$(face "$PORT" 0 0)
$(face "$LIMITED" "${BENCH_LIMIT_DELAY:-0.02}" "${BENCH_LIMIT_RATE:-89128960}")
}
EOF
}

# face PORT DELAY RATE: one server block; a PUT answers no sooner than DELAY
# seconds + its size / RATE bytes per second (0: no limit) after it began
face() {
  cat <<EOF
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location ~ ^/(?<bucket>[^/]+)/?\$ {
            default_type application/xml;
            if (\$request_method = GET) { rewrite ^ /.list/\$bucket.xml last; }
            return 200 '';
        }
        location ^~ /.list/ {
            internal;
            default_type application/xml;
        }
        location ~ ^/(?<bucket>[^/]+)/(?<key>.+)\$ {
            set \$xb \$bucket;
            set \$xk \$key;
            if (\$s3op = create)   { rewrite ^ /__s3/create last; }
            if (\$s3op = complete) { rewrite ^ /__s3/complete last; }
            if (\$s3op = put)      { rewrite ^ /__s3/put last; }
            if (\$s3op = delete)   { return 204; }
            # a sidecar's ETag (and part size) for GET and HEAD, and
            # If-Match compared with it
            access_by_lua_block { require("sink_etag").access() }
            header_filter_by_lua_block { require("sink_etag").filter() }
        }
        location = /__s3/put {
            internal;
            set \$sink_delay $2;
            set \$sink_rate $3;
            content_by_lua_block { require("sink_put").handle() }
        }
        location = /__s3/create {
            internal;
            default_type application/xml;
            # as AWS S3 does: the checksum algorithm named back (empty: none)
            add_header x-amz-checksum-algorithm \$http_x_amz_checksum_algorithm;
            add_header x-amz-checksum-type \$http_x_amz_checksum_type;
            echo '<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>\$xb</Bucket><Key>\$xk</Key><UploadId>\$request_id</UploadId></InitiateMultipartUploadResult>';
        }
        location = /__s3/complete {
            internal;
            default_type application/xml;
            echo_read_request_body;
            echo_sleep $2;
            echo '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://\$http_host/\$xb/\$xk</Location><Bucket>\$xb</Bucket><Key>\$xk</Key><ETag>&quot;\$request_id-1&quot;</ETag></CompleteMultipartUploadResult>';
        }
    }
EOF
}

# listing DIR BUCKET: a ListBucketResult of the files in DIR (no paging),
# each with the ETag the sink serves it with: its sidecar's
# (DATA/.etag/BUCKET/KEY, sink_etag.lua), else nginx's own
# ("<mtime hex>-<size hex>")
listing() {
  local f size mtime etag side
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>' "$2"
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    read -r size mtime < <(stat -L -c '%s %Y' "$f")
    side=${1%/*}/.etag/$2/${f##*/} etag=
    [ -f "$side" ] && read -r etag _ < "$side"
    [ -n "$etag" ] || etag=$(printf '"%x-%x"' "$mtime" "$size")
    printf '<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag><Size>%s</Size><StorageClass>STANDARD</StorageClass></Contents>' \
      "${f##*/}" "$(date -u -d "@$mtime" +%Y-%m-%dT%H:%M:%S.000Z)" "${etag//\"/\&quot;}" "$size"
  done
  printf '</ListBucketResult>\n'
}

start() {
  local st=$1 data=$2 pid b
  [ -f "$MODS/ngx_http_echo_module.so" ] && [ -f "$MODS/ngx_http_lua_module.so" ] ||
    { echo "nginx-sink: needs libnginx-mod-http-echo and libnginx-mod-http-lua" >&2; exit 1; }
  mkdir -p "$st"/{conf,run,log,tmp} "$data/.list"
  for b in "$data"/*/; do
    b=${b%/}
    [ -d "$b" ] && listing "$b" "${b##*/}" > "$data/.list/${b##*/}.xml"
  done
  conf "$st" "$(cd "$data" && pwd)" > "$st/conf/nginx.conf"
  nginx -t -q -e "$st/log/error.log" -p "$st" -c "$st/conf/nginx.conf" >&2
  # daemon mode: the master's pid lands in run/nginx.pid, which stop uses
  nginx -e "$st/log/error.log" -p "$st" -c "$st/conf/nginx.conf" >&2
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LIMITED/bench/")" = 200 ] && break
    sleep 0.05
  done
  pid=$(cat "$st/run/nginx.pid")
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/bench/")" = 200 ] ||
    { echo "nginx-sink: not answering; see $st/log/error.log" >&2; kill -QUIT "$pid"; exit 1; }
  echo "BENCH_SINK=http://127.0.0.1:$PORT"
  echo "BENCH_LIMITED=http://127.0.0.1:$LIMITED"
}

stop() {
  local st=$1 pid
  [ -f "$st/run/nginx.pid" ] || return 0
  pid=$(cat "$st/run/nginx.pid")
  # only an nginx whose pid file is ours: a stale pid may have been reused
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ]; then
    kill -QUIT "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
  fi
  rm -f "$st/run/nginx.pid"
}

case ${1:-} in
  start) [ $# = 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# = 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
