#!/usr/bin/env bash
# Stop the Grid Engine cell of sge-up.sh (same LRMS_SGE_DIR), as root; idempotent.
#   sge-down.sh           delete every job, stop sge_execd and sge_qmaster (only the pids of their
#                         pid files in the state dir), then kill what the jobs left (shepherds and
#                         job processes of this cell); the next sge-up.sh reuses the state dir (job
#                         ids, accounting file)
#   sge-down.sh --purge   also delete the state dir and put the original /etc/default/gridengine
#                         back if it still names this cell
set -euo pipefail
SCRIPT_NAME=sge-down
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SGE_DIR:-/tmp/effect-lrms-sge}
ETC_DEFAULT=/etc/default/gridengine
LIB=/usr/lib/gridengine
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: sge-down.sh [--purge]" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root"
case $STATE in /?*) ;; *) die "LRMS_SGE_DIR must be an absolute path, not '$STATE'" ;; esac
ROOT=$STATE/root SPOOL=$STATE/spool

# restore_etc : if /etc/default/gridengine names this cell, put the original back (or the
# package's template when the state dir with the original is gone); and the /etc/hosts line
# sge-up.sh may have added
restore_etc() {
  if [ "$(sed -n 's/^SGE_ROOT=//p' "$ETC_DEFAULT" 2>/dev/null | tail -1)" = "$ROOT" ]; then
    if [ -e "$STATE/etc/etc-default-gridengine.orig" ]; then
      cp "$STATE/etc/etc-default-gridengine.orig" "$ETC_DEFAULT.new"
    elif [ -e /usr/share/gridengine/templates/gridengine.default ]; then
      cp /usr/share/gridengine/templates/gridengine.default "$ETC_DEFAULT.new"
    else
      rm -f "$ETC_DEFAULT"
    fi
    [ ! -e "$ETC_DEFAULT.new" ] || mv -f "$ETC_DEFAULT.new" "$ETC_DEFAULT"
    log "restored $ETC_DEFAULT"
  fi
  if grep -q '# added by effect-lrms sge-up.sh$' /etc/hosts 2>/dev/null; then
    sed '/# added by effect-lrms sge-up.sh$/d' /etc/hosts >/etc/hosts.lrms-new &&
      cat /etc/hosts.lrms-new >/etc/hosts && rm -f /etc/hosts.lrms-new # same inode: may be a bind mount
    log "removed our line from /etc/hosts"
  fi
}
if [ ! -d "$STATE" ]; then
  log "no state dir $STATE: nothing to stop"
  [ $PURGE -eq 0 ] || restore_etc
  exit 0
fi
T0=$(now_ms)
export SGE_ROOT=$ROOT SGE_CELL=default
# the ports sge-up.sh used
if [ -r "$ROOT/default/common/settings.sh" ]; then
  # shellcheck disable=SC1091
  . "$ROOT/default/common/settings.sh"
fi

# ours PIDFILE EXE : print the pid of a daemon of this cell (exe, our SGE_ROOT in its environment)
ours() {
  local pid
  pid=$(pid_alive "$1" "$2") || return 1
  grep -qzxF "SGE_ROOT=$ROOT" "/proc/$pid/environ" 2>/dev/null || return 1
  echo "$pid"
}
# leftovers : the shepherds of this cell and the processes of its jobs (their environment has a
# SGE_JOB_SPOOL_DIR in our execd spool)
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    if runs "${p#/proc/}" $LIB/sge_shepherd; then
      grep -qzxF "SGE_ROOT=$ROOT" "$p/environ" 2>/dev/null && echo "${p#/proc/}"
    elif grep -qzF "SGE_JOB_SPOOL_DIR=$SPOOL/execd/" "$p/environ" 2>/dev/null; then
      [ "${p#/proc/}" = $$ ] || echo "${p#/proc/}"
    fi
  done
  return 0
}

# 1. delete every job while qmaster answers: a running job's shepherd outlives execd
if ours "$SPOOL/qmaster/qmaster.pid" $LIB/sge_qmaster >/dev/null && timeout 10 qconf -sh >/dev/null 2>&1; then
  if [ -n "$(timeout 10 qstat -u '*' 2>/dev/null)" ]; then
    log "deleting every job"
    timeout 10 qdel -f -u '*' >/dev/null 2>&1 || true
    no_jobs() { [ -z "$(timeout 10 qstat -u '*' 2>/dev/null)" ]; }
    wait_for 15 "the jobs to end" no_jobs || true
  fi
fi

# 2. the daemons, both at once (qmaster needs ~7 s to shut down)
stop() { # stop NAME PIDFILE
  local pid
  pid=$(ours "$2" "$LIB/sge_$1") || { rm -f "$2"; return 0; }
  stop_pid "$pid" "$LIB/sge_$1" 30 || { log "sge_$1 (pid $pid) did not exit"; return 1; }
  rm -f "$2"
  log "stopped sge_$1 (pid $pid)"
}
pids=()
for f in "$SPOOL"/execd/*/execd.pid; do
  [ -e "$f" ] || continue
  stop execd "$f" &
  pids+=($!)
done
stop qmaster "$SPOOL/qmaster/qmaster.pid" &
pids+=($!)
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc -eq 0 ] || die "a daemon did not stop"

# 3. what the jobs left
left=$(leftovers | tr '\n' ' ')
if [ -n "$left" ]; then
  log "killing what the jobs left: $left"
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
fi
log "stopped in $(($(now_ms) - T0)) ms"
[ $PURGE -eq 1 ] || exit 0

# Only a dir that sge-up.sh made: a wrong LRMS_SGE_DIR must not delete anything else.
[ -e "$STATE/.made-by-sge-up" ] || die "$STATE was not made by sge-up.sh; not purging it"
restore_etc
rm -rf "$STATE"
log "purged $STATE"
