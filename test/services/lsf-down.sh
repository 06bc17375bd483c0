#!/usr/bin/env bash
# Stop the OpenLava cluster of lsf-up.sh (same LRMS_LSF_DIR and LRMS_LSF_PREFIX), as root;
# idempotent.
#   lsf-down.sh           remove the env file and the command links (/usr/local/bin/b*, ls*,
#                         /etc/lsf.conf: afterwards `bjobs` says "command not found" at once instead
#                         of retrying without end), bkill every job while mbatchd answers (waits
#                         up to LRMS_LSF_DOWN_JOBS_TIMEOUT, 20 s), stop sbatchd, mbatchd, res, lim,
#                         pim (only processes of $LRMS_LSF_PREFIX/sbin started for this state dir),
#                         then SIGKILL what is left of them and their descendants (job wrappers,
#                         jobs); the next lsf-up.sh reuses the state (job ids, lsb.events, lsb.acct)
#   lsf-down.sh --purge   also delete the state dir (job history, logs; the next job id is 1 again).
#                         The build in $LRMS_LSF_PREFIX stays (lsf-up.sh skips the build).
set -euo pipefail
SCRIPT_NAME=lsf-down
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=lsf-lib.sh
. "$HERE/lsf-lib.sh"
case ${1:-} in --purge) PURGE=1 ;; "") PURGE=0 ;; *) die "usage: lsf-down.sh [--purge]" ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (the daemons run as root)"
JOBS_TIMEOUT=${LRMS_LSF_DOWN_JOBS_TIMEOUT:-20}
case $JOBS_TIMEOUT in '' | *[!0-9]*) die "LRMS_LSF_DOWN_JOBS_TIMEOUT must be a whole number" ;; esac
T0=$(now_ms)

# first: no test may use the cluster any more
rm -f "$LSF_STATE/env"
lsf_unlink
if [ ! -d "$LSF_STATE" ]; then
  log "no state dir $LSF_STATE: nothing to stop"
  exit 0
fi
# lsf-up.sh holds the lock when it calls us
if [ "${LRMS_LSF_LOCKED:-0}" != 1 ]; then
  exec 9>"$LSF_STATE/lock"
  flock -w 300 9 || die "another lsf-up.sh or lsf-down.sh holds $LSF_STATE/lock"
fi

# pstat PID : the fields of /proc/PID/stat after "pid (comm) ": state ppid ... (starttime is #20)
pstat() { local l; { read -r l <"/proc/$1/stat"; } 2>/dev/null || return 1; echo "${l##*) }"; }

SCAN=$(lsf_scan)
if [ -z "$SCAN" ]; then
  log "not running (no process of $LSF_SBIN for $LSF_ETC)"
else
  # --- 1. the jobs, while mbatchd can still kill them ------------------------------------------
  if [ -n "$(lsf_main_pid mbatchd "$SCAN")" ]; then
    admin() { runuser -u "$LSF_ADMIN" -- timeout -k 2 10 env -i PATH=/usr/bin:/bin LSF_ENVDIR="$LSF_ETC" "$@"; }
    unfinished() { admin "$LSF_BIN/bjobs" -u all -w 2>/dev/null | awk 'NR > 1' | grep -q .; }
    if unfinished; then
      log "killing the unfinished jobs: bkill -u all 0"
      admin "$LSF_BIN/bkill" -u all 0 >&2 || true
      no_jobs() { ! unfinished; }
      wait_for "$JOBS_TIMEOUT" "the jobs to end" no_jobs ||
        log "jobs are still unfinished: their processes are killed below"
    fi
  fi

  # --- 2. snapshot: our processes and all their descendants, with their start times ------------
  declare -A KIDS=() START=() SEEN=()
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    read -ra f <<<"$(pstat "$p" || true)"
    [ -n "${f[1]:-}" ] || continue
    KIDS[${f[1]}]+="$p "
    START[$p]=${f[19]:-}
  done
  queue=()
  while read -r p _; do queue+=("$p"); done <<<"$SCAN"
  SNAP=()
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    { [ -n "$p" ] && [ -z "${SEEN[$p]:-}" ]; } || continue
    SEEN[$p]=1
    SNAP+=("$p")
    for c in ${KIDS[$p]:-}; do queue+=("$c"); done
  done

  # --- 3. the daemons, SIGTERM in order (SIGKILL after 10 s) -----------------------------------
  stopped=()
  for d in $LSF_DAEMONS; do
    p=$(lsf_main_pid "$d" "$(lsf_scan)")
    [ -n "$p" ] || continue
    stop_pid "$p" "$LSF_SBIN/$d" 10 || true
    stopped+=("$d=$p")
  done

  # --- 4. what is left of the snapshot (same pid and start time: never a reused pid) -----------
  left=()
  for p in "${SNAP[@]}"; do
    read -ra f <<<"$(pstat "$p" || true)"
    [ -n "${f[0]:-}" ] && [ "${f[0]}" != Z ] && [ "${f[19]:-}" = "${START[$p]}" ] && left+=("$p")
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "SIGKILL to ${#left[@]} leftover process(es) (job wrappers, jobs, daemon children): ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null || true
    for _ in $(seq 25); do
      [ -z "$(lsf_scan)" ] && break
      sleep 0.2
    done
  fi
  log "stopped ${stopped[*]:-no daemon}"
fi
REST=$(lsf_scan | tr '\n' ' ')
[ -z "$REST" ] || die "still running: $REST"
rm -f "$LSF_RUN"/*.pid
# an mbatchd lock "host:pid" whose pid is a zombie not yet reaped makes the next mbatchd wait ~6 s
rm -f "$LSF_WORK/logdir/#lsb.event.lock"
log "down in $(($(now_ms) - T0)) ms"
[ $PURGE -eq 1 ] || exit 0

# only a dir that lsf-up.sh made: a wrong LRMS_LSF_DIR must not delete anything else
[ -e "$LSF_STATE/.made-by-lsf-up" ] || die "$LSF_STATE was not made by lsf-up.sh; not purging it"
rm -rf "$LSF_STATE"
log "purged $LSF_STATE (the build in $LSF_PREFIX stays)"
