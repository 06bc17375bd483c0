#!/usr/bin/env bash
# Fault injection for the test sshd of sshd-up.sh (same LRMS_SSHD_DIR), as root:
#   sshd-ctl.sh drop    kill the per-connection sshd processes of lrmskey/lrmspw (children of our
#                       listener): every live connection ends at once, the listener keeps running
#   sshd-ctl.sh stop    drop, then stop the listener (new connections are refused)
#   sshd-ctl.sh start   start the listener again from the same state dir (same host key and port)
#   sshd-ctl.sh status  print the listener pid and the open connections
# Commands running inside a dropped session are left alone, as when a network cable is pulled.
set -euo pipefail
SCRIPT_NAME="sshd-ctl ${1:-}"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
STATE=${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}
SSHD=/usr/sbin/sshd
CONFIG=$STATE/sshd_config
case ${1:-} in drop | stop | start | status) ;; *) die "usage: sshd-ctl.sh drop|stop|start|status" ;; esac
[ -s "$CONFIG" ] || die "no $CONFIG: run sshd-up.sh first"
USERS=$(sed -n 's/^AllowUsers //p' "$CONFIG" | tr ' ' '|')
PORT=$(sed -n 's/^Port //p' "$CONFIG")

listener() { pid_alive "$STATE/sshd.pid" $SSHD "$CONFIG"; }
gone() { ! runs "$1" $SSHD; }
cmd_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ *$//'; }

# sessions LISTENER : pids of the connection processes of the test users: the root monitor
# ("sshd: lrmskey [priv]", a child of the listener) and its sshd children ("sshd: lrmskey@notty").
sessions() {
  local m c
  for m in $(pgrep -P "$1" -f "^sshd: ($USERS)( |@)" || true); do
    echo "$m"
    for c in $(pgrep -P "$m" || true); do if runs "$c" $SSHD; then echo "$c"; fi; done
  done
}

drop() {
  local pids p left=()
  pids=$(sessions "$1")
  if [ -z "$pids" ]; then log "no connections to drop"; return 0; fi
  for p in $pids; do log "kill -9 $p ($(cmd_of "$p"))"; done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for p in $pids; do
    wait_for 5 "pid $p to exit" gone "$p" || left+=("$p")
  done
  [ ${#left[@]} -eq 0 ] || die "still running after SIGKILL: ${left[*]}"
  log "dropped $(echo "$pids" | wc -w) process(es) of the connections"
}

case ${1:-} in
  drop)
    L=$(listener) || die "the listener is not running (pid file $STATE/sshd.pid)"
    drop "$L"
    ;;
  stop)
    L=$(listener) || { log "the listener is not running; nothing to stop"; exit 0; }
    drop "$L"
    stop_pid "$L" $SSHD 10 || die "listener pid $L did not exit"
    rm -f "$STATE/sshd.pid"
    log "stopped the listener (pid $L)"
    ;;
  start)
    T0=$(now_ms)
    if L=$(listener); then log "already running (pid $L)"; exit 0; fi
    port_open 127.0.0.1 "$PORT" && die "127.0.0.1:$PORT is in use by another process"
    mkdir -p /run/sshd
    (umask 022 && exec $SSHD -f "$CONFIG" -E "$STATE/sshd.log" </dev/null >/dev/null 2>&1) ||
      die "$SSHD exited with $? (see $STATE/sshd.log)"
    wait_for 10 "the listener" listener || { tail -5 "$STATE/sshd.log" >&2; die "sshd did not start"; }
    wait_for 10 "127.0.0.1:$PORT" port_open 127.0.0.1 "$PORT" || die "sshd is not listening"
    L=$(listener)
    [ -f "$STATE/env" ] && sed -i "s/^LRMS_SSHD_PID=.*/LRMS_SSHD_PID=$L/" "$STATE/env"
    log "started the listener (pid $L) on 127.0.0.1:$PORT in $(($(now_ms) - T0)) ms"
    ;;
  status)
    L=$(listener) || { echo "listener: not running"; exit 3; }
    echo "listener: pid $L on 127.0.0.1:$PORT"
    for p in $(sessions "$L"); do echo "session: $p $(cmd_of "$p")"; done
    ;;
esac
