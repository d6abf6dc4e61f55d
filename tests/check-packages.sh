#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages (debian/) as a distribution would, from the
# release tarball: dpkg-buildpackage -us -uc -b.  Then installs them into
# this machine, checks what a user of each package gets (sluice --version,
# the man pages, the examples built with pkg-config against /usr and run),
# and removes them again, whatever happens.
#   tests/check-packages.sh BUILD_DIR WORK_DIR
# BUILD_DIR is a configured build tree (for `make dist`); WORK_DIR is
# emptied and receives the tarball's tree and the .deb files.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$1 work=$2
pkgs=(libsluice0 libsluice-dev sluice)
need=()
for p in debhelper dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
rm -rf "$work"; mkdir -p "$work"
(cd "$build" && make dist >/dev/null)
tar -C "$work" -xzf "$(ls -t "$build"/libsluice-*.tar.gz | head -n 1)"
src=$(ls -d "$work"/libsluice-*/)
echo "packages: dpkg-buildpackage in $src"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log"; exit 1
fi
ls "$work"/*.deb
cleanup() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1 || true
  make -C "$here/examples" -s clean >/dev/null 2>&1 || true
}
trap cleanup EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work"/*.deb >/dev/null
# What each package must hold.
dpkg -L libsluice0 | grep -q '/libsluice\.so\.0$'
dpkg -L libsluice-dev | grep -q '/usr/include/sluice.h$'
dpkg -L libsluice-dev | grep -q '/pkgconfig/sluice.pc$'
dpkg -L libsluice-dev | grep -q '/man3/libsluice.3'
dpkg -L sluice | grep -q '^/usr/bin/sluice$'
dpkg -L sluice | grep -q '/man1/sluice.1'
/usr/bin/sluice --version
man -w sluice >/dev/null && man -w 3 libsluice >/dev/null
# The examples against the installed packages only: no build tree paths.
env -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH make -C "$here/examples" -s clean all
ldd "$here/examples/copy" | grep -Eq '=> /(usr/)?lib/[^ ]*libsluice\.so\.0 '
env -u LD_LIBRARY_PATH "$here/scripts/examples-check" "$here/examples"
echo "packages: ok (${pkgs[*]} built, installed, used and removed)"
