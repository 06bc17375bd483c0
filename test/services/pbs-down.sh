#!/usr/bin/env bash
# Stop the OpenPBS of pbs-up.sh (same LRMS_PBS_DIR), as root; idempotent.
#   pbs-down.sh           remove STATE/env first (the tests skip from then on), qdel every job
#                         that has not finished (the server would rerun it at the next start),
#                         stop the daemons in network namespace lrms-pbs (pbs_init.d stop), then
#                         signal what is left of them by pid (lock files, /opt/pbs
#                         executables: also the host-side "qsub daemons") and kill job processes
#                         that left their job (PBS_JOBID in the environment). The next pbs-up.sh
#                         reuses PBS_HOME (job ids, history), the namespace and the names.
#   pbs-down.sh --purge   also delete PBS_HOME (/var/spool/pbs), the namespace with its veth pair,
#                         /etc/netns/lrms-pbs, our /etc/hosts line and the state dir. The build
#                         in /opt/pbs stays (rm -rf /opt/pbs for a build from scratch).
set -euo pipefail
SCRIPT_NAME=pbs-down
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=pbs-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pbs-lib.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: pbs-down.sh [--purge]" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
case $STATE in /?*) ;; *) die "LRMS_PBS_DIR must be an absolute path, not '$STATE'" ;; esac
T0=$(now_ms)
rm -f "$STATE/env"
if [ -d "$STATE" ]; then
  take_lock 120
  rm -f "$STATE/env" # again: a pbs-up.sh that held the lock may just have written it
fi

# job_pids : processes of PBS jobs (PBS_JOBID in their environment) in the namespace
job_pids() {
  local p
  for p in $(ns_pids); do
    grep -qz '^PBS_JOBID=' "/proc/$p/environ" 2>/dev/null && echo "$p"
  done
  return 0
}

# 1. delete the jobs that have not finished while the server answers: MoM would otherwise leave
# them to the server, which reruns them at the next start (Rerunable = True, run_count 2)
if lock_pid "$PBS_HOME_DIR/server_priv/server.lock" "$PREFIX/sbin/pbs_server.bin" >/dev/null; then
  unfinished() { timeout 10 "$PREFIX/bin/qselect" 2>/dev/null; }
  jobs=$(unfinished || true)
  if [ -n "$jobs" ]; then
    log "deleting $(echo "$jobs" | wc -l) unfinished job(s)"
    # shellcheck disable=SC2086
    timeout 20 "$PREFIX/bin/qdel" -W force $jobs >/dev/null 2>&1 || true
    no_jobs() { [ -z "$(unfinished)" ]; }
    wait_for 15 "the jobs to end" no_jobs || true
  fi
fi

# 2. the daemons
before=$(pbs_pids)
daemons_up=$(grep -v '^qsub-daemon:' <<<"$before" || true)
if [ -n "$daemons_up" ] && [ -x "$PREFIX/libexec/pbs_init.d" ]; then
  log "stopping $(echo "$daemons_up" | tr '\n' ' ')"
  # qterm (the server stops its datastore), then MoM (kills the jobs), pbs_sched, pbs_comm
  if ns_exists; then
    timeout 60 ip netns exec "$NETNS" "$PREFIX/libexec/pbs_init.d" stop >>"$STATE/init.log" 2>&1 9>&- ||
      log "pbs_init.d stop exited with $? (log: $STATE/init.log): stopping by pid"
  else
    log "no namespace $NETNS: stopping by pid"
  fi
fi
# what is left (a hung daemon, the datastore, the qsub daemons): by pid, only while it still runs
# the executable it ran
pids=()
for np in $(pbs_pids); do
  pid=${np#*:}
  exe=$(pid_exe "$pid") || continue
  stop_pid "$pid" "$exe" 10 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc -eq 0 ] || die "a PBS process did not stop: $(pbs_pids | tr '\n' ' ')"
left=$(job_pids | tr '\n' ' ')
if [ -n "$left" ]; then
  log "killing what the jobs left: $left"
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
fi
if [ -n "$before" ]; then
  log "stopped in $(($(now_ms) - T0)) ms: $(echo "$before" | tr '\n' ' ')"
else
  log "OpenPBS is not running"
fi
[ $PURGE -eq 1 ] || exit 0

# --- purge ----------------------------------------------------------------------------------------
if ns_exists; then
  inside=$(ns_pids | tr '\n' ' ')
  [ -z "$inside" ] || die "processes still run in namespace $NETNS (pids $inside): not purging"
fi
# PBS_HOME only if pbs-up.sh made it (a wrong PBS_HOME must not be deleted)
if [ -d "$PBS_HOME_DIR" ]; then
  if [ -e "$HOME_MARK" ] || [ ! -d "$PBS_HOME_DIR/datastore" ]; then
    rm -rf "$PBS_HOME_DIR"
    log "deleted $PBS_HOME_DIR"
  else
    log "WARNING: $PBS_HOME_DIR was not made by pbs-up.sh (no $HOME_MARK): left in place"
  fi
fi
if ns_exists; then
  ip netns del "$NETNS" || die "ip netns del $NETNS failed"
  log "deleted network namespace $NETNS (and $VETH_NS)"
fi
if ip link show "$VETH_HOST" >/dev/null 2>&1; then # the peer of a namespace end that is gone
  ip -d link show "$VETH_HOST" | grep -qw veth || die "$VETH_HOST is not a veth: not removing it"
  ip link del "$VETH_HOST"
fi
if [ -d "$NETNS_ETC" ]; then
  rm -f "$NETNS_ETC/hosts" "$NETNS_ETC/hosts.new"
  rmdir "$NETNS_ETC" 2>/dev/null || log "WARNING: $NETNS_ETC is not empty: left in place"
  rmdir /etc/netns 2>/dev/null || true # only when nobody else uses it
fi
hosts_line "" || die "could not remove our line from /etc/hosts"
rm -rf "$STATE"
log "purged in $(($(now_ms) - T0)) ms"
