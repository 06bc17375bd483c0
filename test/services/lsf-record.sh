#!/usr/bin/env bash
# Record what the OpenLava commands print, against the running cluster of lsf-up.sh, as root:
# the commands run as lrmskey (runuser, the environment of a non-login SSH command: PATH
# /usr/local/bin:/usr/bin:/bin, no LSF_ENVDIR) in a work dir of lrmskey, unless a block says
# root or ssh. Takes about 90 s (one job waits for its 1-minute run limit).
#   lsf-record.sh [OUT]   OUT: test/data/vectors/recorded/recorded-openlava.txt
# Each block: "=== LABEL ===", "$ COMMAND", its stdout, then (only if it wrote any) a line
# "[stderr]" and its stderr, then "rc=N". A newline is added where the output had none at its end.
set -euo pipefail
SCRIPT_NAME=lsf-record
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=lsf-lib.sh
. "$HERE/lsf-lib.sh"
OUT=${1:-$HERE/../data/vectors/recorded/recorded-openlava.txt}
U=lrmskey
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$LSF_STATE/env" ] || die "no $LSF_STATE/env: run lsf-up.sh first"
# shellcheck disable=SC1091
. "$LSF_STATE/env"
H=$(getent passwd $U | cut -d: -f6)
W=$LSF_STATE/rec
rm -rf "$W"
install -d -o $U -g $U "$W" "$W/sub"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/blocks"
as_u() {
  timeout -k 2 60 runuser -u $U -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$H" USER=$U \
    LOGNAME=$U SHELL=/bin/bash LANG=C.UTF-8 bash -c "cd '$W' && $1"
}
# rec LABEL COMMAND [root|ssh] : run COMMAND (a bash command line) and append its block
rec() {
  local label=$1 cmd=$2 how=${3:-} rc=0
  case $how in
    root) (cd "$W" && timeout -k 2 60 bash -c "$cmd") </dev/null >"$TMP/o" 2>"$TMP/e" || rc=$? ;;
    ssh) timeout -k 2 60 ssh -F "$SSH_CONFIG" -o BatchMode=yes lrms-key "cd '$W' && $cmd" </dev/null >"$TMP/o" 2>"$TMP/e" || rc=$? ;;
    *) as_u "$cmd" </dev/null >"$TMP/o" 2>"$TMP/e" || rc=$? ;;
  esac
  {
    case $how in
      root) echo "=== $label (as root) ===" ;;
      ssh) echo "=== $label (ssh lrms-key: a non-login SSH command of $U) ===" ;;
      *) echo "=== $label ===" ;;
    esac
    echo "\$ $cmd"
    cat "$TMP/o"
    [ ! -s "$TMP/o" ] || [ -z "$(tail -c1 "$TMP/o")" ] || echo
    if [ -s "$TMP/e" ]; then
      echo "[stderr]"
      cat "$TMP/e"
      [ -z "$(tail -c1 "$TMP/e")" ] || echo
    fi
    echo "rc=$rc"
    echo
  } >>"$TMP/blocks"
  cat "$TMP/o" "$TMP/e" >"$TMP/last"
  log "$label: rc=$rc"
}
lastid() { sed -n 's/^Job <\([0-9]*\)> is submitted.*/\1/p' "$TMP/last"; }
stat_of() { as_u "bjobs -a -w $1" 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
# wait_stat ID STATE... : until the job is in one of the states (at most 150 s)
wait_stat() {
  local id=$1 i s w
  shift
  for ((i = 0; i < 750; i++)); do
    s=$(stat_of "$id")
    for w in "$@"; do [ "$s" = "$w" ] && return 0; done
    sleep 0.2
  done
  die "job $id did not reach $* (is $s)"
}
wait_mem() { # ID MB : until bjobs -l shows MEM of at least MB (at most 30 s)
  local i m
  for ((i = 0; i < 150; i++)); do
    m=$(as_u "bjobs -l $1" 2>/dev/null | sed -n 's/.*MEM: \([0-9]*\) Mbytes.*/\1/p')
    [ "${m:-0}" -ge "$2" ] && return 0
    sleep 0.2
  done
}
wait_rusage() { # ID : until bjobs -l shows resource usage (at most 30 s)
  local i
  for ((i = 0; i < 150; i++)); do
    as_u "bjobs -l $1" 2>/dev/null | grep -q 'Resource usage collected' && return 0
    sleep 0.2
  done
}
SSH_CONFIG=$(sed -n 's/^LRMS_SSH_CONFIG=//p' "${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}/env" 2>/dev/null || true)
[ -r "$SSH_CONFIG" ] || die "no test sshd (run sshd-up.sh): the ssh blocks need it"

# job scripts of lrmskey
as_u "cat >job-cd.sh" <<'EOF'
#!/bin/sh
# a job script that changes its directory itself (OpenLava's bsub has no -cwd)
cd "$(dirname "$0")/sub" || exit 1
echo "pwd=$(pwd) user=$(id -un) args=$*"
echo data >result.txt
env | grep -E '^(LSB_|LS_|LSF_)' | sort
EOF
as_u "cat >job-bsub.sh" <<'EOF'
#!/bin/sh
#BSUB -J fromstdin
#BSUB -o stdin.%J.out
#BSUB -W 0:05
cd sub && echo "read from stdin with #BSUB lines, in $(pwd)"
EOF
as_u "chmod 755 job-cd.sh job-bsub.sh"

# --- the cluster ----------------------------------------------------------------------------------
rec "lsid" "lsid"
rec "lshosts -w" "lshosts -w"
rec "lshosts" "lshosts"
rec "lsload -w" "lsload -w"
rec "bhosts -w" "bhosts -w"
rec "bhosts -l" "bhosts -l"
rec "bqueues -w" "bqueues -w"
rec "bqueues -l" "bqueues -l"
rec "bjobs with no jobs of the user" "bjobs"
rec "bjobs -u all with no unfinished job" "bjobs -u all"

# --- submissions ------------------------------------------------------------------------------------
rec "bsub run limit: -W 1, sleep 120" "bsub -W 1 -J runlimit -o runlimit.%J.out sleep 120"
RL=$(lastid)
rec "bsub of a normal job" "bsub -J normal -o normal.%J.out echo hello"
NORMAL=$(lastid)
rec "bsub with -o and -e files" "bsub -J outerr -o outerr.%J.out -e outerr.%J.err sh -c 'echo to stdout; echo to stderr >&2'"
OUTERR=$(lastid)
rec "bsub of a job exiting 3" "bsub -J exit3 -o /dev/null sh -c 'exit 3'"
EXIT3=$(lastid)
rec "bsub of a job killing itself with signal 9" "bsub -J kill9 -o /dev/null sh -c 'kill -9 \$\$'"
KILL9=$(lastid)
rec "bsub of a job script that cds" "bsub -J cdjob -o cdjob.%J.out ./job-cd.sh a 'b c'"
CDJOB=$(lastid)
rec "bsub < script with #BSUB lines" "bsub < job-bsub.sh"
STDIN=$(lastid)
rec "bsub of a CPU-bound job" "bsub -J cpu -o cpu.%J.out sh -c 'i=0; while [ \$i -lt 400000 ]; do i=\$((i+1)); done; echo \$i'"
CPU=$(lastid)
rec "bsub of a job holding 300 MB for 15 s" "bsub -J mem -o mem.%J.out python3 -c 'import time; b = bytearray(300 << 20); time.sleep(15)'"
MEM=$(lastid)
rec "bsub of a job to bkill while running" "bsub -J tokill -o /dev/null sleep 300"
TOKILL=$(lastid)
rec "bsub -H: held, to bkill while pending" "bsub -H -J held -o /dev/null echo held"
HELD=$(lastid)

rec "bsub -n 64: more slots than the node has" "bsub -n 64 -o /dev/null echo x"
rec "bsub -n MXJ+1" "bsub -n $((LRMS_LSF_SLOTS + 1)) -o /dev/null echo x"
rec "bsub -n MXJ (all slots)" "bsub -n $LRMS_LSF_SLOTS -J allslots -o /dev/null sleep 1"
ALL=$(lastid)
rec "bsub -R rusage[mem] above the node's memory (MB)" "bsub -J bigmem -R 'rusage[mem=100000]' -o /dev/null echo x"
BIGMEM=$(lastid)
rec "bsub -M above the node's memory (KB)" "bsub -J bigM -M 100000000 -o /dev/null echo x"
BIGM=$(lastid)
rec "bsub -M 51200 (50 MB, enforced: LSB_JOB_MEMLIMIT=y) of a job holding 300 MB" "bsub -J overM -M 51200 -o overM.%J.out python3 -c 'import time; b = bytearray(300 << 20); time.sleep(20)'"
OVERM=$(lastid)
rec "bsub -R select[mem>...] above the node's memory" "bsub -J selmem -R 'select[mem>100000]' -o /dev/null echo x"
SELMEM=$(lastid)
rec "bsub through ssh" "bsub -J viassh -o viassh.%J.out hostname" ssh
VIASSH=$(lastid)
rec "bsub as root" "bsub -o /dev/null true" root
rec "bsub of an unknown queue" "bsub -q nosuch -o /dev/null true"
rec "bsub -cwd (LSF 10 option)" "bsub -cwd /tmp -o /dev/null true"

# --- running and pending ------------------------------------------------------------------------------
wait_stat "$TOKILL" RUN
wait_stat "$RL" RUN
wait_rusage "$TOKILL"
wait_rusage "$RL"
rec "bjobs -w while running" "bjobs -w"
rec "bjobs -l of a running job" "bjobs -l $TOKILL"
rec "bjobs -l of a running job with a run limit" "bjobs -l $RL"
rec "bjobs -l of a held job" "bjobs -l $HELD"
sleep 3 # a scheduling pass for the over-size requests
rec "bjobs -l: rusage[mem] above the node's memory" "bjobs -l $BIGMEM"
rec "bjobs -l: -M above the node's memory" "bjobs -l $BIGM"
rec "bjobs -l: select[mem>...] above the node's memory" "bjobs -l $SELMEM"
rec "bjobs -l: -n MXJ while slots are taken" "bjobs -l $ALL"
rec "bjobs -p" "bjobs -p"
wait_stat "$MEM" RUN DONE EXIT
wait_mem "$MEM" 100
rec "bjobs -l of the running 300 MB job" "bjobs -l $MEM"

rec "bkill of a running job" "bkill $TOKILL"
rec "bkill of a pending (held) job" "bkill $HELD"
rec "bkill of the pending rusage[mem] job" "bkill $BIGMEM"
rec "bkill of the pending select[mem] job" "bkill $SELMEM"

# --- finished jobs ---------------------------------------------------------------------------------------
for id in "$NORMAL" "$OUTERR" "$EXIT3" "$KILL9" "$CDJOB" "$STDIN" "$CPU" "$MEM" "$TOKILL" "$HELD" \
  "$ALL" "$BIGM" "$BIGMEM" "$SELMEM" "$VIASSH"; do
  wait_stat "$id" DONE EXIT
done
for j in NORMAL OUTERR EXIT3 KILL9 CDJOB STDIN CPU MEM TOKILL HELD BIGMEM; do
  id=${!j}
  rec "bjobs -l, $j" "bjobs -l $id"
  rec "bjobs -a -l, $j" "bjobs -a -l $id"
  rec "bhist -l, $j" "bhist -l $id"
done
rec "output file, normal" "cat normal.$NORMAL.out"
rec "output and error files, -o/-e" "cat outerr.$OUTERR.out; echo '--- err:'; cat outerr.$OUTERR.err"
rec "output of the job script that cds, and its file" "cat cdjob.$CDJOB.out; ls sub"
rec "output of the #BSUB script" "cat stdin.$STDIN.out"
rec "output file, CPU-bound job" "cat cpu.$CPU.out"
rec "output file, 300 MB job" "cat mem.$MEM.out"
rec "output file, via ssh" "cat viassh.$VIASSH.out"
rec "bjobs -w -a" "bjobs -w -a"
rec "bjobs -a -u all" "bjobs -a -u all"

# --- the unknown, the finished, the missing -----------------------------------------------------------------
rec "bjobs of an unknown job" "bjobs 999999"
rec "bjobs -l of a known and an unknown job" "bjobs -l $EXIT3 999999"
rec "bkill of a finished job" "bkill $NORMAL"
rec "bkill of an unknown job" "bkill 999999"
rec "bhist -l of an unknown job" "bhist -l 999999"
rec "bacct (not part of OpenLava)" "bacct -l $NORMAL"
rec "bjobs -o (LSF 10 option)" "bjobs -o 'jobid stat exit_code' $NORMAL"

# --- the -M job and the run limit ------------------------------------------------------------------------------
wait_stat "$OVERM" DONE EXIT
rec "bjobs -l, -M 50 MB job holding 300 MB" "bjobs -l $OVERM"
rec "bhist -l, -M 50 MB job holding 300 MB" "bhist -l $OVERM"
rec "output file, -M 50 MB job holding 300 MB" "cat overM.$OVERM.out"
wait_stat "$RL" DONE EXIT
rec "bjobs -l, run limit" "bjobs -l $RL"
rec "bjobs -a -l, run limit" "bjobs -a -l $RL"
rec "bhist -l, run limit" "bhist -l $RL"
rec "output file, run limit" "cat runlimit.$RL.out"
rec "lsb.acct JOB_FINISH records" "grep -E '^\"JOB_FINISH\" \"[0-9.]+\" [0-9]+ ($NORMAL|$EXIT3|$KILL9|$TOKILL|$HELD|$RL|$OVERM) ' $LRMS_LSF_ACCT" root
rec "bjobs -w -a at the end" "bjobs -w -a"

# --- how long a finished job takes to show DONE / EXIT in bjobs ------------------------------------------------
lat=()
for code in 0 0 0 3 3; do
  id=$(as_u "bsub -o /dev/null sh -c 'date +%s%3N >$W/end.\$LSB_JOBID; exit $code'" | sed -n 's/^Job <\([0-9]*\)>.*/\1/p')
  wait_stat "$id" DONE EXIT
  seen=$(now_ms)
  lat+=("$([ "$code" = 0 ] && echo DONE || echo EXIT):$((seen - $(cat "$W/end.$id")))ms")
done
log "job end -> DONE/EXIT in bjobs: ${lat[*]}"

{
  echo "# OpenLava $LRMS_LSF_VERSION recorded $(date -u '+%Y-%m-%d %H:%M UTC') by test/services/lsf-record.sh on the"
  echo "# single-node cluster of test/services/lsf-up.sh: host $LRMS_LSF_HOST, cluster $LRMS_LSF_CLUSTER, queue"
  echo "# $LRMS_LSF_QUEUE (PROCLIMIT $LRMS_LSF_SLOTS), MXJ $LRMS_LSF_SLOTS, MBD_SLEEP_TIME 2, SBD_SLEEP_TIME 2,"
  echo "# JOB_TERMINATE_INTERVAL $LRMS_LSF_TERMINATE_INTERVAL, CLEAN_PERIOD 3600, LSB_JOB_MEMLIMIT=y (-M enforced),"
  echo "# LSF_PIM_UPDATE_INTERVAL=5 (running jobs' usage every 5 s), LSB_STDOUT_DIRECT unset."
  echo "# Commands run as $U through runuser with the environment of a non-login SSH command (PATH"
  echo "# /usr/local/bin:/usr/bin:/bin, the commands are symlinks there; no LSF_ENVDIR: /etc/lsf.conf),"
  echo "# in $W, unless the label says root or ssh (ssh -F \$LRMS_SSH_CONFIG lrms-key)."
  echo "# Each block: '=== LABEL ===', '\$ COMMAND', its stdout, '[stderr]' and its stderr (only if it"
  echo "# wrote any), 'rc=N'. A newline was added where an output had none at its end."
  echo "# Job end (its last command) until bjobs -a shows it finished, polled every ~0.2 s: ${lat[*]}."
  echo
  cat "$TMP/blocks"
} >"$OUT"
log "recorded $(grep -c '^=== ' "$OUT") blocks to $OUT"
