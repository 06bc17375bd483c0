#!/usr/bin/env bash
# Records what the real TORQUE of test/services/torque-up.sh prints for job arrays (elements
# queued, running, completed, deleted; the array's summary `N[]`), parallel shapes (nodes=:ppn=,
# node-exclusive -n, GPUs the node does not have), and rerun (requeued) and suspended jobs, in the
# `$ cmd` / output / `[rc=N]` format of test/_vectors.ts, with `=== label ===` lines the tests find
# the blocks by. Output is standard output, then standard error. Job ids differ from one recording to the next;
# the tests read them from the recorded replies.
#   record.sh [OUT]   (default: arrays.txt beside this script). Run as root: the commands run as
#   the test user lrmskey (runuser, cwd ~/vec-torque, made anew), those marked (as root) as root.
set -uo pipefail
OUT=${1:-$(cd "$(dirname "$0")" && pwd)/arrays.txt}
B=${LRMS_TORQUE_BIN:-/opt/torque/bin}
U=lrmskey
UH=$(getent passwd "$U" | cut -d: -f6)
WD=$UH/vec-torque
[ "$(id -u)" -eq 0 ] || { echo "record.sh: run as root" >&2; exit 1; }
rm -rf "$WD"
runuser -u "$U" -- mkdir -p "$WD"
LAST=
# run LABEL COMMAND : run COMMAND as $U in $WD, print the block; the output is kept in $LAST
# (standard output first, then standard error: the two are never interleaved)
ERRF=$(mktemp)
trap 'rm -f "$ERRF"' EXIT
run() {
  LAST=$(cd "$WD" && runuser -u "$U" -- env -i HOME="$UH" USER="$U" PATH=/usr/bin:/bin \
    LANG=C.UTF-8 bash -c "$2" 2>"$ERRF" </dev/null)
  local rc=$?
  printf '=== %s ===\n$ %s\n%s\n' "$1" "$2" "$LAST"
  [ ! -s "$ERRF" ] || cat "$ERRF"
  printf '[rc=%s]\n\n' "$rc"
}
run_root() {
  LAST=$(bash -c "$2" 2>"$ERRF" </dev/null)
  local rc=$?
  printf '=== %s (as root) ===\n$ %s\n%s\n' "$1" "$2" "$LAST"
  [ ! -s "$ERRF" ] || cat "$ERRF"
  printf '[rc=%s]\n\n' "$rc"
}
# until_ok SECONDS COMMAND : wait until COMMAND succeeds
until_ok() {
  local i
  for ((i = 0; i < $1 * 5; i++)); do bash -c "$2" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "record.sh: timed out waiting for: $2" >&2
  return 1
}
is() { printf '[ "$(%s/qstat -f %s 2>/dev/null | awk %s)" = %s ]' "$B" "$1" "'/job_state/ { print \$3 }'" "$2"; }
el() { printf '%s' "${1/\[\]/[$2]}"; } # el 12[].torque-node 3 -> 12[3].torque-node

runuser -u "$U" -- bash -c "cd '$WD'
printf '#!/bin/sh\necho element \$PBS_ARRAYID of \$PBS_JOBID\nsleep \$((PBS_ARRAYID * 3))\nexit \$PBS_ARRAYID\n' >arr.sh
printf '#!/bin/sh\nsleep 60\n' >sleep.sh
printf '#!/bin/sh\necho nodefile:; cat \"\$PBS_NODEFILE\"; echo PBS_NUM_NODES=\$PBS_NUM_NODES PBS_NUM_PPN=\$PBS_NUM_PPN PBS_NP=\$PBS_NP\nsleep 5\n' >shape.sh"
Q="$B/qsub"
{
  echo "# TORQUE $("$B/qstat" --version 2>&1 | sed -n 's/^Version: //p'), recorded $(date -u +%FT%TZ) by test/data/vectors/torque/record.sh"
  echo "# Job scripts in $WD: arr.sh: echo element \$PBS_ARRAYID of \$PBS_JOBID; sleep \$((PBS_ARRAYID * 3)); exit \$PBS_ARRAYID"
  echo "#   sleep.sh: sleep 60; shape.sh: cat \$PBS_NODEFILE; echo PBS_NUM_NODES PBS_NUM_PPN PBS_NP; sleep 5"
  echo
  run "limit" "$B/qmgr -c 'list server max_job_array_size'"

  run "array of 4, throttle 2" "$Q -N vec-arr -o $WD/arr.out -e $WD/arr.err -r n -t 0-3%2 arr.sh"
  A=$LAST
  run "array of one element" "$Q -N vec-one -h -t 0-0 sleep.sh"
  ONE=$LAST
  run "held array" "$Q -N vec-held -h -t 0-2 sleep.sh"
  H=$LAST
  until_ok 60 "$(is "$(el "$A" 0)" C)"
  until_ok 60 "$(is "$(el "$A" 2)" R)"
  run "qstat -t" "$B/qstat -t $A $H $ONE"
  run "qstat summary" "$B/qstat $A $H $ONE"
  run "qstat -f elements" "$B/qstat -f $(el "$A" 0) $(el "$A" 1) $(el "$A" 2) $(el "$A" 3) $(el "$H" 1) 99999[1].torque-node"
  run "qstat -f summary" "$B/qstat -f $A"
  run "qstat -a -t" "$B/qstat -a -t"

  run "qdel queued element" "$B/qdel $(el "$H" 1)"
  sleep 1
  run "qstat after qdel of queued element" "$B/qstat -f $(el "$H" 1) $(el "$H" 0)"
  run "two elements running" "$Q -N vec-del -t 0-1 sleep.sh"
  R=$LAST
  until_ok 60 "$(is "$(el "$R" 1)" R)"
  run "qdel running element" "$B/qdel $(el "$R" 1)"
  until_ok 60 "$(is "$(el "$R" 1)" C)"
  run "qstat after qdel of running element" "$B/qstat -f $(el "$R" 1) $(el "$R" 0)"

  until_ok 60 "$(is "$(el "$A" 3)" C)"
  run "qstat -f completed elements" "$B/qstat -f $(el "$A" 0) $(el "$A" 1) $(el "$A" 2) $(el "$A" 3)"
  run "element output files" "ls $WD | grep '^arr\\.' ; cat $WD/arr.out-3"
  run "tracejob of an element" "$B/tracejob -n 1 $(el "$A" 3)"

  run "parallel shape: 2 processes x 2 cores on one node" "$Q -N vec-shape -o $WD/shape.out -j oe -l nodes=1:ppn=4 shape.sh"
  S=$LAST
  until_ok 60 "$(is "$S" C)"
  run "qstat -f of the parallel shape" "$B/qstat -f $S"
  run "PBS_NODEFILE of the parallel shape" "cat $WD/shape.out"
  run "exclusive node" "$Q -N vec-excl -h -n -l nodes=1:ppn=2 sleep.sh"
  X=$LAST
  run "qstat -f of the exclusive job" "$B/qstat -f $X | grep -E 'Resource_List|job_state|node_exclusive'"
  run "GPUs the node does not have" "$Q -N vec-gpu -h -l nodes=1:ppn=1:gpus=1 sleep.sh"

  run "rerunnable job" "$Q -N vec-rq -r y sleep.sh"
  RQ=$LAST
  run "not rerunnable job" "$Q -N vec-norq -r n sleep.sh"
  NR=$LAST
  until_ok 60 "$(is "$RQ" R)"
  until_ok 60 "$(is "$NR" R)"
  run_root "qrerun and qstat at once" "$B/qrerun $RQ; $B/qstat -f $RQ"
  run_root "qrerun of a job not rerunnable" "$B/qrerun $NR"
  until_ok 60 "$(is "$RQ" R)"
  run "qstat -f rerun job running again" "$B/qstat -f $RQ"
  run_root "suspend" "$B/qsig -s suspend $RQ"
  sleep 2
  run "qstat -f suspended" "$B/qstat -f $RQ | grep -E 'job_state|exit_status|start_count'"
  run_root "resume" "$B/qsig -s resume $RQ"

  run "cleanup" "$B/qdel $ONE $H $R $X $RQ $NR 2>&1; true"
} >"$OUT"
echo "recorded into $OUT" >&2
