# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# How each client is asked to do each transfer (sourced).
#
# peer_cmd TOOL OP SERVER KEY FILE  fills CMD (the argv to measure) and IN
# (the file for stdin, "-" for none).  OPs:
#   up    FILE -> s3://bucket/KEY (size known)
#   put   stdin (FILE) -> KEY     (size unknown)
#   down  KEY -> FILE
#   cat   KEY -> stdout
#   s3s3  KEY -> KEY.copy, streamed through the client
#   dir   every file of directory FILE -> KEY/<name>
#   dirdown  every object of bucket TREE_BUCKET -> directory FILE
#   sync  directory FILE -> bucket TREE_BUCKET, which holds the same files
#         (a sync with nothing to send: listing and comparing alone)
# Settings: CHUNK (MiB) and CONC (parts or ranges in flight) for every tool
# that has them; curl is one stream whatever they say.
# Servers: SERVER names the EP_<server>, AK_<server>, SK_<server> variables.
# Needs SLUICE (the command, or "" to use XFER for everything), XFER, WORK.

BUCKET=bench
TOOLS="sluice aws rclone s3cmd curl"

srv() { local v="${1}_$2"; printf '%s' "${!v}"; }

# per-server config files for the peers, written once
peer_configs() {
  local s=$1 ep ak sk hp
  ep=$(srv EP "$s") ak=$(srv AK "$s") sk=$(srv SK "$s") hp=${ep#http://}
  mkdir -p "$WORK/peers"
  printf 'machine 127.0.0.1\nlogin %s\npassword %s\n' "$ak" "$sk" > "$WORK/peers/$s.netrc"
  cat > "$WORK/peers/$s.s3cfg" <<EOF
[default]
access_key = $ak
secret_key = $sk
host_base = $hp
host_bucket = $hp
use_https = False
signature_v2 = False
bucket_location = us-east-1
progress_meter = False
EOF
  chmod 600 "$WORK/peers/$s.netrc" "$WORK/peers/$s.s3cfg"
}

# aws_config CHUNK CONC: a throwaway AWS_CONFIG_FILE with those transfer
# settings (the only way to give `aws s3` a part size and concurrency)
aws_config() {
  local f=$WORK/peers/aws-$1-$2.cfg
  [ -f "$f" ] || printf '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n  multipart_chunksize = %sMB\n  multipart_threshold = %sMB\n  max_concurrent_requests = %s\n' \
    "$1" "$1" "$2" > "$f"
  printf '%s' "$f"
}

# pipe A B: one argv that runs A | B (for the peers' S3 -> S3 streams)
pipe() { CMD=(bash -c "set -o pipefail; $1 | $2"); }

peer_cmd() {
  local tool=$1 op=$2 s=$3 key=$4 file=$5 ep ak sk where url
  ep=$(srv EP "$s") ak=$(srv AK "$s") sk=$(srv SK "$s")
  # bucket/key, or a tree's own bucket (where every tool finds the object)
  where=$BUCKET/$key
  case $op in dirdown | sync) where=$TREE_BUCKET ;; esac
  url=s3://$where
  IN=-
  [ "$op" = put ] && IN=$file
  case $tool in
    sluice) sluice_cmd "$op" "$ep" "$url" "$file" ;;
    sluice-*) CKALG=${tool#sluice-} sluice_cmd "$op" "$ep" "$url" "$file" ;;
    xfer-loop) SLUICE="" sluice_cmd "$op" "$ep" "$url" "$file"; CMD=("${CMD[@]:0:5}" "$XFER" --loop "${CMD[@]:6}") ;;
    xfer-write_from) SLUICE="" sluice_cmd "$op" "$ep" "$url" "$file" ;;
    aws)
      local a="env AWS_CONFIG_FILE=$(aws_config "$CHUNK" "$CONC") AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk /usr/bin/aws --endpoint-url $ep s3 cp --only-show-errors"
      case $op in
        up) CMD=($a "$file" "$url") ;;
        put) CMD=($a - "$url") ;;
        down) CMD=($a "$url" "$file") ;;
        cat) CMD=($a "$url" -) ;;
        s3s3) pipe "$a $url -" "$a - $url.copy" ;;
        dir) CMD=($a --recursive "$file" "$url") ;;
        dirdown) CMD=($a --recursive "$url" "$file") ;;
        sync) CMD=(${a/ cp / sync } "$file" "$url") ;;
      esac ;;
    rclone | rclone-defaults)
      # no HEAD after an upload (the sink stores nothing to HEAD); parts
      # from the first chunk on, like the others; rclone-defaults keeps
      # rclone's own sizes and counts
      local r="rclone --config /dev/null -q --s3-no-check-bucket --s3-no-head"
      [ "$tool" = rclone-defaults ] ||
        r+=" --s3-chunk-size ${CHUNK}M --s3-upload-concurrency $CONC --s3-upload-cutoff ${CHUNK}M --multi-thread-streams $CONC --transfers $CONC"
      export "RCLONE_CONFIG_${s^^}_TYPE=s3" "RCLONE_CONFIG_${s^^}_PROVIDER=Other" \
        "RCLONE_CONFIG_${s^^}_ENDPOINT=$ep" "RCLONE_CONFIG_${s^^}_REGION=us-east-1" \
        "RCLONE_CONFIG_${s^^}_ACCESS_KEY_ID=$ak" "RCLONE_CONFIG_${s^^}_SECRET_ACCESS_KEY=$sk" \
        "RCLONE_CONFIG_${s^^}_FORCE_PATH_STYLE=true"
      local rem=$s:$where
      case $op in
        up) CMD=($r copyto "$file" "$rem") ;;
        put) CMD=($r rcat "$rem") ;;
        down) CMD=($r copyto "$rem" "$file") ;;
        cat) CMD=($r cat "$rem") ;;
        s3s3) pipe "$r cat $rem" "$r rcat $rem.copy" ;;
        # a store that keeps objects (Swift) would let it skip a rerun's
        # files, which the others (and sluice's cp -r) send again
        dir) CMD=($r copy --no-check-dest "$file" "$rem") ;;
        dirdown) CMD=($r copy "$rem" "$file") ;;
        sync) CMD=($r sync "$file" "$rem") ;;
      esac ;;
    s3cmd)
      # s3cmd sends one part at a time: it has no concurrency setting
      local c="s3cmd -c $WORK/peers/$s.s3cfg -q --multipart-chunk-size-mb=$CHUNK"
      case $op in
        up) CMD=($c put "$file" "$url") ;;
        put) CMD=($c put - "$url") ;;
        down) CMD=($c get --force "$url" "$file") ;;
        cat) CMD=($c get "$url" -) ;;
        s3s3) pipe "$c get $url -" "$c put - $url.copy" ;;
        dir) CMD=($c put --recursive "$file/" "$url/") ;;
        dirdown) CMD=($c get --recursive "$url/" "$file/") ;;
        sync) CMD=($c sync "$file/" "$url/") ;;
      esac ;;
    curl)
      # one stream, SigV4 with an unsigned payload: the per-byte floor.  The
      # access key may hold a colon, so credentials go through a netrc.
      local c="curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 --netrc-file $WORK/peers/$s.netrc -H x-amz-content-sha256:UNSIGNED-PAYLOAD"
      case $op in
        up) CMD=($c -T "$file" "$ep/$BUCKET/$key") ;;
        put) CMD=($c -T - "$ep/$BUCKET/$key") ;;
        down) CMD=($c -o "$file" "$ep/$BUCKET/$key") ;;
        cat) CMD=($c "$ep/$BUCKET/$key") ;;
        s3s3) pipe "$c $ep/$BUCKET/$key" "$c -T - $ep/$BUCKET/$key.copy -o /dev/null" ;;
        dir) curl_dir_config "$file" "$ep/$BUCKET/$key"; CMD=($c -K "$WORK/peers/curl-dir.cfg") ;;
        dirdown) curl_down_config "$WORK/sinkdata/$TREE_BUCKET" "$ep/$where" "$file"
          CMD=($c --create-dirs -K "$WORK/peers/curl-down.cfg") ;;
        sync) die "curl has no sync" ;;
      esac ;;
    py-write_from | py-loop | boto3)
      # bench/src/pyarticle.py: uploads only, the binding built by build_python
      [ "$op" = up ] || die "$tool does uploads only"
      CMD=(env "PYTHONPATH=$WORK/py" "LD_LIBRARY_PATH=$PREFIX/lib" "AWS_ACCESS_KEY_ID=$ak"
        "AWS_SECRET_ACCESS_KEY=$sk" /usr/bin/python3 "$BENCH/src/pyarticle.py" "${tool#py-}"
        "$ep" "$BUCKET" "$key" "$file" "$CHUNK" "$CONC") ;;
    md5sum)
      # not a client: the MD5 of the bytes a download reads, from the
      # local file the sink serves (section verify's floor for a check)
      case $op in down | cat) ;; *) die "md5sum stands beside downloads only" ;; esac
      CMD=(md5sum "$WORK/sinkdata/$BUCKET/$key") ;;
    *) die "unknown tool $tool" ;;
  esac
}

# curl uploads a directory in one process, one file after the other on one
# kept-alive connection, from a config file naming each file and its URL
curl_dir_config() {
  local f
  for f in "$1"/*; do
    printf 'upload-file = "%s"\nurl = "%s/%s"\noutput = "/dev/null"\n' "$f" "$2" "${f##*/}"
  done > "$WORK/peers/curl-dir.cfg"
}

# the same for a download: the names come from the directory the sink
# serves (curl cannot list)
curl_down_config() {
  local f
  for f in "$1"/*; do
    printf 'url = "%s/%s"\noutput = "%s/%s"\n' "$2" "${f##*/}" "$3" "${f##*/}"
  done > "$WORK/peers/curl-down.cfg"
}

# sluice: the command when the tree has one (S3 -> S3 with --stream, so
# that it streams through the client like the others instead of copying
# server-side); XFER (write_from, bench/src/xfer.c) stands in for it in a
# tree without the command.  A network source gets as many readers as
# parts in flight (the command's default; XFER is told).
sluice_cmd() {
  local op=$1 ep=$2 url=$3 file=$4
  local set=(--chunk "${CHUNK}MiB" --concurrent "$CONC")
  local env=(env "AWS_ENDPOINT_URL=$ep" AWS_REGION=us-east-1 "AWS_ACCESS_KEY_ID=$ak" "AWS_SECRET_ACCESS_KEY=$sk")
  if [ -z "$SLUICE" ]; then
    case $op in
      up) CMD=("${env[@]}" "$XFER" "${set[@]}" "$file" "$url") ;;
      put) CMD=("${env[@]}" "$XFER" "${set[@]}" - "$url") ;;
      down) CMD=("${env[@]}" "$XFER" "${set[@]}" --readers "$CONC" "$url" "$file") ;;
      cat) CMD=("${env[@]}" "$XFER" "${set[@]}" --readers "$CONC" "$url" -) ;;
      s3s3) CMD=("${env[@]}" "$XFER" "${set[@]}" --readers "$CONC" "$url" "$url.copy") ;;
      dir) CMD=(bash -c "for f in $file/*; do ${env[*]} $XFER ${set[*]} \$f $url/\${f##*/} || exit; done") ;;
    esac
    return
  fi
  set+=(--endpoint "$ep" --region us-east-1 --progress=none)
  [ -z "${CKALG:-}" ] || set+=(--checksum-algorithm "$CKALG")
  [ -z "${VERIFIED:-}" ] || set+=(--verify required --json)
  case $op in
    up) CMD=("${env[@]}" "$SLUICE" cp "${set[@]}" "$file" "$url") ;;
    put) CMD=("${env[@]}" "$SLUICE" put "${set[@]}" "$url") ;;
    down) CMD=("${env[@]}" "$SLUICE" cp "${set[@]}" "$url" "$file") ;;
    cat) CMD=("${env[@]}" "$SLUICE" cat "${set[@]}" "$url") ;;
    s3s3) CMD=("${env[@]}" "$SLUICE" cp --stream "${set[@]}" "$url" "$url.copy") ;;
    dir) CMD=("${env[@]}" "$SLUICE" cp -r --transfers "$CONC" "${set[@]}" "$file" "$url") ;;
    dirdown) CMD=("${env[@]}" "$SLUICE" cp -r --transfers "$CONC" "${set[@]}" "$url/" "$file") ;;
    sync) CMD=("${env[@]}" "$SLUICE" sync --transfers "$CONC" "${set[@]}" "$file" "$url/") ;;
  esac
}
