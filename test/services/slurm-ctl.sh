#!/usr/bin/env bash
# Fault injection for the SLURM cluster of slurm-up.sh (same LRMS_SLURM_DIR), as root:
#   slurm-ctl.sh stop-ctld    stop slurmctld only (SIGTERM: it saves its state first); munged,
#                             MariaDB, slurmdbd, slurmd and the running jobs live on, and every
#                             sbatch/squeue/scontrol/scancel fails until it is back
#   slurm-ctl.sh start-ctld   start slurmctld again from the same StateSaveLocation (no job is
#                             lost); returns once `scontrol ping` says UP and slurmd has registered
#                             again (only then do jobs that ended meanwhile leave RUNNING)
#   slurm-ctl.sh status       print the daemons' pids and `scontrol ping`; exit 3 if slurmctld is down
set -euo pipefail
SCRIPT_NAME="slurm-ctl ${1:-}"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SLURM_DIR:-/tmp/effect-lrms-slurm}
CONF=$STATE/etc/slurm.conf
SL=$STATE/slurm
case ${1:-} in stop-ctld | start-ctld | status) ;; *) die "usage: slurm-ctl.sh stop-ctld|start-ctld|status" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$CONF" ] || die "no $CONF: run slurm-up.sh first"
export SLURM_CONF=$CONF
CTLD=$(readlink -f /usr/sbin/slurmctld) # slurmctld-wlm
PORT=$(sed -n 's/^SlurmctldPort=//p' "$CONF")

ctld() { pid_alive "$SL/slurmctld.pid" "$CTLD" "$CONF"; }
ctld_up() { scontrol ping | grep -q 'is UP'; }
exec 9>"$STATE/lock"
[ "$1" = status ] || flock -w 120 9 || die "slurm-up.sh or slurm-ctl.sh holds $STATE/lock"

case $1 in
  stop-ctld)
    T0=$(now_ms)
    P=$(ctld) || { log "slurmctld is not running; nothing to stop"; exit 0; }
    stop_pid "$P" "$CTLD" 30 || die "slurmctld (pid $P) did not exit"
    rm -f "$SL/slurmctld.pid"
    log "stopped slurmctld (pid $P) in $(($(now_ms) - T0)) ms"
    ;;
  start-ctld)
    T0=$(now_ms)
    if P=$(ctld); then
      wait_for 30 "slurmctld" ctld_up || die "slurmctld (pid $P) runs but does not answer scontrol ping"
      log "already running (pid $P)"
      exit 0
    fi
    ! port_open 127.0.0.1 "$PORT" || die "127.0.0.1:$PORT is in use by another process"
    # by the alternatives link's name, as slurm-up.sh does (a slurmctld-wlm crashes)
    /usr/sbin/slurmctld -f "$CONF" </dev/null 9>&- >>"$SL/slurmctld.out" 2>&1 ||
      die "slurmctld exited with $? (see $SL/slurmctld.log)"
    if ! wait_for 30 "slurmctld" ctld_up; then
      tail -n 15 "$SL/slurmctld.log" | sed 's/^/  | /' >&2
      die "slurmctld does not answer scontrol ping (log: $SL/slurmctld.log)"
    fi
    UP=$(($(now_ms) - T0))
    P=$(ctld) || die "slurmctld answers, but not with the pid of $SL/slurmctld.pid"
    [ -f "$STATE/env" ] && sed -i "s/^LRMS_SLURMCTLD_PID=.*/LRMS_SLURMCTLD_PID=$P/" "$STATE/env"
    # the node is "unknown" until slurmd registers (it answers slurmctld's first ping)
    node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$CONF")
    registered() { sinfo -h -n "$node" -o %T | grep -Eqx 'idle|mixed|allocated|completing|drain.*'; }
    wait_for 30 "node $node to register" registered ||
      log "WARNING: node $node is $(sinfo -h -n "$node" -o %T) (see $SL/slurmd.log)"
    log "started slurmctld (pid $P) on 127.0.0.1:$PORT: UP after $UP ms, node $node" \
      "registered after $(($(now_ms) - T0)) ms"
    ;;
  status)
    for d in munged:$STATE/munge/munged.pid mariadbd:$STATE/mysql/mariadbd.pid \
      slurmdbd:$SL/slurmdbd.pid slurmctld:$SL/slurmctld.pid slurmd:$SL/slurmd.pid; do
      IFS=: read -r name pidfile <<<"$d"
      if P=$(pid_alive "$pidfile" "$(readlink -f "/usr/sbin/$name")"); then
        echo "$name: pid $P"
      else
        echo "$name: not running"
      fi
    done
    scontrol ping 2>&1 | head -1 || true
    ctld >/dev/null || exit 3
    ;;
esac
