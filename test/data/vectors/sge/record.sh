#!/usr/bin/env bash
# Records what a real Grid Engine (the cell of test/services/sge-up.sh) prints for job arrays,
# rescheduled (requeued), suspended and deleted jobs, in the `$ cmd` / output / `[rc=N]` format
# of test/_vectors.ts, with `=== label ===` lines the tests find the blocks by. Job ids differ
# from one recording to the next; the tests read them from the recorded replies.
#   record.sh [OUT]    (default: arrays.txt beside this script); run where qsub works
set -uo pipefail
OUT=${1:-$(cd "$(dirname "$0")" && pwd)/arrays.txt}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
LAST=
# run LABEL COMMAND : print the block; the output is kept in $LAST
run() {
  LAST=$(sh -c "$2" 2>&1)
  local rc=$?
  printf '=== %s ===\n$ %s\n%s\n[rc=%s]\n\n' "$1" "$2" "$LAST" "$rc"
}
# until SECONDS COMMAND : wait until COMMAND succeeds
until_ok() {
  local i
  for ((i = 0; i < $1 * 2; i++)); do sh -c "$2" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "record.sh: timed out waiting for: $2" >&2
  return 1
}
state() { qstat | awk -v j="$1" '$1 == j { print $5; exit }'; }
idof() { sed -n 's/^Your job\(-array\)\{0,1\} \([0-9]*\).*/\2/p' <<<"$LAST"; }
{
  echo "# Son of Grid Engine $(qstat -help 2>&1 | head -1), recorded by test/data/vectors/sge/record.sh"
  echo
  run "limit" "qconf -sconf"

  # from a directory named like the library's job directories (job.<tag>), with -cwd as it does
  mkdir -p "$WORK/job.vec-array-tag" && cd "$WORK/job.vec-array-tag" || exit 1
  run "array held" "qsub -cwd -t 1-4 -h -N vec-arrh -o /dev/null -j y -b y true"
  A=$(idof)
  cd "$WORK" || exit 1
  printf 'sleep 8\nexit $((SGE_TASK_ID %% 3))\n' >task.sh
  run "array throttled" "qsub -t 1-6 -tc 2 -N vec-arrtc -o /dev/null -j y task.sh"
  B=$(idof)
  run "array details" "qstat -j $A"
  until_ok 60 "qstat | awk '\$1 == $B && \$5 == \"r\"' | grep -c . | grep -qx 2"
  run "qstat arrays" "qstat"
  run "qstat arrays by task" "qstat -g d"
  run "qstat arrays -t" "qstat -t"

  run "qdel element" "qdel $A.2"
  run "qdel -t" "qdel $A -t 3"
  run "qdel missing element" "qdel $A.9"
  run "qstat after qdel" "qstat"
  run "qdel elements of two arrays" "qdel $B.6 $A.4"
  run "qstat after qdel of two" "qstat"
  run "qdel array" "qdel $A"

  until_ok 120 "! qstat | awk '\$1 == $B' | grep -q ."
  until_ok 30 "qacct -j $B | grep -qx 'taskid *5 *'"
  run "qacct array" "qacct -j $B"
  run "qacct element" "qacct -j $B -t 2"
  run "qacct deleted element" "qacct -j $B -t 6"
  run "qacct dotted id" "qacct -j $B.2 | grep -E '^(jobnumber|taskid)'"
  run "qacct pending-deleted array" "qacct -j $A"

  run "rerunnable job" "qsub -r y -N vec-rq -o /dev/null -j y -b y sleep 30"
  C=$(idof)
  run "not rerunnable job" "qsub -r n -N vec-norq -o /dev/null -j y -b y sleep 30"
  D=$(idof)
  until_ok 60 "[ \"\$(qstat | awk '\$1 == $C { print \$5 }')\" = r ]"
  until_ok 60 "[ \"\$(qstat | awk '\$1 == $D { print \$5 }')\" = r ]"
  run "reschedule" "qmod -rj $C"
  run "reschedule refused" "qmod -rj $D"
  run "qstat rescheduled" "qstat"
  run "qacct rescheduled" "qacct -j $C"
  until_ok 120 "[ \"\$(qstat | awk '\$1 == $C { print \$5 }')\" = Rr ]"
  run "qstat rescheduled running" "qstat"
  run "suspend" "qmod -sj $C"
  run "qstat suspended" "qstat"
  run "unsuspend" "qmod -usj $C"
  run "delete running" "qdel $C $D"
  run "qstat deleting" "qstat"
  until_ok 60 "! qstat | awk '\$1 == $C || \$1 == $D' | grep -q ."
  until_ok 30 "[ \$(qacct -j $C | grep -c '^jobnumber') -ge 2 ]"
  run "qacct rescheduled then deleted" "qacct -j $C"

  printf 'cat "$PE_HOSTFILE"; echo "NSLOTS=$NSLOTS NHOSTS=$NHOSTS PE=$PE"\n' >pe.sh
  run "parallel job" "qsub -pe smp 4 -N vec-pe -o $WORK/pe.out -j y pe.sh"
  E=$(idof)
  until_ok 60 "qacct -j $E | grep -q '^exit_status'"
  run "parallel job output" "cat $WORK/pe.out"
  run "qacct parallel job" "qacct -j $E"
  run "too many nodes refused" "qsub -w e -pe mpi2 4 -N vec-mpi2 -o /dev/null -j y pe.sh"
  run "one node's worth accepted" "qsub -w v -pe mpi2 2 -N vec-mpi2 -o /dev/null -j y pe.sh"
} >"$OUT"
echo "recorded into $OUT" >&2
