#!/usr/bin/env bash
# Record what the real OpenPBS clients print, for the parser tests: runs them against the server of
# pbs-up.sh (its env file must exist) and writes test/data/vectors/recorded/recorded-openpbs.txt
# (or the file given as $1). Run as root; the commands run as lrmskey (runuser, a clean
# environment, cwd ~lrmskey/pbs-record, which is made anew). Takes about 1 minute. Idempotent: the
# output file is replaced as a whole.
# Each block: `=== LABEL ===`, `$ COMMAND`, the output (stdout and stderr merged, verbatim; a
# missing final newline is added), `rc=N`, an empty line.
set -euo pipefail
SCRIPT_NAME=pbs-record
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=pbs-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pbs-lib.sh"
OUT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/vectors/recorded" && pwd)/recorded-openpbs.txt}
U=${PBS_USERS%% *}
B=$PREFIX/bin
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$STATE/env" ] || die "$STATE/env is missing: run test/services/pbs-up.sh first"
UH=$(getent passwd "$U" | cut -d: -f6)
WD=$UH/pbs-record
rm -rf "$WD"
runuser -u "$U" -- mkdir -p "$WD"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
BODY=$TMP/body
: >"$BODY"

# rec LABEL COMMAND : run COMMAND (a bash command line) as $U in $WD, append the block; the output
# is in $LAST, the exit code in $LAST_RC
rec() {
  local rc=0
  (cd "$WD" && env -i HOME="$UH" USER="$U" LOGNAME="$U" SHELL=/bin/bash PATH=/usr/bin:/bin \
    LANG=C.UTF-8 /usr/sbin/runuser -u "$U" -- bash -c "$2") </dev/null >"$TMP/out" 2>&1 9>&- || rc=$?
  {
    printf '=== %s ===\n$ %s\n' "$1" "$2"
    cat "$TMP/out"
    [ ! -s "$TMP/out" ] || [ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ] || echo
    printf 'rc=%d\n\n' "$rc"
  } >>"$BODY"
  LAST=$(cat "$TMP/out")
  LAST_RC=$rc
}
# rec_root LABEL COMMAND : the same as root
rec_root() {
  local rc=0
  (cd / && bash -c "$2") </dev/null >"$TMP/out" 2>&1 9>&- || rc=$?
  { printf '=== %s (as root) ===\n$ %s\n' "$1" "$2"; cat "$TMP/out"; printf 'rc=%d\n\n' "$rc"; } >>"$BODY"
}
state_of() { "$B/qstat" -x -f "$1" 2>/dev/null | awk -F' = ' '$1 ~ /^ *job_state$/ { print $2 }'; }
# wait_state JOBID STATE TIMEOUT_S
wait_state() {
  local deadline=$(($(date +%s) + $3))
  until [ "$(state_of "$1")" = "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "job $1 is '$(state_of "$1")', not $2, after $3 s"
    sleep 0.2
  done
}
accepted() { if [ "$LAST_RC" -eq 0 ]; then echo "$LAST"; fi; } # the job id, if qsub took it
submit() { # submit LABEL QSUB_ARGS : record the qsub, print nothing; the job id is in $LAST
  rec "$1" "$B/qsub $2"
  [ $LAST_RC -eq 0 ] || die "qsub $2 failed: $LAST"
}

runuser -u "$U" -- bash -c "cd '$WD'
printf '#!/bin/bash\necho hello from \$PBS_JOBID on \$(hostname) in \$PWD\nsleep 8\necho done\n' >normal.sh
printf '#!/bin/bash\necho about to exit 3\nexit 3\n' >exit3.sh
printf '#!/bin/bash\necho killing myself\nkill -9 \$\$\necho not reached\n' >kill9.sh
printf '#!/bin/bash\necho sleeping 60\nsleep 60\necho slept\n' >sleep60.sh"

log "recording into $OUT (about a minute)"
T0=$(date +%s)
submit "qsub of a normal job" "-N normal normal.sh"
JN=$LAST
submit "qsub of a job that exits 3" "-N exit3 exit3.sh"
J3=$LAST
submit "qsub of a job that kills itself with signal 9" "-N kill9 kill9.sh"
JK=$LAST
submit "qsub with walltime 5 s of a job sleeping 60 s" "-N walltime -l walltime=00:00:05 sleep60.sh"
JW=$LAST
TW=$(date +%s)
submit "qsub of a job to be deleted while running" "-N qdel_running sleep60.sh"
JR=$LAST
submit "qsub -h of a job to be deleted while queued (held)" "-h -N qdel_queued sleep60.sh"
JQ=$LAST
MAXN=$(sed -n 's/^LRMS_PBS_MAX_NCPUS=//p' "$STATE/env")
QMGR="ip netns exec $NETNS $B/qmgr"
rec "qsub: more ncpus than the node has (select), queue resources_max.ncpus = ${MAXN:-unset}" \
  "$B/qsub -N too_many_cpus -l select=1:ncpus=16 normal.sh"
JC=$(accepted)
rec "qsub: more ncpus than the node has (job-wide -l ncpus), queue resources_max.ncpus = ${MAXN:-unset}" \
  "$B/qsub -N too_many_cpus2 -l ncpus=16 normal.sh"
JC2=$(accepted)
JC3='' JC4=''
if [ -n "$MAXN" ]; then
  # what the same requests do without the queue limit (put back at the end, also on failure)
  trap '$QMGR -c "set queue workq resources_max.ncpus = $MAXN" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
  rec_root "qmgr: the queue without its ncpus limit" "$QMGR -c 'unset queue workq resources_max.ncpus'"
  rec "qsub: more ncpus than the node has (select), no queue limit" \
    "$B/qsub -N too_many_cpus3 -l select=1:ncpus=16 normal.sh"
  JC3=$(accepted)
  rec "qsub: more ncpus than the node has (job-wide -l ncpus), no queue limit" \
    "$B/qsub -N too_many_cpus4 -l ncpus=16 normal.sh"
  JC4=$(accepted)
  rec_root "qmgr: the queue's ncpus limit back" "$QMGR -c 'set queue workq resources_max.ncpus = $MAXN'"
fi
rec "qsub: more memory than the node has (select); no queue limit on mem" \
  "$B/qsub -N too_much_mem -l select=1:mem=1000gb normal.sh"
JM=$(accepted)
rec "qsub: more memory than the node has (job-wide -l mem); no queue limit on mem" \
  "$B/qsub -N too_much_mem2 -l mem=1000gb normal.sh"
JM2=$(accepted)
rec "qsub: two chunks on different hosts (one node)" \
  "$B/qsub -N two_hosts -l select=2:ncpus=1 -l place=scatter normal.sh"
JS=$(accepted)
rec "qsub: walltime over the queue's resources_max.walltime" "$B/qsub -N too_long -l walltime=48:00:00 normal.sh"
rec "qsub: unknown queue" "$B/qsub -q nosuchqueue normal.sh"
rec "qsub: missing script" "$B/qsub /nonexistent/script.sh"

wait_state "$JN" R 30
sleep 2
rec "qstat -f of the running normal job" "$B/qstat -f $JN"
rec "qstat -f of the held job" "$B/qstat -f $JQ"
wait_state "$JR" R 30
sleep 3 # a qdel in the second the job starts ends as SIGKILL (265), not SIGTERM
rec "qstat -a while jobs run and wait" "$B/qstat -a"
rec "qdel of the running job" "$B/qdel $JR"
rec "qdel of the queued (held) job" "$B/qdel $JQ"
NEVER=()
for j in $JC $JC2 $JC3 $JC4 $JM $JM2 $JS; do
  [ -n "$j" ] && NEVER+=("$j")
done
if [ ${#NEVER[@]} -gt 0 ]; then
  sleep 2 # let a scheduling cycle comment on them
  for j in "${NEVER[@]}"; do
    name=$("$B/qstat" -f "$j" | awk -F' = ' '$1 ~ /^ *Job_Name$/ { print $2 }')
    rec "qstat -f of queued job $name (more than the node has), after a scheduling cycle" "$B/qstat -f $j"
    rec "qdel of queued job $name" "$B/qdel $j"
  done
fi
for j in "$JN" "$J3" "$JK" "$JR" "$JQ" "${NEVER[@]}"; do wait_state "$j" F 60; done
wait_state "$JW" F 120
TWF=$(( $(date +%s) - TW ))

for j in "$JN" "$J3" "$JK" "$JW" "$JR" "$JQ" "${NEVER[@]}"; do
  name=$("$B/qstat" -x -f "$j" | awk -F' = ' '$1 ~ /^ *Job_Name$/ { print $2 }')
  rec "qstat -f of finished job $name" "$B/qstat -f $j"
  rec "qstat -x -f of finished job $name" "$B/qstat -x -f $j"
  rec "qstat -x -f -F json of finished job $name" "$B/qstat -x -f -F json $j"
done
for j in "$JN" "$J3" "$JK" "$JW" "$JR"; do
  name=$("$B/qstat" -x -f "$j" | awk -F' = ' '$1 ~ /^ *Job_Name$/ { print $2 }')
  n=${j%%.*}
  rec "output files of $name" "wc -c $name.o$n $name.e$n; cat $name.o$n; echo '--- stderr:'; cat $name.e$n"
done
rec "qdel of a finished job" "$B/qdel $JN"
rec "qstat -f of an unknown job" "$B/qstat -f 999999.$NODE"
rec "qstat -x -f -F json of an unknown job" "$B/qstat -x -f -F json 999999.$NODE"
rec "qdel of an unknown job" "$B/qdel 999999.$NODE"
rec "qstat -x of every job" "$B/qstat -x"
rec "server status" "$B/qstat -B -f"
rec "queue status" "$B/qstat -Q -f"
rec "node status" "$B/pbsnodes -av"
rec_root "mail sent by the server (mailer stand-in)" "cat $STATE/mail.log"

tmpout=$OUT.new
{
  echo "# OpenPBS $("$B/qstat" --version | sed 's/.*= //') on Debian 12, recorded $(date -u +%FT%TZ) by test/services/pbs-record.sh"
  echo "# against test/services/pbs-up.sh: node = server = $NODE ($NODE_IP, network namespace $NETNS), clients on the host"
  echo "# (submit host $(hostname -s) = $HOST_IP); node resources_available.ncpus = $(sed -n 's/^LRMS_PBS_NCPUS=//p' "$STATE/env"),"
  echo "# resources_available.mem = $(sed -n 's/^LRMS_PBS_MEM=//p' "$STATE/env"); server flatuid = True, job_history_enable = True;"
  echo "# queue workq resources_max.walltime = $(sed -n 's/^LRMS_PBS_MAX_WALLTIME=//p' "$STATE/env"), resources_max.ncpus = ${MAXN:-unset}; MoM \$min_check_poll 2, \$max_check_poll 10, \$usecp *:/ /."
  echo "# Every command ran as $U (runuser, env -i, PATH=/usr/bin:/bin, cwd $WD) unless marked (as root)."
  echo "# Job scripts in $WD:"
  for f in normal.sh exit3.sh kill9.sh sleep60.sh; do
    echo "#   $f: $(tail -n +2 "$WD/$f" | tr '\n' ';')"
  done
  echo "# The walltime job reached state F ${TWF} s after its qsub; the whole recording took $(($(date +%s) - T0)) s."
  echo "# Blocks: '=== LABEL ===', '\$ COMMAND', the output (stdout and stderr merged), 'rc=EXIT CODE'."
  echo
  cat "$BODY"
} >"$tmpout"
mv -f "$tmpout" "$OUT"
rm -rf "$WD"
log "wrote $OUT ($(wc -l <"$OUT") lines, $(grep -c '^=== ' "$OUT") blocks) in $(($(date +%s) - T0)) s; walltime job in F after ${TWF} s"
