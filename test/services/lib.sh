# shellcheck shell=bash
# Helpers for the test/services/*.sh scripts. Sourced, not executed; needs bash, and root for
# ensure_pkgs. Set SCRIPT_NAME before sourcing to label the log lines.

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${SCRIPT_NAME:-services}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now_ms() { date +%s%3N; }

# wait_for TIMEOUT_S WHAT CMD... : run CMD every 0.2 s until it succeeds; fail after TIMEOUT_S.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "gave up after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# port_open HOST PORT : true if something accepts a TCP connection there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ensure_pkgs PKG... : install the Debian packages that are missing, without letting their
# maintainer scripts start services (policy-rc.d exit 101). `apt-get update` only on failure.
ensure_pkgs() {
  local missing=() p rc=0 own_policy=0
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "not root: cannot install ${missing[*]}"
  log "installing ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=120)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2 || {
    log "install failed; apt-get update and retry"
    "${apt[@]}" update >&2 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2
  } || rc=$?
  [ $own_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "could not install ${missing[*]} (apt-get exit $rc)"
}

# runs PID EXE : true while PID is alive (zombies have no exe) and its /proc/PID/exe is EXE
# (also after a package upgrade replaced the binary). A reused pid runs something else.
runs() {
  local exe
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) && [ "${exe% (deleted)}" = "$2" ]
}

# pid_alive PIDFILE EXE [CMDLINE_PART] : print the pid recorded in PIDFILE and succeed if that
# process runs EXE and, if given, has CMDLINE_PART in its command line.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc 0-9 <"$1")
  [ -n "$pid" ] && runs "$pid" "$2" || return 1
  if [ -n "${3:-}" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$3" || return 1
  fi
  echo "$pid"
}

# stop_pid PID EXE [TIMEOUT_S] : SIGTERM, SIGKILL after TIMEOUT_S (10), wait until it is gone.
# Signals PID only while it still runs EXE.
stop_pid() {
  local pid=$1 exe=$2 timeout=${3:-10} i
  for ((i = 0; i <= (timeout + 5) * 5; i++)); do
    runs "$pid" "$exe" || return 0
    case $i in
      0) kill -TERM "$pid" 2>/dev/null || true ;;
      $((timeout * 5))) log "pid $pid ignored SIGTERM for ${timeout}s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true ;;
    esac
    sleep 0.2
  done
  log "pid $pid is still running"
  return 1
}
