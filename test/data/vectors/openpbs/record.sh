#!/usr/bin/env bash
# Records what the real OpenPBS of test/services/pbs-up.sh prints for job arrays (subjobs queued,
# running, finished, deleted; the parent `N[]`), parallel shapes (select/place, exclusive, more
# chunks than nodes, GPUs the server does not know), and rerun (requeued) and suspended jobs, in
# the `$ cmd` / output / `[rc=N]` format of test/_vectors.ts, with `=== label ===` lines the tests
# find the blocks by. Output is standard output, then standard error. Job ids differ from one recording to the
# next; the tests read them from the recorded replies.
#   record.sh [OUT]   (default: arrays.txt beside this script). Run as root: the commands run as
#   the test user lrmskey (runuser, cwd ~/vec-pbs, made anew), those marked (as root) as root.
set -uo pipefail
OUT=${1:-$(cd "$(dirname "$0")" && pwd)/arrays.txt}
B=${LRMS_PBS_BIN:-/opt/pbs/bin}
U=lrmskey
UH=$(getent passwd "$U" | cut -d: -f6)
WD=$UH/vec-pbs
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
state() { "$B/qstat" -x -f "$1" 2>/dev/null | awk -F' = ' '$1 ~ /^ *job_state$/ { print $2 }'; }
el() { printf '%s' "${1/\[\]/[$2]}"; } # el 12[].pbs-node 3 -> 12[3].pbs-node

runuser -u "$U" -- bash -c "cd '$WD'
printf '#!/bin/sh\necho element \$PBS_ARRAY_INDEX of \$PBS_JOBID\nsleep \$((PBS_ARRAY_INDEX * 3))\nexit \$PBS_ARRAY_INDEX\n' >arr.sh
printf '#!/bin/sh\nsleep 60\n' >sleep.sh
printf '#!/bin/sh\necho nodefile:; cat \"\$PBS_NODEFILE\"; echo OMP_NUM_THREADS=\$OMP_NUM_THREADS NCPUS=\$NCPUS\nsleep 20\n' >shape.sh"
Q="$B/qsub -f"
{
  echo "# OpenPBS $("$B/qstat" --version 2>&1 | sed 's/^pbs_version = //'), recorded $(date -u +%FT%TZ) by test/data/vectors/openpbs/record.sh"
  echo "# Job scripts in $WD: arr.sh: echo element \$PBS_ARRAY_INDEX of \$PBS_JOBID; sleep \$((PBS_ARRAY_INDEX * 3)); exit \$PBS_ARRAY_INDEX"
  echo "#   sleep.sh: sleep 60; shape.sh: cat \$PBS_NODEFILE; echo OMP_NUM_THREADS=\$OMP_NUM_THREADS NCPUS=\$NCPUS; sleep 20"
  echo
  run "limit" "$B/qmgr -c 'list server max_array_size'"

  run "array of 4, throttle 2" "$Q -N vec-arr -o $WD/arr.out-^array_index^ -e $WD/arr.err-^array_index^ -r y -J 0-3%2 arr.sh"
  A=$LAST
  run "array of one element" "$Q -N vec-one -h -J 0-1:2 sleep.sh"
  ONE=$LAST
  run "one-element range refused" "$Q -N vec-bad -h -J 0-0 sleep.sh"
  run "non-rerunable array refused" "$Q -N vec-bad -h -r n -J 0-1 sleep.sh"
  run "array over the limit refused" "$Q -N vec-bad -h -J 0-10000 sleep.sh"
  run "held array" "$Q -N vec-held -h -J 0-2 sleep.sh"
  H=$LAST
  until_ok 60 "[ \"\$($B/qstat -x -f '$(el "$A" 0)' | awk '/job_state/ { print \$3 }')\" = X ]"
  until_ok 60 "[ \"\$($B/qstat -x -f '$(el "$A" 2)' | awk '/job_state/ { print \$3 }')\" = R ]"
  run "qstat -t" "$B/qstat -t $A $H $ONE"
  run "qstat -x -f -F json elements" "$B/qstat -x -f -F json $(el "$A" 0) $(el "$A" 1) $(el "$A" 2) $(el "$A" 3) $(el "$H" 1) 99999[1].pbs-node"
  run "qstat -x -f elements" "$B/qstat -x -f $(el "$A" 0) $(el "$A" 2) $(el "$H" 1)"
  run "qstat -x -f -F json parent" "$B/qstat -x -f -F json $A"
  run "qstat -x -t -f -F json parent and subjobs" "$B/qstat -x -t -f -F json $H"
  run "qstat -a" "$B/qstat -a"

  run "qdel queued element" "$B/qdel $(el "$H" 1)"
  run "qstat after qdel of queued element" "$B/qstat -x -f -F json $(el "$H" 1) $(el "$H" 0)"
  run "two elements running" "$Q -N vec-del -J 0-1 sleep.sh"
  R=$LAST
  until_ok 60 "[ \"\$($B/qstat -x -f '$(el "$R" 1)' | awk '/job_state/ { print \$3 }')\" = R ]"
  run "qdel running element" "$B/qdel $(el "$R" 1)"
  until_ok 30 "[ \"\$($B/qstat -x -f '$(el "$R" 1)' | awk '/job_state/ { print \$3 }')\" = X ]"
  run "qstat after qdel of running element" "$B/qstat -x -f -F json $(el "$R" 1) $(el "$R" 0)"

  until_ok 60 "[ \"\$($B/qstat -x -f '$A' | awk '/job_state/ { print \$3 }')\" = F ]"
  run "qstat -x -f -F json finished elements" "$B/qstat -x -f -F json $(el "$A" 0) $(el "$A" 1) $(el "$A" 2) $(el "$A" 3) $A"
  run "element output files" "ls $WD | grep '^arr\\.' ; cat $WD/arr.out-3"
  run "tracejob of an element" "$B/tracejob -n 1 $(el "$A" 3)"
  run_root "tracejob of an element" "$B/tracejob -n 1 $(el "$A" 3)"

  run "parallel shape: 2 processes x 2 cores on one node" "$Q -N vec-shape -o $WD/shape.out -j oe -l select=1:ncpus=4:mpiprocs=2:ompthreads=2 -l place=pack shape.sh"
  S=$LAST
  until_ok 60 "[ \"\$($B/qstat -x -f '$S' | awk '/job_state/ { print \$3 }')\" = F ]"
  run "qstat -x -f -F json of the parallel shape" "$B/qstat -x -f -F json $S"
  run "PBS_NODEFILE and OMP_NUM_THREADS of the parallel shape" "cat $WD/shape.out"
  run "exclusive node" "$Q -N vec-excl -h -l select=1:ncpus=2:mpiprocs=2:ompthreads=1 -l place=pack:excl sleep.sh"
  X=$LAST
  run "qstat -f of the exclusive job" "$B/qstat -f $X | grep -E 'Resource_List|job_state'"
  run "processes left to the scheduler: free placement" "$Q -N vec-free -h -l select=3:ncpus=1:mpiprocs=1:ompthreads=1 -l place=free sleep.sh"
  F=$LAST
  run "qstat -f of the free placement" "$B/qstat -f $F | grep -E 'Resource_List|job_state'"
  run "two nodes on the one-node cluster" "$Q -N vec-2n -l select=2:ncpus=1:mpiprocs=1:ompthreads=1 -l place=scatter sleep.sh"
  N2=$LAST
  sleep 4
  run "qstat -f of the two-node job" "$B/qstat -f $N2 | grep -E 'Resource_List|job_state|comment'"
  run "GPUs the server does not know" "$Q -N vec-gpu -h -l select=1:ncpus=1:mpiprocs=1:ompthreads=1:ngpus=1 -l place=pack sleep.sh"

  run "rerunnable job" "$Q -N vec-rq -r y sleep.sh"
  RQ=$LAST
  run "not rerunnable job" "$Q -N vec-norq -r n sleep.sh"
  NR=$LAST
  until_ok 60 "[ \"\$($B/qstat -x -f '$RQ' | awk '/job_state/ { print \$3 }')\" = R ]"
  until_ok 60 "[ \"\$($B/qstat -x -f '$NR' | awk '/job_state/ { print \$3 }')\" = R ]"
  run_root "qrerun and qstat at once" "$B/qrerun $RQ; $B/qstat -x -f -F json $RQ"
  run_root "qrerun of a job not rerunnable" "$B/qrerun $NR"
  until_ok 60 "[ \"\$($B/qstat -x -f '$RQ' | awk '/job_state/ { print \$3 }')\" = R ]"
  run "qstat -x -f -F json rerun job running again" "$B/qstat -x -f -F json $RQ"
  run_root "suspend" "$B/qsig -s suspend $RQ"
  until_ok 30 "[ \"\$($B/qstat -x -f '$RQ' | awk '/job_state/ { print \$3 }')\" = S ]"
  run "qstat -x -f -F json suspended" "$B/qstat -x -f -F json $RQ"
  run_root "resume" "$B/qsig -s resume $RQ"

  run "cleanup" "$B/qdel -W force $ONE $H $R $X $F $N2 $RQ $NR 2>&1 | grep -v 'Job has finished' ; true"
} >"$OUT"
echo "recorded into $OUT" >&2
