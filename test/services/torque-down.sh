#!/usr/bin/env bash
# Stop the TORQUE cluster of torque-up.sh (same LRMS_TORQUE_DIR), as root; idempotent.
#   torque-down.sh          remove the env file first, delete the jobs that have not completed,
#                           stop pbs_server, then pbs_sched, pbs_mom and both trqauthds (only the
#                           pids of the pid files, or other processes running one of the daemon
#                           binaries of /opt/torque), then kill what is left in the namespace
#                           lrms-torque (the jobs). Keeps /var/spool/torque (job ids, completed
#                           jobs, logs), the namespace and the /etc/hosts line: the next
#                           torque-up.sh starts from there
#   torque-down.sh --purge  also delete the namespace, the veth pair, /etc/netns/lrms-torque, our
#                           /etc/hosts line, /var/spool/torque and the state dir. /opt/torque (the
#                           build) stays.
# Nothing of OpenPBS (namespace lrms-pbs, /opt/pbs) is touched.
set -euo pipefail
SCRIPT_NAME=torque-down
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=torque-lib.sh
. "$HERE/torque-lib.sh"
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: torque-down.sh [--purge]" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
T0=$(now_ms)
rm -f "$TQ_STATE/env" # first: the tests must not see a cluster that is going away
if [ -d "$TQ_STATE" ]; then
  exec 9>>"$TQ_STATE/lock"
  flock -w 60 9 || log "WARNING: $TQ_STATE/lock is still held after 60 s (a torque-up.sh building?): going on"
fi
rc=0
tq_stop || rc=1
if [ "$PURGE" -eq 1 ]; then
  tq_net_down
  rm -rf "$TQ_SPOOL" "$TQ_AUTH" "$TQ_AUTH_NS"
  if [ -d "$TQ_STATE" ]; then
    # only a dir that torque-up.sh made: a wrong LRMS_TORQUE_DIR must not delete anything else
    if [ -e "$TQ_STATE/.made-by-torque-up" ]; then rm -rf "$TQ_STATE"; else
      log "WARNING: $TQ_STATE was not made by torque-up.sh: not deleting it"
    fi
  fi
fi
# what must be gone now
left=()
for d in $TQ_DAEMONS; do p=$(tq_pid "$d") && left+=("$d (pid $p)"); done
for p in $(tq_strays); do left+=("pid $p ($(readlink "/proc/$p/exe" 2>/dev/null))"); done
if [ "$PURGE" -eq 1 ]; then
  tq_ns_exists && left+=("namespace $TQ_NS")
  ip link show "$TQ_VETH_H" >/dev/null 2>&1 && left+=("link $TQ_VETH_H")
  grep -qF -- "$TQ_HOSTS_TAG" /etc/hosts && left+=("our /etc/hosts line")
fi
[ ${#left[@]} -eq 0 ] || die "still there: ${left[*]}"
[ $rc -eq 0 ] || die "a daemon did not stop"
log "stopped in $(($(now_ms) - T0)) ms$([ "$PURGE" -eq 1 ] && echo ", purged ($TQ_SPOOL, $TQ_NS, $TQ_STATE)")"
