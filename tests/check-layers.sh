#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when a file reaches up the layers (docs/design.md):
#   include/ <- lib/ <- pipeline/ <- tools/
# and, inside lib/, primitives <- the service interface <- the request
# engine <- services <- the operator.  A file may use its own rank or a
# lower one, never a higher one; the command (tools/) sees only the public
# header; the request engine (lib/httpreq/) knows no service, and no
# service includes another's internals (a service reaches the others only
# through lib/service.h).
#
# Two checks: every #include "..." of the sources, and, when the objects
# have been built ($top_builddir), every call or reference between them
# (nm), which also catches two files of one rank calling each other: the
# files (a directory under lib/ counting as one) form no circle.
set -u
src=${top_srcdir:-.}
src=$(cd "$src" && pwd) || exit 1
obj=${top_builddir:+$(cd "$top_builddir" && pwd)}
cd "$src" || exit 1

# One table: the rank of every file.  A new file under lib/ gets a rank
# here (and a line in docs/design.md's table) or fails the check.
rank() {
  case $1 in
  include/*) echo 0 ;;
  lib/ring.[ch] | lib/bufpool.[ch] | lib/error.[ch] | lib/escape.[ch] | lib/options.[ch] | \
    lib/path.[ch] | lib/strbuf.[ch] | lib/crc_math.[ch] | lib/crc64nvme.[ch] | \
    lib/checksum.[ch] | lib/readcheck.[ch] | lib/size.[ch] | lib/version.c) echo 10 ;; # primitives
  lib/service.h | lib/metadata.c) echo 11 ;;     # the service interface
  lib/httpreq/*) echo 12 ;;                      # the request engine
  lib/fs/* | lib/memory/* | lib/s3/* | lib/http/* | lib/fd.[ch]) echo 13 ;; # services
  lib/operator.[ch] | lib/lister.c | lib/uploads.c | lib/reader.[ch] | lib/reader_fd.c | \
    lib/readahead.[ch] | lib/caller.[ch]) echo 14 ;; # the operator, readers, listers
  lib/*) echo 19 ;;
  pipeline/*) echo 20 ;;
  tools/*) echo 30 ;;
  *) echo 99 ;;
  esac
}

# Where #include "$2" from file $1 resolves: the file's own directory first,
# then the -I directories of Makefile.am (include, lib, pipeline).
resolve() {
  for d in "$(dirname "$1")" include lib pipeline; do
    if [ -f "$d/$2" ]; then
      echo "$d/$2" | sed 's|^\./||'
      return
    fi
  done
}

# The directory under lib/ a file lives in ("s3" for lib/s3/s3.c), or "".
subdir() {
  case $1 in lib/*/*) echo "$1" | cut -d/ -f2 ;; esac
}

bad=0
n=0
for f in $(find include lib pipeline tools -name '*.[ch]' | sort); do
  from=$(rank "$f")
  if [ "$from" -eq 19 ]; then
    echo "$f: no rank inside lib/: give it one in tests/check-layers.sh and docs/design.md"
    bad=1
  fi
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
    n=$((n + 1))
    to=$(resolve "$f" "$inc")
    if [ -z "$to" ]; then
      echo "$f: #include \"$inc\": not a project header"
      bad=1
      continue
    fi
    if [ "$(rank "$to")" -gt "$from" ]; then
      echo "$f: #include \"$inc\" ($to) reaches up a layer"
      bad=1
    fi
    case $f in tools/*) case $to in include/* | tools/*) ;; *)
      echo "$f: #include \"$inc\" ($to): the command uses only the public header"
      bad=1 ;;
    esac ;; esac
    # lib/X/... including lib/Y/...: only a service using the engine.
    fdir=$(subdir "$f") tdir=$(subdir "$to")
    if [ -n "$fdir" ] && [ -n "$tdir" ] && [ "$fdir" != "$tdir" ]; then
      case $fdir/$tdir in s3/httpreq | http/httpreq) ;; *)
        echo "$f: #include \"$inc\" ($to): lib/$fdir/ reaches into lib/$tdir/"
        bad=1 ;;
      esac
    fi
  done
done
echo "$n includes checked"

# ---- calls between the library's objects ----
# libtool puts lib/s3/s3.c's object at lib/s3/.libs/libsluice_core_la-s3.o.
objs=
[ -n "$obj" ] && objs=$(find "$obj/lib" "$obj/pipeline" -path '*/.libs/libsluice_core_la-*.o' 2>/dev/null | sort)
if [ -z "$objs" ]; then
  echo "calls not checked: no objects under \$top_builddir (build first)"
  [ "$bad" -eq 0 ] || exit 1
  exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for o in $objs; do
  rel=${o#"$obj"/}
  srcf=$(echo "$rel" | sed 's|/\.libs/libsluice_core_la-|/|; s|\.o$|.c|')
  [ -f "$srcf" ] || continue
  nm -g --defined-only "$o" | awk -v f="$srcf" 'NF == 3 { print $3, f }' >>"$tmp/defs"
  nm -u "$o" | awk -v f="$srcf" '$2 ~ /^sluice_/ { print $2, f }' >>"$tmp/uses"
done
sort -u "$tmp/defs" >"$tmp/defs.s"
sort -u "$tmp/uses" >"$tmp/uses.s"
# "definer user symbol" for every call between two files.
join "$tmp/defs.s" "$tmp/uses.s" | awk '$2 != $3 { print $2, $3, $1 }' | sort -u >"$tmp/edges"
# A service or the engine is one unit (lib/s3/: its table in s3.c names
# the parts, which share s3.c's helpers); every other file is its own.
calls=0
while read -r def user sym; do
  calls=$((calls + 1))
  if [ "$(rank "$def")" -gt "$(rank "$user")" ]; then
    echo "$user: calls $sym ($def), a layer up"
    bad=1
  fi
done <"$tmp/edges"
# tsort names the files of a circle on stderr.
unit='{ for (i = 1; i <= 2; i++) if ($i ~ /^lib\/[^\/]*\//) sub(/\/[^\/]*$/, "/", $i) }'
if ! awk "$unit"' $1 != $2 { print $1, $2 }' "$tmp/edges" | tsort >/dev/null 2>"$tmp/loop"; then
  echo "files that call each other in a circle:"
  grep -v 'input contains a loop' "$tmp/loop" | sed 's/^tsort: /  /' | sort -u
  bad=1
fi
[ "$bad" -eq 0 ] || exit 1
echo "$calls calls between files checked: every include and call goes down the layers, in no circle"
