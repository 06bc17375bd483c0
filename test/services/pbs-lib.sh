# shellcheck shell=bash disable=SC2034
# Settings and helpers of pbs-up.sh, pbs-down.sh and pbs-record.sh (sourced after lib.sh; not an
# up/down script itself). The OpenPBS daemons run in the network namespace lrms-pbs, joined to the
# host by one veth pair; clients (qsub, qstat, ...) run on the host and are called by full path:
#
#   host:     veth-pbs-h 10.77.0.1/30   <- qsub, qstat, ... (the server names this end `hostname -s`)
#   lrms-pbs: veth-pbs-n 10.77.0.2/30   <- pbs_comm, pbs_server (+ PostgreSQL datastore), pbs_sched,
#             lo                           pbs_mom; node = server = pbs-node
#
# OpenPBS drops loopback addresses when it resolves its own host name, hence the namespace. It has
# no default route: the daemons and the jobs reach only lo, 10.77.0.2 and 10.77.0.1.

STATE=${LRMS_PBS_DIR:-/tmp/effect-lrms-pbs}
PBS_VERSION=23.06.06
PREFIX=/opt/pbs                 # configure --prefix; LRMS_PBS_BIN=$PREFIX/bin
PBS_HOME_DIR=/var/spool/pbs     # PBS_HOME (the build's default)
BUILD_MARK=$PREFIX/.effect-lrms-build # version=..., sha256=... of the tarball /opt/pbs was built from
NODE=pbs-node
NETNS=lrms-pbs
VETH_HOST=veth-pbs-h
VETH_NS=veth-pbs-n
HOST_IP=10.77.0.1
NODE_IP=10.77.0.2
NET_PREFIX=30
NETNS_ETC=/etc/netns/$NETNS     # `ip netns exec` bind-mounts its hosts file over /etc/hosts
HOSTS_LOCK=/run/lrms-etc-hosts.lock # every /etc/hosts edit on this machine holds this flock
HOSTS_TAG="# effect-lrms pbs-up.sh"
HOME_MARK=$PBS_HOME_DIR/.effect-lrms-node # "pbs-node lrms-pbs": what PBS_HOME was made for
PBS_PORTS="15001 15002 15003 15007 17001"  # server, mom (2), datastore, comm: in the namespace
PBS_USERS="lrmskey lrmspw"      # the SSH test users of sshd-up.sh
export PBS_CONF_FILE=/etc/pbs.conf

# in_ns CMD... : run CMD in the namespace (its own /etc/hosts). Without fd 9, the scripts' lock:
# a daemon started here (pbs_sched keeps its fds) would hold it for good.
in_ns() { ip netns exec "$NETNS" "$@" 9>&-; }
ns_exists() { [ -e "/run/netns/$NETNS" ] && ip netns list 2>/dev/null | grep -qw "^$NETNS"; }
ns_inode() { stat -L -c %i "/run/netns/$NETNS" 2>/dev/null; }
pid_ns_inode() { stat -L -c %i "/proc/$1/ns/net" 2>/dev/null; }
# ns_pids : every process in the namespace (except this shell)
ns_pids() {
  local want p
  want=$(ns_inode) || return 0
  [ -n "$want" ] || return 0
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != $$ ] && [ "$(pid_ns_inode "${p#/proc/}")" = "$want" ] && echo "${p#/proc/}"
  done
  return 0
}

# take_lock WAIT_S : hold STATE/lock on fd 9 (pbs-up.sh, pbs-down.sh, pbs-record.sh: one at a time)
take_lock() {
  local p f who
  exec 9>>"$STATE/lock"
  flock -w 2 9 && return 0
  who=$(for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    for f in "$p"/fd/*; do
      [ "$(readlink "$f" 2>/dev/null)" = "$STATE/lock" ] && echo "${p#/proc/} ($(tr '\0' ' ' <"$p/cmdline" | cut -c 1-60))" && break
    done
  done 2>/dev/null | sort -u | tr '\n' ' ')
  log "waiting up to ${1}s for $STATE/lock, held by: ${who:-?}"
  flock -w "$1" 9 || die "$STATE/lock is still held after ${1}s by: ${who:-?}"
}

is_zombie() { [ "$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null)" = Z ]; }
# lock_pid FILE EXE : print the pid on the first line of a PBS lock/pid file if it runs EXE
lock_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(head -n 1 "$1" 2>/dev/null | tr -dc 0-9)
  [ -n "$pid" ] && runs "$pid" "$2" && ! is_zombie "$pid" || return 1
  echo "$pid"
}
pg_exe() { # the PostgreSQL server binary the datastore runs (Debian: /usr/lib/postgresql/N/bin)
  local f
  for f in /usr/lib/postgresql/*/bin/postgres; do [ -x "$f" ] && echo "$f"; done | sort -V | tail -n 1
}
# the daemons: NAME:LOCKFILE:EXE:LOGDIR
daemons() {
  cat <<EOF
pbs_comm:server_priv/comm.lock:$PREFIX/sbin/pbs_comm:comm_logs
pbs_server:server_priv/server.lock:$PREFIX/sbin/pbs_server.bin:server_logs
pbs_sched:sched_priv/sched.lock:$PREFIX/sbin/pbs_sched:sched_logs
pbs_mom:mom_priv/mom.lock:$PREFIX/sbin/pbs_mom:mom_logs
EOF
}
# pbs_pids : NAME:PID of every PBS process alive: the daemons of the lock files, the datastore,
# pbs_ds_monitor and the "qsub daemons" (qsub forks one per user and environment on the host to
# reuse its connection; it exits after 60 s idle), found by their executables
pbs_pids() {
  local name lock exe pid p e pg
  while IFS=: read -r name lock exe _; do
    pid=$(lock_pid "$PBS_HOME_DIR/$lock" "$exe") && echo "$name:$pid"
  done < <(daemons)
  pg=$(pg_exe)
  [ -z "$pg" ] || { pid=$(lock_pid "$PBS_HOME_DIR/datastore/postmaster.pid" "$pg") && echo "datastore:$pid"; }
  for p in /proc/[0-9]*; do
    e=$(readlink "$p/exe" 2>/dev/null) || continue
    case ${e% (deleted)} in
      "$PREFIX/sbin/pbs_ds_monitor") echo "pbs_ds_monitor:${p#/proc/}" ;;
      "$PREFIX/bin/qsub") [ "${p#/proc/}" = $$ ] || echo "qsub-daemon:${p#/proc/}" ;;
    esac
  done
  return 0
}
pid_exe() { local e; e=$(readlink "/proc/$1/exe" 2>/dev/null) && echo "${e% (deleted)}"; }

# hosts_line [LINE] : under the machine-wide /etc/hosts lock, drop our tagged line and, if given,
# add LINE (tagged). Other lines are kept as they are. Rewritten in place when /etc/hosts is a
# mount point (containers bind-mount it), else atomically.
hosts_line() {
  local want=${1:+$1 $HOSTS_TAG} tmp
  (
    flock -w 30 8 || { log "could not lock $HOSTS_LOCK within 30 s"; exit 1; }
    if [ -n "$want" ]; then
      [ "$(grep -cF -- "$HOSTS_TAG" /etc/hosts)" = 1 ] && grep -qxF -- "$want" /etc/hosts && exit 0
    else
      grep -qF -- "$HOSTS_TAG" /etc/hosts || exit 0
    fi
    tmp=$(mktemp /etc/.hosts.lrms-pbs.XXXXXX) || exit 1
    { grep -vF -- "$HOSTS_TAG" /etc/hosts || true; [ -z "$want" ] || echo "$want"; } >"$tmp"
    if awk '$5 == "/etc/hosts" { f = 1 } END { exit !f }' /proc/self/mountinfo 2>/dev/null; then
      cat "$tmp" >/etc/hosts && rm -f "$tmp"
    else
      chmod --reference=/etc/hosts "$tmp" 2>/dev/null || chmod 644 "$tmp"
      mv -f "$tmp" /etc/hosts
    fi
  ) 8>>"$HOSTS_LOCK"
}

# apt_busy : true while some process holds one of apt's or dpkg's locks (POSIX locks, as listed in
# /proc/locks). apt-get install waits for the dpkg lock (DPkg::Lock::Timeout), but not for the
# lists lock (apt-get update) or the archives lock: it fails at once on those.
apt_busy() {
  local f ino held
  held=$(awk '{ n = split($6, a, ":"); print a[n] }' /proc/locks 2>/dev/null) || return 1
  for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock \
    /var/cache/apt/archives/lock; do
    ino=$(stat -c %i "$f" 2>/dev/null) || continue
    grep -qx "$ino" <<<"$held" && return 0
  done
  return 1
}
# pbs_ensure_pkgs PKG... : ensure_pkgs of lib.sh for the missing ones, after any other apt run has
# ended (waits up to 10 min), tried three times (another apt run may start in between)
pbs_ensure_pkgs() {
  local try p missing=() deadline=$(($(date +%s) + 600))
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  for try in 1 2 3; do
    if apt_busy; then
      log "apt or dpkg is busy (another install?): waiting before installing ${missing[*]}"
      while apt_busy; do
        [ "$(date +%s)" -lt "$deadline" ] || die "apt/dpkg locks still held after 10 min"
        sleep 2
      done
    fi
    (ensure_pkgs "${missing[@]}") && return 0
    [ $try -eq 3 ] || { log "installing failed (try $try of 3); again in 5 s"; sleep 5; }
  done
  die "could not install the packages OpenPBS needs: ${missing[*]}"
}
