#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The machine and every version a result depends on, as KEY: VALUE lines.
#   bench/lib/machine.sh PREFIX
set -euo pipefail
prefix=$1
v() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel: $(uname -r)"
echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "libsluice: $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion sluice) installed in $prefix"
[ -x "$prefix/bin/sluice" ] && echo "sluice -V: $("$prefix/bin/sluice" -V 2>&1 | tr '\n' ' ')"
echo "bench tree: $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "awscli: $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1-2)"
echo "rclone: $(rclone version 2>/dev/null | head -n 1)"
echo "s3cmd: $(s3cmd --version 2>&1)"
echo "curl: $(curl --version | head -n 1 | cut -d' ' -f1-2), $(curl --version | head -n 1 | grep -o 'OpenSSL/[^ ]*')"
echo "nginx: $(v nginx-light) (echo module $(v libnginx-mod-http-echo), lua module $(v libnginx-mod-http-lua))"
echo "swift: $(v swift)"
echo "libck: $(v libck-dev)"
echo "gcc: $(gcc -dumpfullversion)"
