#!/bin/sh
# SPDX-License-Identifier: MIT
# Fails when an #include goes against the layers (docs/design.md):
#   include/ <- lib/ <- pipeline/ <- tools/
# a file may include its own layer or a lower one, never a higher one; the
# command (tools/) sees only the public header.  Inside lib/, the request
# engine (lib/httpreq/) knows no service, and no service includes another's
# internals (a service reaches the others only through lib/service.h).
set -u
src=${top_srcdir:-.}
cd "$src" || exit 1

rank() {
  case $1 in
  include/*) echo 0 ;;
  lib/*) echo 1 ;;
  pipeline/*) echo 2 ;;
  tools/*) echo 3 ;;
  *) echo 9 ;;
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
[ "$bad" -eq 0 ] || exit 1
echo "$n includes checked: every one goes down the layers"
