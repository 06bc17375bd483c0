#!/usr/bin/env bash
# Stop the SLURM cluster of slurm-up.sh (same LRMS_SLURM_DIR), as root; idempotent.
#   slurm-down.sh           cancel the jobs, stop slurmd, slurmctld, slurmdbd, MariaDB and munged
#                           (only the pids of their pid files in the state dir), then end the job
#                           steps that slurmd left; the next slurm-up.sh reuses the state dir
#                           (job ids, accounting DB)
#   slurm-down.sh --purge   also delete the state dir and our /etc/slurm/slurm.conf symlink
set -euo pipefail
SCRIPT_NAME=slurm-down
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SLURM_DIR:-/tmp/effect-lrms-slurm}
ETC_CONF=/etc/slurm/slurm.conf
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: slurm-down.sh [--purge]" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -d "$STATE" ] || { log "no state dir $STATE: nothing to do"; exit 0; }
T0=$(now_ms)
CONF=$STATE/etc/slurm.conf MUN=$STATE/munge DB=$STATE/mysql SL=$STATE/slurm
export SLURM_CONF=$CONF
exe() { readlink -f "/usr/sbin/$1"; } # slurmctld -> /etc/alternatives/slurmctld -> slurmctld-wlm
STEPD=$(exe slurmstepd)

# the slurmstepd processes of our slurmd: their environment has our SLURM_CONF
stepds() {
  local p
  for p in /proc/[0-9]*; do
    runs "${p#/proc/}" "$STEPD" || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF" && echo "${p#/proc/}"
  done
  return 0
}
# tree PID... : the pids and all their descendants
tree() {
  local p
  for p in "$@"; do
    echo "$p"
    # shellcheck disable=SC2046
    tree $(pgrep -P "$p" || true)
  done
}

# 1. cancel every job while slurmctld answers: a running slurmstepd outlives slurmd
if pid_alive "$SL/slurmctld.pid" "$(exe slurmctld)" "$CONF" >/dev/null &&
  timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; then
  partition=$(sed -n 's/^PartitionName=\([^ ]*\).*/\1/p' "$CONF")
  if [ -n "$(squeue -h -t PD,R,CG,S -o %i | head -1)" ]; then
    log "cancelling the jobs in partition $partition"
    scancel -p "$partition" || true
    no_running() { [ -z "$(squeue -h -t R,CG -o %i)" ] && [ -z "$(stepds)" ]; }
    wait_for 15 "the jobs to end" no_running || true
  fi
fi

# 2. the daemons, clients before servers
for d in slurmd:$SL/slurmd.pid:$CONF slurmctld:$SL/slurmctld.pid:$CONF slurmdbd:$SL/slurmdbd.pid: \
  mariadbd:$DB/mariadbd.pid:$STATE/etc/my.cnf munged:$MUN/munged.pid:$MUN/munge.key; do
  IFS=: read -r name pidfile marker <<<"$d"
  if pid=$(pid_alive "$pidfile" "$(exe "$name")" "$marker"); then
    stop_pid "$pid" "$(exe "$name")" 30 || die "$name (pid $pid) did not exit"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done

# 3. job steps slurmd left behind, with what runs under them; in cgroup mode also whatever is
# still in the job cgroups of our node (processes that left the tree)
left=$(stepds)
# shellcheck disable=SC2086
[ -z "$left" ] || left=$(tree $left)
node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$CONF" 2>/dev/null || true)
cgroups=()
if [ -n "$node" ] && [ -e "$STATE/etc/cgroup.conf" ]; then
  for d in /sys/fs/cgroup/*/slurm_"$node"; do [ -d "$d" ] && cgroups+=("$d"); done
fi
if [ ${#cgroups[@]} -gt 0 ]; then
  left+=" $(find "${cgroups[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
fi
# shellcheck disable=SC2086
left=$(echo $left | tr ' ' '\n' | sort -un | tr '\n' ' ')
if [ -n "${left// /}" ]; then
  log "killing what the job steps left: $left"
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
fi
for d in "${cgroups[@]}"; do # the empty job cgroups; slurmd makes them again
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
log "stopped in $(($(now_ms) - T0)) ms"
[ $PURGE -eq 1 ] || exit 0

# Only a dir that slurm-up.sh made: a wrong LRMS_SLURM_DIR must not delete anything else.
[ -e "$STATE/.made-by-slurm-up" ] || die "$STATE was not made by slurm-up.sh; not purging it"
if [ "$(readlink "$ETC_CONF" 2>/dev/null)" = "$CONF" ]; then
  rm -f "$ETC_CONF"
  log "removed the symlink $ETC_CONF"
fi
rm -rf "$STATE"
log "purged $STATE"
