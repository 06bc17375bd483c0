# shellcheck shell=bash disable=SC2034
# (SC2034: the settings are used by the scripts that source this file)
# Settings and helpers of the TORQUE scripts (torque-up.sh, torque-down.sh, torque-record.sh).
# Sourced after lib.sh, not executed. Its name must not end in -up.sh/-down.sh (up.sh and down.sh
# run every such file).
#
# Layout (see README.md, "TORQUE"):
#   host                                    network namespace lrms-torque (no default route)
#    veth-trq-h 10.77.1.1/30  <-- veth -->   veth-trq-n 10.77.1.2/30, lo
#    trqauthd (socket dir /run/torque-auth)  trqauthd, pbs_server :15001, pbs_mom :15002/15003,
#    /opt/torque/bin/q* clients              pbs_sched :15004; every daemon also in its own UTS
#    /etc/hosts: 10.77.1.2 torque-node       namespace with hostname torque-node, and with
#                                            /run/torque-auth-ns bind-mounted over /run/torque-auth
# TORQUE clients authenticate through the trqauthd of their own host, and pbs_server checks that
# this trqauthd connects from the client's address: so one trqauthd per side. A pathname unix
# socket is visible across network namespaces, hence the private socket dir of the namespace side.

TQ_VERSION=6.1.3.h5
TQ_COMMIT=4decc716daa73044648b5578ef68d89713d2f6a2 # the 6.1.3.h5 branch (2020-04-27)
TQ_URL=https://github.com/adaptivecomputing/torque/archive/$TQ_COMMIT.tar.gz
TQ_PREFIX=/opt/torque       # compiled in (--prefix); the clients are called by full path
TQ_BIN=$TQ_PREFIX/bin
TQ_SBIN=$TQ_PREFIX/sbin
TQ_SPOOL=/var/spool/torque  # compiled in (--with-server-home): server db, logs, mom_priv
TQ_AUTH=/run/torque-auth    # compiled in (--with-trqauthd-sock-dir): the host trqauthd's socket
TQ_AUTH_NS=/run/torque-auth-ns
TQ_MARKER=$TQ_PREFIX/share/effect-lrms-build # what was built, from which tarball, with which flags
TQ_SKEL=$TQ_PREFIX/share/effect-lrms-spool.tar.gz # the pristine spool tree of `make install`
TQ_NS=lrms-torque
TQ_VETH_H=veth-trq-h
TQ_VETH_N=veth-trq-n
TQ_HOST_IP=10.77.1.1
TQ_NS_IP=10.77.1.2
TQ_NODE=torque-node  # compiled in (--with-default-server); server, MOM and job host name
TQ_CLIENT=torque-client # how the host (10.77.1.1) is named inside the namespace
TQ_QUEUE="batch"
TQ_NETNS_ETC=/etc/netns/$TQ_NS
TQ_HOSTS_TAG="# added by effect-lrms torque-up.sh"
TQ_HOSTS_LOCK=/run/lrms-etc-hosts.lock # shared with the other scripts that edit /etc/hosts
TQ_STATE=${LRMS_TORQUE_DIR:-/tmp/effect-lrms-torque}
TQ_RUN=$TQ_STATE/run # pid files
TQ_LOGS=$TQ_STATE/log # the daemons' stdout/stderr (their own logs are in $TQ_SPOOL/*_logs)
# the daemons in the order they are started; NAME -> binary in tq_exe
TQ_DAEMONS="trqauthd-ns pbs_server pbs_mom pbs_sched trqauthd-host"

case $TQ_STATE in /?*) ;; *) die "LRMS_TORQUE_DIR must be an absolute path, not '$TQ_STATE'" ;; esac

tq_exe() { # tq_exe NAME : the binary of daemon NAME
  case $1 in trqauthd-*) echo "$TQ_SBIN/trqauthd" ;; *) echo "$TQ_SBIN/$1" ;; esac
}
tq_pid() { pid_alive "$TQ_RUN/$1.pid" "$(tq_exe "$1")"; } # tq_pid NAME : its pid, if it runs
tq_ns_exists() { [ -e "/run/netns/$TQ_NS" ] && ip netns list 2>/dev/null | grep -qE "^$TQ_NS( |$)"; }

# tq_ns CMD... : run CMD inside the namespace as the daemons run (hostname torque-node, the
# namespace's trqauthd socket), killed after TQ_NS_TIMEOUT (20) s; `ip netns exec` also
# bind-mounts $TQ_NETNS_ETC/hosts.
tq_ns() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  timeout "${TQ_NS_TIMEOUT:-20}" ip netns exec "$TQ_NS" unshare --uts -- /bin/sh -c \
    'hostname "$0" && mount --bind "$1" "$2" && shift 2 && exec "$@"' \
    "$TQ_NODE" "$TQ_AUTH_NS" "$TQ_AUTH" "$@"
}

# tq_hosts_line [ADDR NAME] : drop our tagged line from /etc/hosts and, if given, add
# "ADDR NAME  TAG". Other scripts edit /etc/hosts at the same time: only under the shared lock,
# and only our own line. Written in place (same inode: /etc/hosts may be a bind mount).
# shellcheck disable=SC2120 # called without arguments here, with them in torque-up.sh
tq_hosts_line() {
  local want=${1:+$1 $2 $TQ_HOSTS_TAG}
  (
    flock -w 30 8 || { log "could not lock $TQ_HOSTS_LOCK within 30 s"; exit 1; }
    tmp=$(mktemp /etc/.hosts.effect-lrms-torque.XXXXXX) || exit 1
    grep -vF -- "$TQ_HOSTS_TAG" /etc/hosts >"$tmp" || true
    [ -z "$want" ] || printf '%s\n' "$want" >>"$tmp"
    cmp -s "$tmp" /etc/hosts || cat "$tmp" >/etc/hosts || { rm -f "$tmp"; exit 1; }
    rm -f "$tmp"
  ) 8>>"$TQ_HOSTS_LOCK"
}

# tq_tail FILE [N] : the end of FILE, indented, on stderr
tq_tail() { [ -s "$1" ] && { echo "  --- $1" && tail -n "${2:-12}" "$1" | sed 's/^/  | /'; } >&2; return 0; }
# tq_newest DIR : the newest file in DIR (the daemons' logs are named by date)
tq_newest() { find "$1" -maxdepth 1 -type f -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-; }

# tq_strays : pids of TORQUE daemons (exe one of our four daemon binaries) that no pid file names,
# e.g. left by a state dir that was deleted while they ran
tq_strays() {
  local d p exe known=" "
  for d in $TQ_DAEMONS; do known+="$(tq_pid "$d" || true) "; done
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case ${exe% (deleted)} in
      "$TQ_SBIN"/pbs_server | "$TQ_SBIN"/pbs_mom | "$TQ_SBIN"/pbs_sched | "$TQ_SBIN"/trqauthd)
        [[ $known == *" ${p#/proc/} "* ]] || echo "${p#/proc/}" ;;
    esac
  done
  return 0
}

# tq_client SECONDS CMD... : run a client, killed after SECONDS: inside the namespace while its
# trqauthd runs (root@torque-node is manager), else on the host
tq_client() {
  if tq_pid trqauthd-ns >/dev/null; then TQ_NS_TIMEOUT=$1 tq_ns "${@:2}"; else timeout "$1" "${@:2}"; fi
}

# tq_delete_jobs : while pbs_server answers, delete every job that has not completed and wait up to
# 10 s for them to end (else pbs_server takes long to stop, and the next start finds them "running"
# on a MOM that knows nothing of them)
tq_delete_jobs() {
  local ids
  tq_pid pbs_server >/dev/null || return 0
  tq_pid trqauthd-ns >/dev/null || tq_pid trqauthd-host >/dev/null || return 0
  # shellcheck disable=SC2317 # called below and by wait_for
  active() { tq_client 10 "$TQ_BIN/qselect" -s EHQRTW 2>/dev/null | tr '\n' ' '; }
  ids=$(active) || return 0
  [ -n "${ids// /}" ] || return 0
  log "deleting the jobs that have not completed: $ids"
  # shellcheck disable=SC2086
  tq_client 15 "$TQ_BIN/qdel" $ids >/dev/null 2>&1 || true
  # shellcheck disable=SC2317
  none() { [ -z "$(active | tr -d ' ')" ]; }
  wait_for 10 "the jobs to end" none && return 0
  ids=$(active) || return 0
  log "purging the jobs that did not end: $ids"
  # shellcheck disable=SC2086
  [ -z "${ids// /}" ] || tq_client 15 "$TQ_BIN/qdel" -p $ids >/dev/null 2>&1 || true
}

# tq_stop : stop the daemons (pbs_server first: it saves its database on SIGTERM), then whatever
# still runs in our namespace (the jobs' processes). Signals only processes whose exe is one of
# our binaries, or that are in the namespace lrms-torque, which only these scripts use.
tq_stop() {
  local d p pids=() left rc=0
  tq_delete_jobs
  if p=$(tq_pid pbs_server); then
    stop_pid "$p" "$(tq_exe pbs_server)" 15 && log "stopped pbs_server (pid $p)" || rc=1
  fi
  for d in $TQ_DAEMONS; do
    [ "$d" != pbs_server ] || continue
    p=$(tq_pid "$d") || continue
    { stop_pid "$p" "$(tq_exe "$d")" 10 && log "stopped $d (pid $p)"; } &
    pids+=($!)
  done
  for p in $(tq_strays); do
    d=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
    log "stopping stray ${d##*/} (pid $p, no pid file of ours)"
    stop_pid "$p" "${d% (deleted)}" 10 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  if tq_ns_exists; then
    left=$(ip netns pids "$TQ_NS" 2>/dev/null | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
      log "killing what is left in $TQ_NS (jobs): $left"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$TQ_RUN"/*.pid "$TQ_AUTH"/trqauthd-unix "$TQ_AUTH_NS"/trqauthd-unix 2>/dev/null
  return $rc
}

# tq_net_down : remove the namespace, the veth pair, the namespace's /etc files and our
# /etc/hosts line (nothing of OpenPBS's lrms-pbs)
tq_net_down() {
  if tq_ns_exists; then
    local left
    left=$(ip netns pids "$TQ_NS" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -z "${left// /}" ] || { kill -KILL $left 2>/dev/null; sleep 0.2; }
    ip netns del "$TQ_NS" || log "WARNING: ip netns del $TQ_NS failed"
  fi
  if ip link show "$TQ_VETH_H" >/dev/null 2>&1; then
    ip link del "$TQ_VETH_H" || log "WARNING: ip link del $TQ_VETH_H failed"
  fi
  rm -rf "$TQ_NETNS_ETC"
  rmdir /etc/netns 2>/dev/null || true # only when empty
  tq_hosts_line "" || log "WARNING: could not remove our line from /etc/hosts"
}
