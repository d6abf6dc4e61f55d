# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Packages, the library under test and the bench programs (sourced by run).

BENCH_PKGS="awscli rclone s3cmd curl time nginx-light libnginx-mod-http-echo libnginx-mod-http-lua
            libck-dev gnuplot-nox pkg-config gcc python3-dev python3-setuptools python3-pip
            python3-boto3"

install_packages() {
  local p missing=()
  for p in $BENCH_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages (run as root): ${missing[*]}"
  log "installing: ${missing[*]}"
  apt-get -q update >&2 || log "apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends "${missing[@]}" >&2 || die "apt-get install failed"
}

# build_library SRC PREFIX: configure, build and install the tree out of
# tree under WORK (the source tree gets only what autoreconf makes)
build_library() {
  local src=$1 prefix=$2 b=$WORK/build
  "$src/scripts/install-deps" >&2
  if ! [ -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ]; then
    (cd "$src" && autoreconf -fi) >&2
  fi
  mkdir -p "$b"
  log "building libsluice in $b (prefix $prefix)"
  (cd "$b" && { [ -f Makefile ] || "$src/configure" -q --prefix="$prefix" CFLAGS="-O2 -g"; } &&
    make -j"$(nproc)" >/dev/null && make install >/dev/null) >&2 || die "library build failed"
}

# build_programs PREFIX: xfer (linked through pkg-config, as users link) and
# ringbench (lib/ring.c compiled in: the ring is internal)
build_programs() {
  local prefix=$1 pc
  pc=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs sluice) ||
    die "pkg-config finds no sluice.pc under $prefix/lib/pkgconfig"
  mkdir -p "$WORK/bin"
  # shellcheck disable=SC2086
  gcc -O2 -g -Wall -Wextra -o "$WORK/bin/xfer" "$BENCH/src/xfer.c" $pc \
    -Wl,-rpath,"$prefix/lib" || die "xfer does not build"
  gcc -O2 -g -Wall -Wextra -pthread -I"$SRC/lib" -o "$WORK/bin/ringbench" \
    "$BENCH/src/ringbench.c" "$SRC/lib/ring.c" -lck || die "ringbench does not build"
  # cksumbench: lib/checksum.c and what it needs, compiled in (internal)
  gcc -O2 -g -Wall -Wextra -pthread -D_GNU_SOURCE -DPACKAGE_VERSION='"bench"' -I"$SRC/include" \
    -I"$SRC/lib" -o "$WORK/bin/cksumbench" "$BENCH/src/cksumbench.c" "$SRC/lib/checksum.c" \
    "$SRC/lib/crc64nvme.c" "$SRC/lib/crc_math.c" "$SRC/lib/error.c" "$SRC/lib/escape.c" -lisal -lcrypto ||
    die "cksumbench does not build"
  XFER=$WORK/bin/xfer
  SLUICE=
  [ -x "$prefix/bin/sluice" ] && SLUICE=$prefix/bin/sluice
  return 0
}

# build_python: the Python binding (python/) built against PREFIX's
# libsluice with Debian's python3, into WORK/py (section python)
build_python() {
  rm -rf "$WORK/py" "$WORK/pysrc"
  cp -R "$SRC/python" "$WORK/pysrc" && rm -rf "$WORK/pysrc/build" "$WORK/pysrc"/*.egg-info
  log "building the Python binding in $WORK/py"
  PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /usr/bin/python3 -m pip install -q --no-build-isolation --no-deps --no-index --no-cache-dir \
    --target "$WORK/py" "$WORK/pysrc" >&2 || die "the Python binding does not build"
}
