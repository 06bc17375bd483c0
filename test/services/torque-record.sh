#!/usr/bin/env bash
# Record the replies of the real TORQUE clients (cluster of torque-up.sh, running) into
# test/data/vectors/recorded/recorded-torque.txt, or the file given. Run as root; takes ~1 min.
# Commands run on the host, as lrmskey (runuser -u lrmskey -- bash -c CMD, in a work dir of the
# state dir) unless the label says "(root)"; one via ssh as lrmskey (sshd-up.sh's server).
# Blocks: "=== label ===", "$ command", the output (stdout and stderr), "[rc=N]".
#   LRMS_TORQUE_DIR  state dir of torque-up.sh (/tmp/effect-lrms-torque)
set -euo pipefail
SCRIPT_NAME=torque-record
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=torque-lib.sh
. "$HERE/torque-lib.sh"
OUT=${1:-$HERE/../data/vectors/recorded/recorded-torque.txt}
U=lrmskey
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$TQ_STATE/env" ] || die "no $TQ_STATE/env: run torque-up.sh first"
timeout 10 "$TQ_BIN/qstat" -B >/dev/null 2>&1 || die "the server does not answer qstat -B"
W=$TQ_STATE/record
rm -rf "$W"
install -d -m 755 -o "$U" -g "$(id -gn "$U")" "$W"
B=$TQ_BIN

exec 3>"$OUT.new"
# R LABEL CMD : run CMD as lrmskey (or as root when LABEL ends in "(root)") and record it
R() {
  local label=$1 cmd=$2 out rc=0
  if [[ $label == *"(root)" ]]; then
    out=$(cd "$W" && timeout 30 bash -c "$cmd" 2>&1) || rc=$?
  else
    out=$(cd "$W" && runuser -u "$U" -- timeout 30 bash -c "$cmd" 2>&1) || rc=$?
  fi
  printf '=== %s ===\n$ %s\n' "$label" "$cmd" >&3
  [ -z "$out" ] || printf '%s\n' "$out" >&3
  printf '[rc=%d]\n\n' "$rc" >&3
  LAST=$out
}
state() { timeout 10 "$B/qstat" -f "$1" 2>/dev/null | awk -F' = ' '$1 == "    job_state" { print $2 }'; }
wait_state() { # ID STATE SECONDS
  local i
  for ((i = 0; i < $3 * 5; i++)); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.2; done
  log "WARNING: job $1 is not $2 after $3 s (it is $(state "$1"))"
  return 0
}

runuser -u "$U" -- sh -ec "cd '$W'
printf '#!/bin/bash\necho \"exit0 on \$(hostname) as \$(id -un), job \$PBS_JOBID\"\nsleep 8\nexit 0\n' >exit0.sh
printf '#!/bin/bash\necho \"exit3 job \$PBS_JOBID\"\necho to-stderr >&2\nsleep 8\nexit 3\n' >exit3.sh
printf '#!/bin/bash\necho \"kill -9 of my own shell\"\nsleep 8\nkill -9 \$\$\necho not-reached\n' >kill9.sh
printf '#!/bin/bash\necho \"sleep 60 under walltime=00:00:05\"\nsleep 60\n' >walltime.sh
printf '#!/bin/bash\necho \"sleeping until qdel\"\nsleep 120\n' >sleep120.sh
chmod +x ./*.sh"

cat >&3 <<EOF
# recorded-torque.txt: replies of the real TORQUE $(sed -n 's/^version=//p' "$TQ_MARKER") clients, recorded
# $(date -u '+%F %T UTC') by test/services/torque-record.sh on Debian $(cat /etc/debian_version).
# Cluster of test/services/torque-up.sh: pbs_server, pbs_sched, pbs_mom in the network namespace
# $TQ_NS ($TQ_NS_IP, server and node "$TQ_NODE", np=$(sed -n 's/^LRMS_TORQUE_NP=//p' "$TQ_STATE/env"), $(nproc) real CPUs);
# queue $TQ_QUEUE (resources_default.walltime=00:10:00, resources_max.walltime=01:00:00),
# keep_completed=300, MOM \$usecp *:/ / and \$check_poll_time 2.
# The clients run on the host ($(hostname)) from $B, as $U (runuser -u $U -- bash -c CMD,
# in $W), unless the label says (root). Each block: "=== label ===", "\$ command", the output
# (stdout and stderr together, verbatim), "[rc=N]".

EOF

R "job scripts" "head -20 exit0.sh exit3.sh kill9.sh walltime.sh sleep120.sh"
R "server (root)" "$B/qmgr -c 'print server'"
R "qstat -B -f" "$B/qstat -B -f"
R "qstat -Q -f" "$B/qstat -Q -f"
R "pbsnodes -a, idle" "$B/pbsnodes -a"

# --- submissions ---
R "qsub from stdin" "echo 'echo from-stdin' | $B/qsub -N stdin -o $W/stdin.out -e $W/stdin.err"
JS=$LAST
R "qsub exit 0" "$B/qsub -N exit0 -o $W/exit0.out -e $W/exit0.err exit0.sh"
J0=$LAST
R "qsub exit 3" "$B/qsub -N exit3 -o $W/exit3.out -e $W/exit3.err exit3.sh"
J3=$LAST
R "qsub kill -9 of the job's shell" "$B/qsub -N kill9 -o $W/kill9.out -e $W/kill9.err kill9.sh"
JK=$LAST
R "qsub walltime 5 s" "$B/qsub -N walltime -l walltime=00:00:05 -o $W/walltime.out -e $W/walltime.err walltime.sh"
JW=$LAST
R "qsub to qdel while running" "$B/qsub -N qdelrun -o $W/qdelrun.out -e $W/qdelrun.err sleep120.sh"
JD=$LAST
R "qsub -h (held) to qdel while queued" "$B/qsub -h -N qdelq -o $W/qdelq.out -e $W/qdelq.err sleep120.sh"
JH=$LAST
R "qsub -j oe" "$B/qsub -N joined -j oe -o $W/joined.out exit3.sh"
JJ=$LAST

# --- over-size and refused requests ---
R "more processors per node than np: nodes=1:ppn=16" "$B/qsub -N ppn16 -l nodes=1:ppn=16 -o /dev/null -e /dev/null sleep120.sh"
R "more processors than np: procs=16" "$B/qsub -N procs16 -l procs=16 -o /dev/null -e /dev/null sleep120.sh"
JP=$LAST
R "more memory than the node has: mem=100gb" "$B/qsub -N mem100g -l mem=100gb -o /dev/null -e /dev/null sleep120.sh"
JM=$LAST
R "more nodes than exist: nodes=2" "$B/qsub -N nodes2 -l nodes=2 -o /dev/null -e /dev/null sleep120.sh"
R "walltime over the queue's maximum" "$B/qsub -N wt2h -l walltime=02:00:00 -o /dev/null -e /dev/null sleep120.sh"
R "unknown queue" "$B/qsub -q nosuchq exit0.sh"
R "missing script" "$B/qsub /nonexistent/script.sh"

# --- running ---
for j in "$J0" "$J3" "$JK" "$JW" "$JD"; do wait_state "$j" R 30; done
R "qstat, jobs running" "$B/qstat"
R "qstat -a" "$B/qstat -a"
R "qstat -f, running (exit 3 job)" "$B/qstat -f $J3"
R "qstat -f, held" "$B/qstat -f $JH"
R "qstat -x, running" "$B/qstat -x $J3"
R "pbsnodes -a, busy (root)" "$B/pbsnodes -a"

R "qdel running" "$B/qdel $JD"
R "qdel queued (held)" "$B/qdel $JH"
wait_state "$JD" C 30
wait_state "$JH" C 30
R "qstat -f after qdel running" "$B/qstat -f $JD"
R "qstat -f after qdel queued (held)" "$B/qstat -f $JH"

# --- the over-size jobs after some scheduler cycles (scheduler_iteration=10) ---
sleep 12
R "qstat -f procs=16 after 12 s" "$B/qstat -f ${JP:-none}"
R "qstat -f mem=100gb after 12 s" "$B/qstat -f ${JM:-none}"

# --- completions ---
for j in "$JW" "$J0" "$J3" "$JK" "$JS" "$JJ"; do wait_state "$j" C 60; done
sleep 1
R "qstat -f after walltime kill" "$B/qstat -f $JW"
R "qstat -f after exit 0" "$B/qstat -f $J0"
R "qstat -f after exit 3" "$B/qstat -f $J3"
R "qstat -f after kill -9" "$B/qstat -f $JK"
R "qstat -f after stdin job" "$B/qstat -f $JS"
R "qstat -x after exit 3" "$B/qstat -x $J3"
R "qstat -x after walltime kill" "$B/qstat -x $JW"
R "qstat, completed jobs" "$B/qstat"
R "qstat -f of an unknown id" "$B/qstat -f 999999.$TQ_NODE"
R "qstat of an unknown id" "$B/qstat 999999"
R "qdel of a completed job" "$B/qdel $J0"
R "qdel of an unknown id" "$B/qdel 999999.$TQ_NODE"
sleep 1
R "output files" "ls -l *.out *.err; head -5 *.out *.err"
R "tracejob of the walltime kill (root)" "$B/tracejob $JW"
R "tracejob of the walltime kill" "$B/tracejob $JW"
R "tracejob of kill -9 (root)" "$B/tracejob $JK"

# --- the over-size jobs: still queued? then delete ---
R "qstat -f procs=16, end" "$B/qstat -f ${JP:-none}"
R "qstat -f mem=100gb, end" "$B/qstat -f ${JM:-none}"
R "qdel the over-size jobs" "$B/qdel ${JP:-none} ${JM:-none}"

# --- over SSH (a non-login command, as the tests run it) ---
if [ -s "${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}/env" ]; then
  # shellcheck disable=SC1091
  . "${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}/env"
  ssh=(ssh -p "$LRMS_SSH_PORT" -i "$LRMS_SSH_KEY" -o BatchMode=yes -o StrictHostKeyChecking=yes
    -o UserKnownHostsFile="$LRMS_SSH_KNOWN_HOSTS" "$U@127.0.0.1")
  out=$("${ssh[@]}" "$B/qsub -N ssh -o $W/ssh.out -e $W/ssh.err $W/exit0.sh" 2>&1) && rc=0 || rc=$?
  printf '=== qsub over ssh (key, non-login command) ===\n$ ssh -p %s -i KEY %s@127.0.0.1 %s\n%s\n[rc=%d]\n\n' \
    "$LRMS_SSH_PORT" "$U" "$B/qsub -N ssh -o $W/ssh.out -e $W/ssh.err $W/exit0.sh" "$out" "$rc" >&3
  wait_state "$out" C 30
  R "qstat -f after the ssh job" "$B/qstat -f $out"
fi
exec 3>&-
mv -f "$OUT.new" "$OUT"
log "recorded $(grep -c '^\[rc=' "$OUT") commands to $OUT"
