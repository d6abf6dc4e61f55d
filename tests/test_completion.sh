#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bash completion (tools/completion/sluice) as readline drives it:
# COMP_WORDS split the way bash splits a line (':' is a word of its own),
# the completion function called, COMPREPLY compared with what a user must
# be offered.  Keys under a URI come from the real `sluice ls` on a local
# tree (file://) and from a stand-in sluice that records how it was asked
# (s3://), so no server is needed.  Skips (77) without bash-completion.
# Prints "ok"/"not ok" lines; exits 1 if any check failed.
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
SLUICE=$builddir/tools/sluice
bc=
for f in "$(pkg-config --variable=prefix bash-completion 2>/dev/null)/share/bash-completion/bash_completion" \
    /usr/share/bash-completion/bash_completion; do
  [ -r "$f" ] && { bc=$f; break; }
done
[ -n "$bc" ] || { echo "bash-completion is not installed: skipped"; exit 77; }
[ -x "$SLUICE" ] || { echo "test_completion.sh: $SLUICE is not built"; exit 1; }

# No AWS profile or sluice config of the machine's user may leak in.
HOME=$(mktemp -d "${TMPDIR:-/tmp}/sluice-completion.XXXXXX")
export HOME
unset SLUICE_CONFIG XDG_CONFIG_HOME AWS_PROFILE AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE \
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
tmp=$HOME
# Listings are never cut short for being slow here, only the hang below.
export SLUICE_COMPLETION_TIMEOUT=300
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=/dev/null
. "$bc"
# shellcheck source=tools/completion/sluice
. "$srcdir/tools/completion/sluice"
# compopt only works inside a completion readline started; record instead.
compopt() { COMPOPT+=" $*"; }

pass=0 failed=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
# check NAME CMD...: ok if CMD succeeds.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# flat LIST: a newline-separated list on one line, for messages.
flat() { tr '\n' ' ' <<<"$1"; }

# complete LINE [PROG]: completes at the end of LINE as bash would, with
# PROG (default: the built sluice) as the command's name; the offers are
# left in REPLY_SORTED (one per line, sorted) and compopt's in COMPOPT.
complete_line() {
  local line=$1 prog=${2:-$SLUICE} i c word='' escaped=''
  COMP_WORDS=()
  for ((i = 0; i < ${#line}; i++)); do
    c=${line:i:1}
    if [[ $escaped ]]; then
      word+=$c; escaped=
    elif [[ $c == \\ ]]; then
      word+=$c; escaped=1
    elif [[ $c == ' ' ]]; then
      [[ -n $word ]] && COMP_WORDS+=("$word"); word=
    elif [[ $c == [:=] ]]; then  # in COMP_WORDBREAKS: a word of their own
      [[ -n $word ]] && COMP_WORDS+=("$word"); COMP_WORDS+=("$c"); word=
    else
      word+=$c
    fi
  done
  COMP_WORDS+=("$word")
  COMP_WORDS[0]=$prog
  COMP_LINE=$prog${line#sluice}
  COMP_POINT=${#COMP_LINE}
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=() COMPOPT=
  _sluice "$prog" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  REPLY_SORTED=$(printf '%s\n' ${COMPREPLY[@]+"${COMPREPLY[@]}"} | sort | sed '/^$/d')
}

# offers NAME LINE WORD...: completing LINE offers exactly WORDs.
offers() {
  local name=$1 line=$2 want
  shift 2
  complete_line "$line"
  want=$(printf '%s\n' "$@" | sort | sed '/^$/d')
  if [[ $REPLY_SORTED == "$want" ]]; then
    ok "$name"
  else
    not_ok "$name: '$line' offers [$(flat "$REPLY_SORTED")], want [$(flat "$want")]"
  fi
}

# includes NAME LINE [+|!]WORD...: +WORD must be offered, !WORD must not.
includes() {
  local name=$1 line=$2 w bad=
  shift 2
  complete_line "$line"
  for w in "$@"; do
    if [[ $w == +* ]] && ! grep -qxF -- "${w#+}" <<<"$REPLY_SORTED"; then bad+=" missing ${w#+}"; fi
    if [[ $w == !* ]] && grep -qxF -- "${w#!}" <<<"$REPLY_SORTED"; then bad+=" unwanted ${w#!}"; fi
  done
  if [[ -z $bad ]]; then ok "$name"; else not_ok "$name: '$line':$bad"; fi
}

# ---- commands and options ----
offers "commands" "sluice " cp sync put cat ls stat rm presign uploads
offers "commands by prefix" "sluice c" cp cat
offers "command after options" "sluice --chunk 8MiB -r --progress=plain p" put presign

# Everything `sluice --help` lists must be completed: this fails when a
# command or option is added to tools/sluice.c and not to the completion.
help=$("$SLUICE" --help)
complete_line "sluice "
missing=
while read -r c _; do
  grep -qxF "$c" <<<"$REPLY_SORTED" || missing+=" $c"
done < <(sed -n '/^commands:/,/^$/p' <<<"$help" | sed '1d;/^$/d;/^   /d')
complete_line "sluice -"
all_opts=$REPLY_SORTED
for o in $(grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z-]*' <<<"$help" | tr -d ' ,' | sort -u); do
  grep -qxF -- "$o" <<<"$all_opts" || missing+=" $o"
done
if [[ -z $missing ]]; then ok "every command and option of sluice --help"; else
  not_ok "in sluice --help but not completed:$missing"; fi

includes "ls options" "sluice ls --" +--recursive +--endpoint +--no-sign-request +--config \
 '!--chunk' '!--expires'
includes "presign options" "sluice presign --" +--expires +--method +--profile '!--recursive' \
  '!--json'
includes "cp options" "sluice cp -r --" +--chunk +--concurrent +--if-not-exists +--stream \
  +--progress= '!--expires'
includes "options after a URI" "sluice stat s3://b/k --" +--json +--region '!--chunk'
offers "option by prefix" "sluice cp --con" --concurrent --content-type --config
offers "nothing after --" "sluice cp -- --" 

# ---- option values ----
offers "progress modes" "sluice cp --progress=" auto bar plain none
offers "progress mode by prefix" "sluice cp --progress=p" plain
offers "presign methods" "sluice presign --method " GET PUT HEAD DELETE
offers "no guess for a size" "sluice cp --chunk "
offers "no guess for a size (=)" "sluice cp --chunk="
mkdir -p "$HOME/.aws"
printf '[default]\nregion = x\n[profile work]\n[ other ]\n' >"$HOME/.aws/config"
printf '[backup]\naws_access_key_id = AKIDEXAMPLE\n' >"$HOME/.aws/credentials"
offers "profiles from the AWS files" "sluice ls --profile " default work other backup
rm -rf "$HOME/.aws"

# ---- local paths and schemes ----
mkdir -p "$tmp/tree/sub dir" "$tmp/tree/sub2"
: >"$tmp/tree/a b"; : >"$tmp/tree/abc"; : >"$tmp/tree/sub2/x"
offers "local paths" "sluice cp $tmp/tree/a" "$tmp/tree/a b" "$tmp/tree/abc"
offers "config file" "sluice --config $tmp/tree/ab" "$tmp/tree/abc"
(
  cd "$tmp/tree" || exit 1
  offers "a scheme where no file fits" "sluice ls s3" "s3://"
  check "no space after a scheme" grep -q nospace <<<"$COMPOPT"
  offers "the scheme's rest after its ':'" "sluice ls s3:" "//"
  offers "schemes by prefix" "sluice put ht" "http://" "https://"
  offers "local names before schemes" "sluice ls s" "sub dir" "sub2"
)
offers "only as many URIs as the command takes" "sluice stat $tmp/tree/abc $tmp/tree/a"

# ---- keys, from the real sluice ls of a local tree ----
offers "file:// entries" "sluice cat file://$tmp/tree/" "//$tmp/tree/a\\ b" "//$tmp/tree/abc" \
  "//$tmp/tree/sub\\ dir/" "//$tmp/tree/sub2/"
offers "file:// entries by prefix" "sluice cat file://$tmp/tree/a" "//$tmp/tree/a\\ b" \
  "//$tmp/tree/abc"
offers "escaped name completed" "sluice cat file://$tmp/tree/sub\\ " "//$tmp/tree/sub\\ dir/"
check "no space after a directory key" grep -q nospace <<<"$COMPOPT"
offers "deeper level" "sluice cp file://$tmp/tree/sub2/" "//$tmp/tree/sub2/x"

# ---- s3:// keys: how sluice ls is asked, what is offered ----
stub=$tmp/stub-sluice
cat >"$stub" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/stub.args"
case "\$*" in *hang*) exec sleep 60 ;; esac
printf '%12s  %-20s  %s\n' 12 2026-01-01T00:00:00Z 'logs one.txt' DIR - 'logs/' \
  12345678901234 2026-01-01T00:00:00Z 'big.bin' 1 - '  lead'
EOF
chmod +x "$stub"
complete_line "sluice --endpoint http://127.0.0.1:9000 cp --profile p --no-sign-request s3://bkt/l" \
  "$stub"
want=$(printf '%s\n' ls --retries 0 --endpoint http://127.0.0.1:9000 --profile p --no-sign-request \
  -- s3://bkt/)
check "sluice ls asked with the line's connection options" [ "$(cat "$tmp/stub.args")" = "$want" ]
check "s3:// keys by prefix" \
  [ "$REPLY_SORTED" = "$(printf '%s\n' '//bkt/logs/' '//bkt/logs\ one.txt')" ]
complete_line "sluice cp s3://bkt/b" "$stub"
check "a size wider than the column" [ "$REPLY_SORTED" = "//bkt/big.bin" ]
complete_line "sluice cp s3://bkt/\\ " "$stub"
check "a key that begins with spaces" [ "$REPLY_SORTED" = "//bkt/\\ \\ lead" ]
complete_line "sluice cp --endpoint=http://h/ --region=r s3://bkt/" "$stub"
check "--opt=value forms passed on" grep -qxF -e --endpoint=http://h/ -e --region=r "$tmp/stub.args"
complete_line "sluice cp s3://bkt" "$stub"
check "no listing before the bucket's '/'" [ -z "$REPLY_SORTED" ]

# Without credentials the real sluice refuses offline: nothing offered.
offers "s3:// without credentials" "sluice cat s3://bucket/"

# A server that never answers: the completion gives up by itself.
start=$SECONDS
SLUICE_COMPLETION_TIMEOUT=1 complete_line "sluice cp s3://hang/" "$stub"
if [[ -z $REPLY_SORTED ]] && ((SECONDS - start < 50)); then ok "a silent server is given up on"
else not_ok "a silent server is given up on (after $((SECONDS - start)) s)"; fi

# ---- s3:// keys from the real server (tests/check-servers.sh sets SLUICE_S3_*) ----
if [ -n "${SLUICE_S3_ENDPOINT:-}" ]; then
  # Credentials from the environment, the endpoint only on the command line:
  # the completion must pass it on to sluice ls.
  export AWS_ACCESS_KEY_ID=$SLUICE_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SLUICE_S3_SECRET_KEY
  export AWS_REGION=${SLUICE_S3_REGION:-us-east-1}
  unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
  s3=s3://$SLUICE_S3_BUCKET/completion-$$
  ep=(--endpoint "$SLUICE_S3_ENDPOINT")
  trap 'timeout 60 "$SLUICE" "${ep[@]}" rm -r "$s3/" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
  for k in "one" "two words" "dir/three"; do
    echo x | timeout 60 "$SLUICE" "${ep[@]}" --progress=none put "$s3/$k" ||
      not_ok "put $s3/$k"
  done
  r=${s3#s3:}
  offers "s3:// keys from the server" "sluice ls --endpoint $SLUICE_S3_ENDPOINT $s3/" \
    "$r/dir/" "$r/one" "$r/two\ words"
  offers "s3:// keys from the server by prefix" "sluice cp --endpoint $SLUICE_S3_ENDPOINT $s3/t" \
    "$r/two\ words"
  offers "s3:// keys a level down" "sluice cat --endpoint $SLUICE_S3_ENDPOINT $s3/dir/" \
    "$r/dir/three"
else
  echo "skip - s3:// keys from a real server (SLUICE_S3_* unset: tests/check-servers.sh sets them)"
fi

echo "test_completion.sh: $pass passed, $failed failed"
[ "$failed" = 0 ]
