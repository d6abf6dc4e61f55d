# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The measurements (sourced by run).  Each section appends rows to RESULTS;
# report.py turns them into tables.  Sizes, runs and settings come from run.

# Objects the downloads read: src-SIZE on every server (the sink serves the
# local file itself; Swift gets one upload through the library, unmeasured).
source_object() {  # server size
  local f=$WORK/data/src-$2
  random_file "$f" "$(size_bytes "$2")"
  case $1 in
    sink | limited) ln -sf "$f" "$WORK/sinkdata/$BUCKET/src-$2" ;;
    *) have_object "$1" "src-$2" "$(size_bytes "$2")" ||
         env "AWS_ENDPOINT_URL=$(srv EP "$1")" AWS_REGION=us-east-1 \
           "AWS_ACCESS_KEY_ID=$(srv AK "$1")" "AWS_SECRET_ACCESS_KEY=$(srv SK "$1")" \
           "$XFER" "$f" "s3://$BUCKET/src-$2" 2>/dev/null || die "cannot seed src-$2 on $1" ;;
  esac
}

have_object() {  # server key bytes
  local len
  len=$(curl -sS -I --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file "$WORK/peers/$1.netrc" \
    -H x-amz-content-sha256:UNSIGNED-PAYLOAD "$(srv EP "$1")/$BUCKET/$2" |
    tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
  [ "$len" = "$3" ]
}

# etag_object KEY SIZE [PART_MIB]: the sink serves data/src-SIZE as KEY too,
# with the ETag a store without CRCs gives it (sink_etag.lua reads the
# sidecar .etag/BUCKET/KEY): the MD5 of the bytes, or with PART_MIB the
# multipart ETag of PART_MIB MiB parts (the MD5 of the parts' binary MD5s,
# "-N") and that part size, as sluice records it at upload.  The sidecar
# is made again when the data is newer or the part size changed; before
# the sink starts (it lists the sidecar's ETag).
etag_object() {
  local f=$WORK/data/src-$2 side=$WORK/sinkdata/.etag/$BUCKET/$1 etag had=
  random_file "$f" "$(size_bytes "$2")"
  ln -sf "$f" "$WORK/sinkdata/$BUCKET/$1"
  [ -f "$side" ] && read -r _ had < "$side"
  [ "$side" -nt "$f" ] && [ "${had:-0}" = $((${3:-0} * MIB)) ] && return 0
  mkdir -p "${side%/*}"
  if [ -z "${3:-}" ]; then
    etag=$(md5sum < "$f") || die "md5sum $f failed"
    etag=\"${etag%% *}\"
  else
    etag=$(/usr/bin/python3 -c 'import hashlib, sys
part, whole, n = int(sys.argv[2]), hashlib.md5(), 0
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(part), b""):
        whole.update(hashlib.md5(b).digest())
        n += 1
print("\"%s-%d\" %d" % (whole.hexdigest(), n, part))' "$f" $(($3 * MIB))) || die "cannot hash $f"
  fi
  printf '%s\n' "$etag" > "$side.tmp" && mv "$side.tmp" "$side"
}

# Swift keeps what it is sent: delete uploads after each run so that disk use
# stays at one object (s3api deletes a multipart object's segments with it).
forget() {  # server key
  case $1 in sink | limited) return 0 ;; esac
  curl -sS -f -X DELETE --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file "$WORK/peers/$1.netrc" \
    -H x-amz-content-sha256:UNSIGNED-PAYLOAD "$(srv EP "$1")/$BUCKET/$2" -o /dev/null ||
    log "warning: could not delete $2 on $1"
}

# compare SECTION CASE SERVER OP SIZE RUNS TOOL...: every tool does the same
# transfer in each run (order rotated per run), so ratios pair up by run.
# A download reads src-SIZE, or the object SRC_KEY when set; with VERIFIED
# set, sluice must say (--json) that it checked the object that way.
compare() {
  local section=$1 case=$2 s=$3 op=$4 size=$5 runs=$6 r tool key file mo
  shift 6
  local bytes
  bytes=$(size_bytes "$size")
  case $op in
    dir | sync) bytes=$(du -sbL "$WORK/data/dir-$size-${DIR_KIB:-256}k" | cut -f1) ;;
    dirdown) bytes=$(du -sbL "$WORK/sinkdata/$TREE_BUCKET/" | cut -f1) ;;
  esac
  case $op in
    down | cat | s3s3) source_object "$s" "$size" ;;
    up | put) random_file "$WORK/data/src-$size" "$bytes" ;;
  esac
  for ((r = 1; r <= runs; r++)); do
    for tool in $(rotate "$r" "$@"); do
      key=up-$tool file=$WORK/data/src-$size
      case $op in
        down) key=${SRC_KEY:-src-$size} file=$WORK/out/$tool.bin ;;
        cat | s3s3) key=${SRC_KEY:-src-$size} ;;
        dir | sync) file=$WORK/data/dir-$size-${DIR_KIB:-256}k ;;
        dirdown) file=$WORK/out/$tool-tree && mkdir -p "$file" ;; # s3cmd needs it made
      esac
      peer_cmd "$tool" "$op" "$s" "$key" "$file"
      if [ -n "${VERIFIED:-}" ] && [ "$tool" = sluice ]; then
        # cp prints --json on stdout, cat (stdout carries the data, kept
        # on /dev/null) on stderr
        : > "$WORK/stdout.out"
        mo=$WORK/stdout.out
        [ "$op" != cat ] || mo=""
        MEASURE_OUT=$mo measure "$section" "$case" "$s" "$tool" "$r" "$bytes" "$IN" -- "${CMD[@]}"
        check_verified "$case" "$WORK/stdout.out" "$WORK/stderr.out"
      else
        measure "$section" "$case" "$s" "$tool" "$r" "$bytes" "$IN" -- "${CMD[@]}"
      fi
      case $op in
        down) rm -f "$file" ;;
        s3s3) forget "$s" "$key.copy" ;;
        dirdown) rm -rf "$file" ;;
        cat | dir | sync) ;;
        *) forget "$s" "$key" ;;
      esac
    done
  done
}

# check_verified CASE FILE...: the --json summary in one of the FILEs says
# "verified":"$VERIFIED", or the harness stops: a row of an unchecked
# download would measure the wrong thing
check_verified() {
  local case=$1 got
  shift
  got=$(grep -ho '"verified":"[^"]*"' "$@" | head -n 1)
  [ "$got" = "\"verified\":\"$VERIFIED\"" ] ||
    die "verify/$case: sluice reports ${got:-no \"verified\"} (wanted $VERIFIED): $(tail -q -n 1 "$@" | cut -c1-300)"
}

# 1. the main table: every transfer direction, every peer, both servers
section_main() {
  local s size
  for s in $MAIN_SERVERS; do
    for size in $MAIN_SIZES; do
      compare main "upload $size" "$s" up "$size" "$RUNS" $TOOLS
    done
    compare main "upload $STREAM_SIZE from stdin" "$s" put "$STREAM_SIZE" "$RUNS" $TOOLS
    compare main "download $STREAM_SIZE to a file" "$s" down "$STREAM_SIZE" "$RUNS" $TOOLS
    compare main "download $STREAM_SIZE to stdout" "$s" cat "$STREAM_SIZE" "$RUNS" $TOOLS
    compare main "S3 -> S3 $STREAM_SIZE" "$s" s3s3 "$STREAM_SIZE" "$RUNS" $TOOLS
  done
  [ "$MAIN_BIG_RUNS" = 0 ] || compare main "upload $BIG_SIZE" sink up "$BIG_SIZE" "$MAIN_BIG_RUNS" $TOOLS
}

# 2. the article's experiment: read-a-chunk-then-write loop vs write_from
section_article() {
  local s
  for s in $MAIN_SERVERS; do
    compare article "upload $STREAM_SIZE" "$s" up "$STREAM_SIZE" "$RUNS" xfer-write_from xfer-loop
  done
}

# 3. latency-bound: throughput vs parts in flight, and vs part size
section_curves() {
  local c k
  for c in $CURVE_CONC; do
    CONC=$c compare curves "concurrent $c" limited up "$CURVE_SIZE" "$CURVE_RUNS" sluice aws rclone
  done
  # one stream whatever the setting: a single point each
  CONC=1 compare curves "concurrent 1" limited up "$CURVE_SIZE" "$CURVE_RUNS" s3cmd curl
  for k in $CURVE_CHUNKS; do
    CHUNK=$k compare curves "chunk $k MiB" limited up "$CURVE_SIZE" "$CURVE_RUNS" sluice aws rclone s3cmd
  done
}

# 4 and 5. cost and peak memory as the object grows, and many small objects
section_growth() {
  local size
  for size in $GROWTH_SIZES; do
    compare growth "upload $size" sink up "$size" "$GROWTH_RUNS" $TOOLS
  done
  [ "$GROWTH_BIG_RUNS" = 0 ] || compare growth "upload $BIG_SIZE" sink up "$BIG_SIZE" "$GROWTH_BIG_RUNS" $TOOLS
  small_files "$DIR_COUNT" 256
  compare growth "$DIR_COUNT x 256K" sink dir "$DIR_COUNT" "$GROWTH_RUNS" $TOOLS
  # many tiny objects: per-object cost (connections, requests) dominates
  small_files "$TINY_COUNT" 16
  DIR_KIB=16 compare growth "$TINY_COUNT x 16K" sink dir "$TINY_COUNT" "$GROWTH_RUNS" $TOOLS
}

small_files() {  # count KiB: a directory of that many files of KiB each
  local d=$WORK/data/dir-$1-${2}k
  [ "$(find "$d" -type f 2>/dev/null | wc -l)" = "$1" ] && return 0
  rm -rf "$d" && mkdir -p "$d"
  # one process, not one per file: 100,000 files take seconds
  /usr/bin/python3 -c 'import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 1024
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(os.urandom(size))' "$d" "$1" "$2" || die "cannot make $d"
}

# 6. the ring alone.  A configuration that does not finish in RING_TIMEOUT
# is recorded as such (ck_ring's producers spin, without yielding, on the
# commit of a preempted one: with more threads than cores that can stall).
section_ring() {
  local q p c r out rc
  for ((r = 1; r <= RING_RUNS; r++)); do
    for q in sluice ck mutex; do
      for p in 1 2 4; do
        for c in 1 2 4; do
          rc=0
          out=$(timeout "$RING_TIMEOUT" "$WORK/bin/ringbench" rate "$q" "$p" "$c" "$RING_ITEMS" "$RING_CAP") || rc=$?
          [ $rc = 124 ] && out="queue=$q producers=$p consumers=$c items=$RING_ITEMS seconds=$RING_TIMEOUT"
          [ $rc = 0 ] || [ $rc = 124 ] || die "ringbench $q $p $c failed ($rc)"
          ring_row "$r" "$rc" "$out"
        done
      done
      out=$(timeout 60 "$WORK/bin/ringbench" idle "$q" "$RING_IDLE") || die "ringbench idle $q failed"
      ring_row "$r" 0 "$out"
    done
  done
}

# ring_row RUN STATUS "k=v k=v ...": one TSV row in the same columns as
# measure's (case = producers x consumers or "idle"; wall = seconds;
# user/sys = the waiting consumer's / producer's CPU seconds when idle)
ring_row() {
  local run=$1 rc=$2 kv q p c n s ci pi load
  read -r load _ < /proc/loadavg
  for kv in $3; do
    case $kv in
      queue=*) q=${kv#*=} ;; producers=*) p=${kv#*=} ;; consumers=*) c=${kv#*=} ;;
      items=*) n=${kv#*=} ;; seconds=* | wait_s=*) s=${kv#*=} ;;
      consumer_cpu_s=*) ci=${kv#*=} ;; producer_cpu_s=*) pi=${kv#*=} ;;
    esac
  done
  [ -n "${q:-}" ] && [ -n "${s:-}" ] || die "cannot parse ringbench output: $3"
  if [ -n "${p:-}" ]; then
    printf 'ring\t%sP x %sC\tcap %s\t%s\t%s\t%s\t%s\t0\t0\t0\t%s\t\t%s\n' "$p" "$c" "$RING_CAP" "$q" "$run" "$n" "$s" "$rc" "$load"
  else
    printf 'ring\tidle\twait\t%s\t%s\t0\t%s\t%s\t%s\t0\t0\t\t%s\n' "$q" "$run" "$s" "$ci" "$pi" "$load"
  fi >> "$RESULTS"
}

# 7. the checksums alone: CPU seconds per GiB of each algorithm the s3
# writer can send, over CK_MIB MiB in memory in 8 MiB parts (cksumbench).
# One row per algorithm and run (wall = user = CPU seconds of the thread).
section_checksum() {
  local r line kv alg bytes cpu load
  for ((r = 1; r <= CK_RUNS; r++)); do
    "$WORK/bin/cksumbench" "$CK_MIB" 8 > "$WORK/cksum.out" || die "cksumbench failed"
    while read -r line; do
      case $line in alg=*) ;; *) continue ;; esac
      for kv in $line; do
        case $kv in alg=*) alg=${kv#*=} ;; bytes=*) bytes=${kv#*=} ;; cpu_s=*) cpu=${kv#*=} ;; esac
      done
      read -r load _ < /proc/loadavg
      printf 'checksum\t%s\tmemory\tcksumbench\t%s\t%s\t%s\t%s\t0\t0\t0\t\t%s\n' \
        "$alg" "$r" "$bytes" "$cpu" "$cpu" "$load" >> "$RESULTS"
    done < "$WORK/cksum.out"
  done
}

# 8. file and stream destinations, and what each checksum costs an upload,
# beside curl's unsigned single PUT of the same file (sink: the client's
# own cost; it names the algorithm back as AWS does, so auto sends
# CRC64NVME there, and it hashes a body itself only when no checksum came),
# and the upload to Swift again beside every peer.
section_files() {
  compare files "download $STREAM_SIZE to a file" sink down "$STREAM_SIZE" "$RUNS" $TOOLS
  compare files "download $STREAM_SIZE to stdout" sink cat "$STREAM_SIZE" "$RUNS" $TOOLS
  compare files "upload $STREAM_SIZE" sink up "$STREAM_SIZE" "$RUNS" \
    sluice sluice-crc64nvme sluice-crc32c sluice-crc32 sluice-sha256 sluice-none curl
  # Swift verifies Content-MD5 only: auto sends it there (see BENCHMARKS.md)
  compare files "upload $STREAM_SIZE" swift up "$STREAM_SIZE" "$RUNS" $TOOLS
}

# 9. many objects: small-file trees uploaded (to the sink, and to Swift),
# downloaded (from both), synced with nothing to send and with everything
# to send (the sink serves tree-N-Kk buckets and an empty one:
# tree_buckets), and a mixed tree uploaded and downloaded; CONC transfers in flight for
# sluice, aws and rclone, and rclone once more with its own defaults
# (rclone-defaults); curl and s3cmd move one object at a time (s3cmd only on
# the smaller tree: 10,000 files take it minutes a run; curl has no sync).
# Then sluice alone at 1..64 transfers, the sweep its default comes from.
section_trees() {
  local n
  compare trees "$DIR_COUNT x 256K" sink dir "$DIR_COUNT" "$TREE_RUNS" $TOOLS rclone-defaults
  DIR_KIB=16 compare trees "$TINY_COUNT x 16K" sink dir "$TINY_COUNT" "$TREE_RUNS" sluice aws rclone \
    curl rclone-defaults
  # sluice's own default is 16 transfers: the same for every peer that has it
  CONC=16 DIR_KIB=16 compare trees "$TINY_COUNT x 16K, 16 transfers" sink dir "$TINY_COUNT" \
    "$TREE_RUNS" sluice aws rclone
  TREE_BUCKET=tree-$DIR_COUNT-256k compare trees "download $DIR_COUNT x 256K" sink dirdown \
    "$DIR_COUNT" "$TREE_RUNS" $TOOLS rclone-defaults
  TREE_BUCKET=tree-$TINY_COUNT-16k DIR_KIB=16 compare trees "download $TINY_COUNT x 16K" sink \
    dirdown "$TINY_COUNT" "$TREE_RUNS" sluice aws rclone curl
  TREE_BUCKET=tree-$TINY_COUNT-16k DIR_KIB=16 compare trees "sync $TINY_COUNT x 16K, nothing to send" \
    sink sync "$TINY_COUNT" "$TREE_RUNS" sluice aws rclone
  TREE_BUCKET=tree-empty compare trees "sync $DIR_COUNT x 256K, all to send" sink sync \
    "$DIR_COUNT" "$TREE_RUNS" sluice aws rclone s3cmd
  up_down swift "$DIR_COUNT x 256K" "$DIR_COUNT" 256 "tree-$DIR_COUNT-256k"
  up_down sink "$MIXED_BIG x $MIXED_BIG_SIZE among $TINY_COUNT x 16K" mixed 16 tree-mixed
  for n in $TRANSFER_SWEEP; do
    CONC=$n DIR_KIB=16 compare trees "sweep: $TINY_COUNT x 16K at $n transfers" sink dir \
      "$TINY_COUNT" "$TREE_RUNS" sluice
    CONC=$n compare trees "sweep: $DIR_COUNT x 256K at $n transfers" swift dir "$DIR_COUNT" \
      "$TREE_RUNS" sluice
  done
  # peak RSS against the number of objects (report.py plots it)
  for n in $RSS_COUNTS; do
    small_files "$n" 1
    DIR_KIB=1 compare trees "$n x 1K" sink dir "$n" 1 sluice rclone
  done
}

# 9b. the small-file and mixed trees against Swift, up and down: slower
# than the sink by an order of magnitude (Swift stores every object), so
# a section of its own (about 75 minutes) rather than part of trees.
section_trees_swift() {
  up_down swift "$TINY_COUNT x 16K" "$TINY_COUNT" 16 "tree-$TINY_COUNT-16k"
  up_down swift "$MIXED_BIG x $MIXED_BIG_SIZE among $TINY_COUNT x 16K" mixed 16 tree-mixed
}

# up_down SERVER LABEL SIZE KIB BUCKET: the tree data/dir-SIZE-KIBk
# uploaded to SERVER, then downloaded from its bucket BUCKET there (which
# Swift is given first: the sink serves the sink's trees as they are), by
# sluice, aws, rclone and curl
up_down() {
  DIR_KIB=$4 compare trees "$2" "$1" dir "$3" "$TREE_RUNS" sluice aws rclone curl
  [ "$1" != swift ] || swift_tree "$5"
  TREE_BUCKET=$5 compare trees "download $2" "$1" dirdown "$3" "$TREE_RUNS" sluice aws rclone curl
}

# swift_tree BUCKET: the sink's tree of that name (tree_buckets) as a Swift
# bucket of the same name, uploaded once through the command (not measured)
swift_tree() {
  curl -sS -f -X PUT --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file "$WORK/peers/swift.netrc" \
    -H x-amz-content-sha256:UNSIGNED-PAYLOAD "$EP_swift/$1" -o /dev/null ||
    die "cannot make bucket $1 on Swift"
  env "AWS_ENDPOINT_URL=$EP_swift" AWS_REGION=us-east-1 "AWS_ACCESS_KEY_ID=$AK_swift" \
    "AWS_SECRET_ACCESS_KEY=$SK_swift" "$SLUICE" cp -r --progress=none "$WORK/sinkdata/$1/" \
    "s3://$1/" || die "cannot seed $1 on Swift"
}

# a mixed tree: MIXED_BIG files of MIXED_BIG_SIZE among TINY_COUNT of 16 KiB
mixed_files() {
  local d=$WORK/data/dir-mixed-16k i
  small_files "$TINY_COUNT" 16
  mkdir -p "$d"
  for ((i = 0; i < MIXED_BIG; i++)); do random_file "$d/big$i" "$(size_bytes "$MIXED_BIG_SIZE")"; done
  for ((i = 0; i < TINY_COUNT; i++)); do ln -f "$WORK/data/dir-$TINY_COUNT-16k/f$i" "$d/f$i"; done
}

# the trees as sink buckets (before the sink starts: it lists them then).
# Their files get whole-second times: the listing gives seconds, and a sync
# (aws's, sluice's) would take a file a fraction newer for a changed one.
tree_buckets() {
  small_files "$DIR_COUNT" 256
  small_files "$TINY_COUNT" 16
  /usr/bin/python3 -c 'import os, sys
for d in sys.argv[1:]:
    for n in os.listdir(d):
        p = os.path.join(d, n)
        t = int(os.stat(p).st_mtime)
        os.utime(p, (t, t))' "$WORK/data/dir-$DIR_COUNT-256k" "$WORK/data/dir-$TINY_COUNT-16k"
  ln -sfn "$WORK/data/dir-$DIR_COUNT-256k" "$WORK/sinkdata/tree-$DIR_COUNT-256k"
  ln -sfn "$WORK/data/dir-$TINY_COUNT-16k" "$WORK/sinkdata/tree-$TINY_COUNT-16k"
  mixed_files
  ln -sfn "$WORK/data/dir-mixed-16k" "$WORK/sinkdata/tree-mixed"
  mkdir -p "$WORK/sinkdata/tree-empty" # a sync target with nothing in it, every run
}

# 10. the article's experiment in Python: the binding's write_from beside
# the command, a Python read-a-chunk-then-write loop and boto3's
# upload_fileobj, all with CHUNK and CONC (bench/src/pyarticle.py)
section_python() {
  local s
  build_python
  for s in $MAIN_SERVERS; do
    compare python "upload $STREAM_SIZE" "$s" up "$STREAM_SIZE" "$RUNS" \
      py-write_from sluice py-loop boto3
  done
}

# 11. what checking a download costs (issue 22): the STREAM_SIZE object as
# a store without CRCs serves it (etag_object), its ETag the MD5 of its
# bytes or a multipart ETag with sluice's part-size metadata, downloaded to
# stdout (/dev/null, as in main) and to a file by sluice (which must report
# verified md5 / etag-md5: --verify required), curl (no check), rclone
# (checks a single-part MD5 ETag after a download to a file) and md5sum of
# the same local bytes (the hash alone, a floor for the check's CPU).
section_verify() {
  local op what
  for op in cat down; do
    what="to stdout"
    [ $op = cat ] || what="to a file"
    SRC_KEY=etag-md5-$STREAM_SIZE VERIFIED=md5 compare verify \
      "download $STREAM_SIZE $what, ETag MD5 (single part)" sink $op "$STREAM_SIZE" "$RUNS" \
      sluice curl rclone md5sum
    SRC_KEY=etag-parts-$STREAM_SIZE VERIFIED=etag-md5 compare verify \
      "download $STREAM_SIZE $what, multipart ETag" sink $op "$STREAM_SIZE" "$RUNS" \
      sluice curl rclone md5sum
  done
}

# the verify section's objects (before the sink starts)
verify_objects() {
  etag_object "etag-md5-$STREAM_SIZE" "$STREAM_SIZE"
  etag_object "etag-parts-$STREAM_SIZE" "$STREAM_SIZE" "$CHUNK"
}
