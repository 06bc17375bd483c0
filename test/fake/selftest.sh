#!/usr/bin/env bash
# End-to-end check of the fake PBS/Torque and LSF commands: real jobs through submit -> run -> finish
# -> accounting -> output files, as the calling user. Prints one line per case with its timing; exit 0
# when every check passed. Run as root and as the SSH test user:
#   bash test/fake/selftest.sh
#   ssh -F /tmp/effect-lrms-sshd/ssh_config lrms-key bash /work/main/test/fake/selftest.sh
# Uses the shared state dir (LRMS_FAKE_DIR, default /tmp/effect-lrms-fake) and a temporary work dir.
set -u
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
PBS=$HERE/pbs/bin LSF=$HERE/lsf/bin
. "$HERE/lib/common.sh" # runner_alive (pid + start time, so a reused pid does not count)
export LRMS_FAKE_LSF_MINUTE=1 # bsub -W 1 = 1 s here
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fake-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
FAILS=0 MINE=()
T_ALL=$EPOCHREALTIME
ms() { local a=${1/./} b=${2/./}; printf '%d' $(((10#$a - 10#$b) / 1000)); }
ok() { printf '  ok   %s\n' "$*"; }
bad() { printf '  FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...: the command must succeed
  local d=$1
  shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}
has() { grep -qE -- "$2" <<<"$1"; } # has TEXT REGEX
printf 'fake scheduler selftest as %s (uid %s) on %s, work dir %s\n' "$(id -un)" "$(id -u)" "$(hostname)" "$WORK"

# ---- PBS ------------------------------------------------------------------------------------------
pbs_wait() { # pbs_wait ID: poll qstat until the job is C; sets SEEN (states seen, in order)
  local id=$1 st last=
  SEEN=
  for ((i = 0; i < 600; i++)); do
    st=$("$PBS/qstat" "$id" 2>/dev/null | awk -v id="$id" '$1 == id".fakepbs" { print $5 }')
    [[ $st != "$last" ]] && SEEN+=$st last=$st
    [[ $st == C ]] && return 0
    sleep 0.1
  done
  return 1
}
pbs_case() { # pbs_case LABEL EXPECTED_EXIT_STATUS QSUB_ARGS... : submit, wait, check
  local label=$1 want=$2
  shift 2
  local t0=$EPOCHREALTIME out id f tr
  out=$("$PBS/qsub" "$@") || { bad "pbs $label: qsub exit $?"; return 1; }
  id=${out%%.*}
  [[ $out =~ ^[0-9]+\.fakepbs$ ]] || bad "pbs $label: qsub printed '$out'"
  [[ -n ${CANCEL_AFTER:-} ]] && { sleep "$CANCEL_AFTER"; "$PBS/qdel" "$id" || bad "pbs $label: qdel exit $?"; }
  pbs_wait "$id" || { bad "pbs $label: job $id not C within 60 s"; return 1; }
  local t1=$EPOCHREALTIME
  f=$("$PBS/qstat" -f "$id")
  tr=$("$PBS/tracejob" "$id" 2>/dev/null)
  has "$f" "^    exit_status = $want\$" || bad "pbs $label: qstat -f exit_status is not $want"
  has "$tr" "^[0-9/]+ [0-9:]+  S    Exit_status=$want resources_used.cput=[0-9:]+ resources_used.mem=[0-9]+kb resources_used.vmem=[0-9]+kb resources_used.walltime=[0-9:]+\$" ||
    bad "pbs $label: tracejob has no 'Exit_status=$want ...' line"
  has "$tr" "Job Queued at request of .*, job name = .*, queue = batch\$" || bad "pbs $label: tracejob Job Queued line"
  printf '  ok   pbs %-26s job %-5s %-6s exit_status=%-4s %5d ms\n' "$label" "$id" "$SEEN" "$want" "$(ms "$t1" "$t0")"
  LAST_ID=$id MINE+=("pbs/jobs/$id")
}
echo "PBS/Torque:"
printf '#!/bin/sh\necho "hello from $PBS_JOBID"\necho "to stderr" >&2\ncd "$PBS_O_WORKDIR" && pwd\n' >ok.sh
printf '#!/bin/sh\necho failing\nexit 3\n' >exit3.sh
printf '#!/bin/sh\nsleep 30\n' >sleep.sh
printf '#!/bin/sh\necho about to die\nkill -9 $$\n' >kill9.sh
pbs_case "exit 0" 0 -N okjob -l walltime=60,mem=100mb ok.sh
id=$LAST_ID
check "pbs output file okjob.o$id" grep -qx "hello from $id.fakepbs" "okjob.o$id"
check "pbs error file okjob.e$id" grep -qx 'to stderr' "okjob.e$id"
check "pbs job ran in \$PBS_O_WORKDIR after cd" grep -qx "$WORK" "okjob.o$id"
pbs_case "exit 3 (-j oe, -o file)" 3 -j oe -o joined.txt exit3.sh
check "pbs joined output" grep -qx failing joined.txt
CANCEL_AFTER=1.2 pbs_case "qdel while running" 271 sleep.sh
id=$LAST_ID
"$PBS/qdel" "$id" 2>qdel.err
rc=$?
[[ $rc == 170 ]] && grep -q "^qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE $id.fakepbs\$" qdel.err &&
  ok "pbs qdel of a completed job: exit 170" || bad "pbs qdel of a completed job: exit $rc $(cat qdel.err)"
pbs_case "walltime exceeded (1 s)" -11 -l walltime=00:00:01 sleep.sh
pbs_case "killed by signal 9" 265 kill9.sh
pbs_case "4 cores (nodes=1:ppn=4)" 0 -l nodes=1:ppn=4 ok.sh
"$PBS/qsub" -q nosuchqueue ok.sh >/dev/null 2>err.txt
rc=$?
[[ $rc == 172 ]] && grep -qx 'qsub: submit error (Unknown queue MSG=cannot locate queue)' err.txt &&
  ok "pbs unknown queue: exit 172" || bad "pbs unknown queue: exit $rc $(cat err.txt)"
"$PBS/qsub" missing.sh >/dev/null 2>err.txt
rc=$?
[[ $rc == 1 ]] && ok "pbs missing script: exit 1" || bad "pbs missing script: exit $rc"
"$PBS/qstat" 999999999 >/dev/null 2>err.txt
rc=$?
[[ $rc == 153 ]] && grep -qx 'qstat: Unknown Job Id Error 999999999.fakepbs' err.txt &&
  ok "pbs qstat unknown id: exit 153" || bad "pbs qstat unknown id: exit $rc $(cat err.txt)"
out=$("$PBS/tracejob" 999999999 2>/dev/null)
rc=$?
[[ $rc == 0 && -z $out ]] && ok "pbs tracejob unknown id: empty, exit 0" || bad "pbs tracejob unknown id"
check "pbs pbsnodes -a" bash -c "'$PBS/pbsnodes' -a | grep -q '^     np = '"

# ---- LSF ------------------------------------------------------------------------------------------
lsf_wait() { # lsf_wait ID: poll bjobs -l until DONE/EXIT; sets SEEN
  local id=$1 st last=
  SEEN=
  for ((i = 0; i < 600; i++)); do
    st=$("$LSF/bjobs" -w "$id" 2>/dev/null | awk -v id="$id" '$1 == id { print $3 }')
    [[ $st != "$last" ]] && SEEN+="${SEEN:+>}$st" last=$st
    [[ $st == DONE || $st == EXIT ]] && return 0
    sleep 0.1
  done
  return 1
}
lsf_case() { # lsf_case LABEL STATUS EVENT_REGEX BSUB_ARGS...
  local label=$1 want=$2 event=$3
  shift 3
  local t0=$EPOCHREALTIME out id l a
  out=$("$LSF/bsub" "$@") || { bad "lsf $label: bsub exit $?"; return 1; }
  [[ $out =~ ^Job\ \<([0-9]+)\>\ is\ submitted\ to\ default\ queue\ \<normal\>\.$ ]] || { bad "lsf $label: bsub printed '$out'"; return 1; }
  id=${BASH_REMATCH[1]}
  if [[ -n ${KILL_AFTER:-} ]]; then
    sleep "$KILL_AFTER"
    out=$("$LSF/bkill" "$id") && [[ $out == "Job <$id> is being terminated" ]] || bad "lsf $label: bkill said '$out'"
  fi
  lsf_wait "$id" || { bad "lsf $label: job $id not finished within 60 s"; return 1; }
  local t1=$EPOCHREALTIME
  l=$("$LSF/bjobs" -l "$id" | perl -0pe 's/\n {21}//g') # continuation lines joined
  a=$("$LSF/bacct" -l "$id" | perl -0pe 's/\n {21}//g')
  has "$l" "Status <$want>" || bad "lsf $label: bjobs -l status is not $want"
  has "$l" "^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}: $event" || bad "lsf $label: bjobs -l has no '$event'"
  has "$l" "^ MAX MEM: [0-9]+ Mbytes;  AVG MEM: [0-9]+ Mbytes\$" || bad "lsf $label: bjobs -l has no MAX MEM line"
  has "$a" "^ +[0-9.]+ +[0-9]+ +[0-9]+ +${want,,} +[0-9.]+ +[0-9]+M +[0-9]+M\$" || bad "lsf $label: bacct -l has no accounting row"
  printf '  ok   lsf %-26s job %-5s %-15s %-4s %5d ms\n' "$label" "$id" "$SEEN" "$want" "$(ms "$t1" "$t0")"
  LAST_ID=$id MINE+=("lsf/jobs/$id")
}
echo "LSF:"
chmod +x ok.sh exit3.sh sleep.sh kill9.sh
lsf_case "exit 0" DONE 'Done successfully\. The CPU time used is [0-9.]+ seconds\.' -J okjob -oo lout.txt -eo lerr.txt ./ok.sh
check "lsf output file" grep -qx 'to stderr' lerr.txt
lsf_case "exit 3 (stdout+stderr -o)" EXIT 'Exited with exit code 3\. The CPU time used is' -o lboth.txt ./exit3.sh
check "lsf -o without -e gets stderr too" grep -qx failing lboth.txt
KILL_AFTER=1.2 lsf_case "bkill while running" EXIT 'Completed <exit>; TERM_OWNER: job killed by owner' ./sleep.sh
id=$LAST_ID
out=$("$LSF/bkill" "$id" 2>&1)
rc=$?
[[ $rc == 255 && $out == "Job <$id>: Job has already finished" ]] && ok "lsf bkill of a finished job: exit 255" ||
  bad "lsf bkill of a finished job: exit $rc '$out'"
lsf_case "run limit -W 1 (1 s here)" EXIT 'Completed <exit>; TERM_RUNLIMIT: job killed after' -W 1 ./sleep.sh
lsf_case "killed by signal 9" EXIT 'Exited by signal 9\. The CPU time used is' ./kill9.sh
lsf_case "4 slots (-n 4)" DONE 'Started 4 Task\(s\) on Host\(s\) <4\*' -n 4 -R 'span[hosts=1]' ./ok.sh
"$LSF/bsub" -q nosuchqueue ./ok.sh >/dev/null 2>err.txt
rc=$?
[[ $rc == 255 ]] && grep -qx 'nosuchqueue: No such queue. Job not submitted.' err.txt &&
  ok "lsf unknown queue: exit 255" || bad "lsf unknown queue: exit $rc $(cat err.txt)"
"$LSF/bjobs" -l 999999999 >/dev/null 2>err.txt
rc=$?
[[ $rc == 255 ]] && grep -qx 'Job <999999999> is not found' err.txt && ok "lsf bjobs unknown id: exit 255" ||
  bad "lsf bjobs unknown id: exit $rc $(cat err.txt)"
check "lsf lshosts -w" bash -c "'$LSF/lshosts' -w | awk 'NR == 2 && \$5 ~ /^[0-9]+\$/ { f = 1 } END { exit !f }'"
check "lsf bhosts -w" bash -c "'$LSF/bhosts' -w | grep -q '^HOST_NAME          STATUS          JL/U'"

# ---- nothing left behind --------------------------------------------------------------------------
sleep 0.3
left=
for d in "${MINE[@]}"; do # the runner and the job's process group of every job this test ran
  d=${LRMS_FAKE_DIR:-/tmp/effect-lrms-fake}/$d
  runner_alive "$d" && left+=" runner:$(cat "$d/runner")"
  [[ -s $d/pgid ]] && read -r pg <"$d/pgid" && ps -o pid= -g "$pg" >/dev/null 2>&1 && left+=" job-session:$pg"
done
[[ -z $left ]] && ok "no runner or job process left (${#MINE[@]} jobs)" || bad "processes left:$left"
printf '%s: %d failure(s), %d ms in all\n' "$([[ $FAILS == 0 ]] && echo SELFTEST OK || echo SELFTEST FAILED)" \
  "$FAILS" "$(ms "$EPOCHREALTIME" "$T_ALL")"
((FAILS == 0))
