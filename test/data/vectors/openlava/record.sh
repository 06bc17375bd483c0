#!/usr/bin/env bash
# Records what the real OpenLava of test/services/lsf-up.sh prints for job arrays (elements
# pending, running, done, exited, killed), parallel shapes (-n with span[ptile=], more hosts than
# exist, exclusive and GPU requests it cannot take), requeued (brequeue), held and suspended jobs,
# in the `$ cmd` / output / `[rc=N]` format of test/_vectors.ts, with `=== label ===` lines the
# tests find the blocks by. Output is standard output, then standard error. Job ids differ from one
# recording to the next; the tests read them from the recorded replies.
#   record.sh [OUT]   (default: arrays.txt beside this script). Run as root: the commands run as
#   the test user lrmskey (runuser, a login shell for OpenLava's PATH, cwd ~/vec-openlava, made
#   anew). LRMS_RECORD_CRASHERS=1 also records `bsub -gpu`, which kills OpenLava's mbatchd for
#   about 30 s (sbatchd restarts it): never while others use the server.
set -uo pipefail
OUT=${1:-$(cd "$(dirname "$0")" && pwd)/arrays.txt}
U=lrmskey
UH=$(getent passwd "$U" | cut -d: -f6)
WD=$UH/vec-openlava
[ "$(id -u)" -eq 0 ] || { echo "record.sh: run as root" >&2; exit 1; }
rm -rf "$WD"
runuser -u "$U" -- mkdir -p "$WD"
LAST=
# (standard output first, then standard error: the two are never interleaved)
ERRF=$(mktemp)
trap 'rm -f "$ERRF"' EXIT
# run LABEL COMMAND : run COMMAND as $U in $WD, print the block; the output is kept in $LAST
run() {
  LAST=$(cd "$WD" && runuser -u "$U" -- bash -lc "cd '$WD' && $2" 2>"$ERRF" </dev/null)
  local rc=$?
  printf '=== %s ===\n$ %s\n%s\n' "$1" "$2" "$LAST"
  [ ! -s "$ERRF" ] || cat "$ERRF"
  printf '[rc=%s]\n\n' "$rc"
}
# until_ok SECONDS COMMAND : wait until COMMAND (run as $U) succeeds
until_ok() {
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    runuser -u "$U" -- bash -lc "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "record.sh: timed out waiting for: $2" >&2
  return 1
}
# is ID STATUS : a command that succeeds when bjobs says the job has that status
is() { printf "bjobs -a -l '%s' 2>/dev/null | tr -d '\\\\n ' | grep -q 'Status<%s>'" "$1" "$2"; }
idof() { sed -n 's/^Job <\([0-9]*\)> is submitted.*/\1/p' <<<"$LAST"; }

runuser -u "$U" -- bash -c "cd '$WD'
printf '#!/bin/sh\necho element \$LSB_JOBINDEX of \$LSB_JOBID\nsleep \$((LSB_JOBINDEX * 3))\nexit \$LSB_JOBINDEX\n' >arr.sh
printf '#!/bin/sh\nsleep 60\nexit 4\n' >sleep.sh
printf '#!/bin/sh\necho LSB_HOSTS=\$LSB_HOSTS\necho LSB_MCPU_HOSTS=\$LSB_MCPU_HOSTS\nsleep 5\n' >shape.sh
chmod +x arr.sh sleep.sh shape.sh"
{
  echo "# OpenLava $(lsid -V 2>&1 | head -1), recorded $(date -u +%FT%TZ) by test/data/vectors/openlava/record.sh"
  echo "# Job scripts in $WD: arr.sh: echo element \$LSB_JOBINDEX of \$LSB_JOBID; sleep \$((LSB_JOBINDEX * 3)); exit \$LSB_JOBINDEX"
  echo "#   sleep.sh: sleep 60; exit 4; shape.sh: echo LSB_HOSTS, LSB_MCPU_HOSTS; sleep 5"
  echo
  run "limit" "bparams -l"

  run "array of 4, throttle 2" "bsub -J 'vec-arr[1-4]%2' -o $WD/arr.out-%I -e $WD/arr.err-%I $WD/arr.sh"
  A=$(idof)
  run "array of one element" "bsub -J 'vec-one[1-1]' -o /dev/null $WD/sleep.sh"
  ONE=$(idof)
  run "held array" "bsub -H -J 'vec-held[1-3]' -o /dev/null $WD/sleep.sh"
  H=$(idof)
  until_ok 60 "$(is "$A[1]" EXIT)"
  until_ok 60 "$(is "$A[3]" RUN)"
  run "bjobs -w" "bjobs -w $A $H $ONE"
  run "bjobs -A" "bjobs -A $A $H"
  run "bjobs -a -l elements" "bjobs -a -l '$A[1]' '$A[2]' '$A[3]' '$A[4]' '$H[2]' '99999[1]'"
  run "bjobs -u all -w" "bjobs -u all -w"

  run "bkill pending element" "bkill '$H[2]'"
  sleep 2
  run "bjobs after bkill of pending element" "bjobs -a -l '$H[2]' '$H[1]'"
  run "two elements running" "bsub -J 'vec-del[1-2]' -o /dev/null $WD/sleep.sh"
  R=$(idof)
  until_ok 60 "$(is "$R[2]" RUN)"
  run "bkill running element" "bkill '$R[2]'"
  until_ok 60 "$(is "$R[2]" EXIT)"
  run "bjobs after bkill of running element" "bjobs -a -l '$R[2]' '$R[1]'"

  until_ok 60 "$(is "$A[4]" EXIT)"
  run "bjobs -a -l finished array" "bjobs -a -l $A"
  run "bhist -l elements" "bhist -l '$A[1]' '$A[2]' '$A[3]' '$A[4]' '$R[2]'"
  run "element output files" "ls $WD | grep '^arr\\.' ; grep -h '^element' $WD/arr.out-4"

  run "parallel shape: 2 processes x 2 cores on one host" "bsub -J vec-shape -n 4 -R 'span[ptile=4]' -o $WD/shape.out $WD/shape.sh"
  S=$(idof)
  until_ok 60 "$(is "$S" DONE)"
  run "bjobs -l of the parallel shape" "bjobs -a -l $S"
  run "LSB_HOSTS of the parallel shape" "grep '^LSB_' $WD/shape.out"
  run "two hosts on the one-host cluster" "bsub -J vec-2h -n 2 -R 'span[ptile=1]' -o /dev/null $WD/sleep.sh"
  N2=$(idof)
  sleep 4
  run "bjobs -l of the two-host job" "bjobs -a -l $N2"
  run "exclusive" "bsub -J vec-excl -x -o /dev/null $WD/sleep.sh"
  # OpenLava's mbatchd dies on `bsub -gpu` (sbatchd restarts it some 30 s later): recorded once,
  # on 2026-12-08, and only run again when asked
  if [ "${LRMS_RECORD_CRASHERS:-0}" = 1 ]; then
    run "GPUs" "bsub -J vec-gpu -gpu num=1 -o /dev/null $WD/sleep.sh"
  fi

  run "rerunnable job" "bsub -r -J vec-rq -o /dev/null $WD/sleep.sh"
  RQ=$(idof)
  until_ok 60 "$(is "$RQ" RUN)"
  run "brequeue" "brequeue $RQ"
  run "bjobs -l at once after brequeue" "bjobs -a -l $RQ"
  until_ok 60 "bhist -l $RQ | tr -d '\\n ' | grep -q 'requeued;.*Running'"
  run "bjobs -l requeued, running again" "bjobs -a -l $RQ"
  run "bhist -l requeued, running again" "bhist -l $RQ"
  run "bstop" "bstop $RQ"
  until_ok 30 "$(is "$RQ" USUSP)"
  run "bjobs -l suspended" "bjobs -a -l $RQ"
  run "bresume" "bresume $RQ"
  run "bjobs -l held at submission" "bjobs -a -l '$H[1]'"

  run "cleanup" "bkill $ONE $H $R $N2 $RQ 2>&1; true"
} >"$OUT"
echo "recorded into $OUT" >&2
