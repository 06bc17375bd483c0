#!/usr/bin/env bash
# Stop the test sshd of sshd-up.sh (same LRMS_SSHD_DIR), as root; idempotent.
#   sshd-down.sh           stop the listener of STATE/sshd.pid, nothing else: open connections
#                          live on, and the next sshd-up.sh reuses keys, users and password
#   sshd-down.sh --purge   also end the processes of the users sshd-up.sh created, delete those
#                          users (with their homes) and the state dir
set -euo pipefail
SCRIPT_NAME=sshd-down
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}
SSHD=/usr/sbin/sshd
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: sshd-down.sh [--purge]" ;; esac
[ -d "$STATE" ] || { log "no state dir $STATE: nothing to do"; exit 0; }

if PID=$(pid_alive "$STATE/sshd.pid" $SSHD "$STATE/sshd_config"); then
  stop_pid "$PID" $SSHD 10 || die "sshd (pid $PID) did not exit"
  log "stopped sshd (pid $PID)"
else
  log "sshd of $STATE is not running"
fi
rm -f "$STATE/sshd.pid"
[ $PURGE -eq 1 ] || exit 0

# Only a dir that sshd-up.sh made: a wrong LRMS_SSHD_DIR must not delete anything else.
[ -e "$STATE/.made-by-sshd-up" ] || die "$STATE was not made by sshd-up.sh; not purging it"
no_procs() { ! pgrep -u "$1" >/dev/null; }
while read -r u; do
  getent passwd "$u" >/dev/null || continue
  # sessions that outlived the listener and commands they started; zombies are only waited for
  # (PID 1 reaps them late here, and userdel counts them as the user's processes)
  pids=$(ps -u "$u" -o pid=,stat= | awk '$2 !~ /^Z/ { print $1 }' || true)
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then log "killing the processes of $u:" $pids; kill -KILL $pids 2>/dev/null || true; fi
  wait_for 5 "the processes of $u to end" no_procs "$u" || true
  if userdel --remove "$u" 2>/dev/null || ! getent passwd "$u" >/dev/null; then
    log "deleted user $u"
  else
    log "could not delete user $u"
  fi
done < <(cat "$STATE/created-users" 2>/dev/null || true)
rm -rf "$STATE"
log "purged $STATE"
