#!/usr/bin/env bash
# Record what the real SLURM of slurm-up.sh prints about job arrays, requeued and preempted jobs,
# and parallel jobs with GPUs, for the parser tests: writes test/data/vectors/slurm/arrays.txt,
# requeue.txt and parallel.txt (or into the directory given as $1). Run as root, with the cluster
# of slurm-up.sh up (its env file must exist); the jobs run as root in STATE/record, made anew.
# Takes about 40 s. Each output file is replaced as a whole.
# Each block: `=== LABEL ===`, `$ COMMAND`, the output (stdout and stderr merged, verbatim; a
# missing final newline is added), `[rc=N]`, an empty line. Labels are unique per file: the tests
# find blocks by label, since job ids change from one recording to the next.
# Preemption needs the node to itself for a few seconds (the urgent job takes every GPU, so only
# jobs holding GPUs can be preempted): it waits until no other job runs or waits.
set -euo pipefail
SCRIPT_NAME=slurm-record
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SLURM_DIR:-/tmp/effect-lrms-slurm}
OUT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/vectors" && pwd)/slurm}
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$STATE/env" ] || die "$STATE/env is missing: run test/services/slurm-up.sh first"
export SLURM_CONF=$STATE/etc/slurm.conf SLURM_TIME_FORMAT=standard
URGENT=$(sed -n 's/^LRMS_SLURM_PREEMPT_PARTITION=//p' "$STATE/env")
GPUS=$(sed -n 's/^LRMS_SLURM_NODE_GPUS=//p' "$STATE/env")
[ -n "$URGENT" ] && [ "${GPUS:-0}" -gt 0 ] || die "the cluster has no urgent partition or GPUs: rerun slurm-up.sh"
WD=$STATE/record
rm -rf "$WD"
mkdir -p "$WD" "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# the argvs of backends/slurm (formats and columns), so the outputs are what the parsers get
SQ="squeue --noheader --all --states=all --format=%i^%T^%r^%A"
SQA="squeue --noheader --all --array --states=all --format=%i^%T^%r^%A"
SACCT_COLS=JobID,State,ExitCode,Elapsed,TotalCPU,NCPUS,MaxRSS,MaxVMSize,Submit,Start,End,AllocTRES,JobIDRaw
SACCT="sacct --noheader --parsable2 --format=$SACCT_COLS"

FILE=
# rec LABEL COMMAND : run COMMAND (a bash command line) in $WD, append the block to $FILE; the
# output is in $LAST
rec() {
  local rc=0
  (cd "$WD" && bash -c "$2") </dev/null >"$TMP/out" 2>&1 9>&- || rc=$?
  LAST=$(cat "$TMP/out")
  {
    printf '=== %s ===\n$ %s\n' "$1" "$2"
    cat "$TMP/out"
    [ ! -s "$TMP/out" ] || [ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ] || echo
    printf '[rc=%d]\n\n' "$rc"
  } >>"$FILE"
}
begin() { # begin NAME : start a new output file
  FILE=$TMP/$1
  printf '# recorded by test/services/slurm-record.sh, %s, %s\n\n' "$(date -u +%F)" \
    "$(sbatch --version)" >"$FILE"
}
finish() { mv -f "$FILE" "$OUT/$(basename "$FILE")" && log "wrote $OUT/$(basename "$FILE")"; }
# state_is JOB STATE : the job (or element) is in STATE for squeue
state_is() { [ "$(squeue -h -r -t all -j "$1" -o %T 2>/dev/null | sort -u)" = "$2" ]; }
acct_lists() { [ -n "$(sacct -n -P -X -j "$1" -o JobID 2>/dev/null)" ]; }
not_completing() { ! state_is "$1" COMPLETING; }
# acct_done JOB... : sacct has a final state for every master record of the jobs
acct_done() {
  local s id
  for id in "$@"; do
    s=$(sacct -n -P -X -j "$id" -o State 2>/dev/null) || return 1
    [ -n "$s" ] || return 1
    ! grep -Eq '^(PENDING|RUNNING|REQUEUED|RESIZING|SUSPENDED|COMPLETING)|^$' <<<"$s" || return 1
  done
}
# others : the jobs (arrays by their array id) that are not ours and run or wait
others() { squeue -h -t PD,R,CG,S -o %F | grep -vxF -f "$TMP/mine" || true; }
mine() { printf '%s\n' "$@" >>"$TMP/mine"; }
: >"$TMP/mine"

# === arrays ========================================================================================
begin arrays.txt
# an array's directory, named as the batch flow names it (job.array-<uuid>): its tag
TAG=array-$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$WD/job.$TAG"
rec "limit: MaxArraySize" "scontrol show config | grep -E '^(MaxArraySize|MaxJobCount) '"
rec "limit: scontrol show config" "scontrol show config"
rec "submit: held array of 4, elements exit with their index" \
  "sbatch --hold --array=0-3 --job-name=lrms-arr --chdir=$WD/job.$TAG --output=$WD/arr-%A_%a.out --no-requeue --wrap 'echo element \$SLURM_ARRAY_TASK_ID; exit \$SLURM_ARRAY_TASK_ID'"
A=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
[ -n "$A" ] || die "no array id in: $LAST"
mine "$A"
rec "held: squeue without --array" "$SQ --jobs=$A"
rec "held: squeue --array" "$SQA --jobs=$A"
rec "held: squeue --array, two elements" \
  "$SQA --jobs=${A}_1,${A}_3"
rec "held: squeue without --array, two elements" "$SQ --jobs=${A}_1,${A}_3"
# the pending array reaches accounting a few seconds after its submission, as one range record
wait_for 20 "array $A in sacct" acct_lists "$A" || true
rec "held: sacct of the array" "$SACCT --jobs=$A"
rec "held: sacct of an element" "$SACCT --jobs=${A}_2"
rec "held: tags" "squeue --noheader --states=all --user=root --format=%i^%Z"
rec "release" "scontrol release $A"
wait_for 60 "array $A in sacct" acct_done "${A}_0" "${A}_1" "${A}_2" "${A}_3" || die "array $A did not end"
rec "ended: squeue --array" "$SQA --jobs=$A"
rec "ended: squeue --array, elements" \
  "$SQA --jobs=${A}_0,${A}_2,${A}_3"
rec "ended: sacct of the elements" "$SACCT --jobs=${A}_0,${A}_1,${A}_2,${A}_3"
rec "ended: sacct JobID and JobIDRaw" \
  "sacct --noheader --parsable2 --format=JobID,JobIDRaw,State,ExitCode --jobs=$A"
RAW0=$(sacct -n -P -X -j "${A}_0" -o JobIDRaw | head -1)
rec "ended: squeue --array, an element by its raw id" "$SQA --jobs=$RAW0"
rec "ended: sacct, an element by its raw id" "$SACCT --jobs=$RAW0"
rec "ended: outputs" "cat $WD/arr-${A}_*.out"

rec "submit: throttled array of 6, 2 at once" \
  "sbatch --array=0-5%2 --job-name=lrms-thr --chdir=$WD --output=/dev/null --no-requeue --wrap 'sleep 20'"
B=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$B"
wait_for 30 "2 elements of $B running" state_is "${B}_0" RUNNING || die "array $B does not run"
wait_for 30 "2 elements of $B running" state_is "${B}_1" RUNNING || die "array $B does not run"
rec "throttled: squeue without --array" "$SQ --jobs=$B"
rec "throttled: squeue --array" "$SQA --jobs=$B"
rec "throttled: sacct" "$SACCT --jobs=$B"
rec "throttled: tags" "squeue --noheader --states=all --user=root --format=%i^%Z"
rec "throttled: scancel a running and two pending elements" "scancel ${B}_0,${B}_4,${B}_5"
sleep 2
rec "throttled: squeue --array after scancel" \
  "$SQA --jobs=${B}_0,${B}_1,${B}_2,${B}_3,${B}_4,${B}_5"
rec "throttled: scancel the array" "scancel $B"
wait_for 30 "array $B in sacct" acct_done "${B}_0" "${B}_1" "${B}_2" "${B}_3" || die "array $B did not end"
sleep 1
rec "throttled: sacct after scancel" "$SACCT --jobs=${B}_0,${B}_1,${B}_2,${B}_3,${B}_4,${B}_5"
rec "refused: array larger than MaxArraySize" "sbatch --array=0-20000 --wrap true"
rec "refused: scancel of an element that never was" "scancel ${B}_99"
finish

# === requeue and preemption =========================================================================
begin requeue.txt
rec "submit: --requeue" \
  "sbatch --requeue --job-name=lrms-rq --chdir=$WD --output=$WD/rq-%j.out --open-mode=append --wrap 'echo run \$SLURM_RESTART_COUNT; sleep 60'"
R=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$R"
wait_for 30 "job $R running" state_is "$R" RUNNING || die "job $R does not run"
rec "running: squeue" "$SQ --jobs=$R"
rec "scontrol requeue" "scontrol requeue $R"
rec "requeued: squeue at once" "$SQ --jobs=$R"
sleep 1
rec "requeued: squeue 1 s later" "$SQ --jobs=$R"
rec "requeued: scontrol show job" "scontrol show job $R"
rec "requeued: sacct" "$SACCT --jobs=$R"
rec "requeued: sacct --duplicates" "$SACCT --duplicates --jobs=$R"
# a requeued job waits 2 minutes (BeginTime), set once it is PENDING again: start it now
wait_for 30 "job $R pending" state_is "$R" PENDING || die "job $R was not requeued"
rec "requeued: squeue once pending" "$SQ --jobs=$R"
rec "requeued: start it now" "scontrol update JobId=$R StartTime=now"
wait_for 60 "job $R running again" state_is "$R" RUNNING || die "job $R does not run again"
rec "running again: squeue" "$SQ --jobs=$R"
rec "running again: sacct --duplicates" "$SACCT --duplicates --jobs=$R"
rec "scontrol requeuehold" "scontrol requeuehold $R"
rec "requeue-held: squeue at once" "$SQ --jobs=$R"
wait_for 30 "job $R requeued" not_completing "$R" || die "job $R stays COMPLETING"
rec "requeue-held: squeue" "$SQ --jobs=$R"
rec "requeue-held: scontrol show job" "scontrol show job $R | grep -E 'JobState|Restarts'"
rec "requeue-held: sacct" "$SACCT --jobs=$R"
rec "requeue-held: scancel" "scancel $R"
wait_for 30 "job $R cancelled" state_is "$R" CANCELLED || die "job $R was not cancelled"
sleep 2 # (sacct keeps REQUEUED as the last record of a job cancelled while requeue-held)
rec "requeue-held: squeue after scancel" "$SQ --jobs=$R"
rec "requeue-held: sacct after scancel" "$SACCT --duplicates --jobs=$R"
rec "output of every run" "cat $WD/rq-$R.out"

rec "submit: --no-requeue" \
  "sbatch --no-requeue --job-name=lrms-nrq --chdir=$WD --output=/dev/null --wrap 'sleep 60'"
N=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$N"
wait_for 30 "job $N running" state_is "$N" RUNNING || die "job $N does not run"
rec "refused: scontrol requeue of a --no-requeue job" "scontrol requeue $N"
rec "scancel" "scancel $N"

# preemption: the debug jobs hold every GPU, the urgent job wants them
while [ -n "$(others)" ]; do
  log "waiting for other jobs to end before the preemption ($(others | tr '\n' ' '))"
  sleep 5
done
rec "submit: --requeue, every GPU" \
  "sbatch --requeue --gpus=$GPUS --job-name=lrms-pre-rq --chdir=$WD --output=/dev/null --wrap 'sleep 60'"
P1=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$P1"
wait_for 30 "job $P1 running" state_is "$P1" RUNNING || die "job $P1 does not run"
rec "submit: urgent job wanting every GPU" \
  "sbatch --partition=$URGENT --gpus=$GPUS --job-name=lrms-urgent --chdir=$WD --output=/dev/null --wrap 'sleep 3'"
U1=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$U1"
rec "preempted, requeued: squeue at once" "$SQ --jobs=$P1,$U1"
sleep 1
rec "preempted, requeued: squeue 1 s later" "$SQ --jobs=$P1,$U1"
wait_for 30 "job $P1 pending again" state_is "$P1" PENDING || die "job $P1 was not requeued"
rec "preempted, requeued: squeue once pending" "$SQ --jobs=$P1,$U1"
rec "preempted, requeued: sacct --duplicates" "$SACCT --duplicates --jobs=$P1"
rec "preempted, requeued: sacct" "$SACCT --jobs=$P1"
rec "preempted, requeued: scancel" "scancel $P1"
wait_for 30 "job $U1 in sacct" acct_done "$U1" || die "job $U1 did not end"
rec "submit: --no-requeue, every GPU" \
  "sbatch --no-requeue --gpus=$GPUS --job-name=lrms-pre-nrq --chdir=$WD --output=/dev/null --wrap 'sleep 60'"
P2=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$P2"
wait_for 30 "job $P2 running" state_is "$P2" RUNNING || die "job $P2 does not run"
rec "submit: urgent job wanting every GPU, again" \
  "sbatch --partition=$URGENT --gpus=$GPUS --job-name=lrms-urgent --chdir=$WD --output=/dev/null --wrap 'sleep 3'"
U2=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$U2"
wait_for 30 "job $P2 preempted" state_is "$P2" PREEMPTED || true
rec "preempted, ended: squeue" "$SQ --jobs=$P2,$U2"
wait_for 30 "job $P2 in sacct" acct_done "$P2" || die "job $P2 did not end"
rec "preempted, ended: sacct" "$SACCT --jobs=$P2"
finish

# === parallel jobs and GPUs =========================================================================
begin parallel.txt
rec "refused: 2 nodes on the 1-node cluster" "sbatch --nodes=2 --ntasks=2 --wrap true"
rec "refused: more tasks than the node has CPUs" "sbatch --ntasks=16 --wrap true"
rec "refused: more GPUs than the node has" "sbatch --ntasks=2 --gpus-per-task=4 --wrap true"
rec "refused: a GPU on a partition without (gres misspelt)" "sbatch --gres=gpu:x:1 --wrap true"
rec "submit: 4 ranks under srun" \
  "sbatch --nodes=1 --ntasks=4 --cpus-per-task=1 --job-name=lrms-srun --chdir=$WD --output=$WD/srun-%j.out --wrap 'srun sh -c \"echo rank \\\$SLURM_PROCID\"'"
S=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
rec "submit: 4 ranks under mpirun" \
  "sbatch --nodes=1 --ntasks=4 --job-name=lrms-mpirun --chdir=$WD --output=$WD/mpirun-%j.out --wrap 'mpirun --allow-run-as-root sh -c \"echo rank \\\$OMPI_COMM_WORLD_RANK\"'"
M=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
rec "submit: 2 tasks x 2 cores x 1 GPU" \
  "sbatch --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=2 --gpus-per-task=1 --job-name=lrms-gpu --chdir=$WD --output=$WD/gpu-%j.out --wrap 'srun sh -c \"echo rank \\\$SLURM_PROCID gpus \\\$CUDA_VISIBLE_DEVICES threads \\\$SLURM_CPUS_PER_TASK\"'"
G=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
rec "submit: exclusive" \
  "sbatch --exclusive --ntasks=1 --job-name=lrms-excl --chdir=$WD --output=/dev/null --wrap true"
X=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' <<<"$LAST")
mine "$S" "$M" "$G" "$X"
wait_for 60 "parallel jobs in sacct" acct_done "$S" "$M" "$G" "$X" || die "parallel jobs did not end"
rec "ended: sacct" "$SACCT --jobs=$S,$M,$G,$X"
rec "ended: sacct AllocTRES vs ReqTRES" \
  "sacct --noheader --parsable2 --format=JobID,NCPUS,AllocTRES,ReqTRES --jobs=$G,$X"
rec "ended: outputs" "sort $WD/srun-$S.out; sort $WD/mpirun-$M.out; sort $WD/gpu-$G.out"
finish
log "done"
