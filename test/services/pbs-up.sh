#!/usr/bin/env bash
# Build (once) and start (or just verify) a single-node OpenPBS 23.06.06: pbs_comm, pbs_server
# with its PostgreSQL datastore, pbs_sched and pbs_mom, all inside the network namespace lrms-pbs
# (veth 10.77.0.1/30 on the host <-> 10.77.0.2/30 = pbs-node inside). Clients run on the host, by
# full path (/opt/pbs/bin/qsub: /usr/bin/qsub is Grid Engine's). Run as root; idempotent.
#   LRMS_OPENPBS_TARBALL   the source, openpbs-23.06.06.tar.gz (set but missing: error). Unset:
#                          a build of 23.06.06 in /opt/pbs is used, else the upstream release is
#                          downloaded; if that fails the script says "skipped" and exits 0 without
#                          starting anything or writing the env file (the tests then skip).
#   LRMS_PBS_DIR           state dir (/tmp/effect-lrms-pbs): env, build logs and times, smoke job,
#                          mailer log
#   LRMS_PBS_NCPUS         resources_available.ncpus of the node (8: more than the machine has, so
#                          the tests' mostly sleeping jobs run side by side)
#   LRMS_PBS_MAX_WALLTIME  resources_max.walltime of queue workq (24:00:00; also the default)
#   LRMS_PBS_MAX_NCPUS     resources_max.ncpus of queue workq (default: LRMS_PBS_NCPUS), so that
#                          qsub refuses a job larger than the node (rc 188) instead of queueing it
#                          for good; 0: no such limit. (Memory gets no queue limit: a
#                          resources_max.mem becomes every job's default mem request.)
#   LRMS_PBS_TIMEOUT       seconds to wait for the server and the node (120; the smoke job: 60)
#   LRMS_PBS_JOBS          make -j (nproc)
# The build goes to /opt/pbs (configure --prefix) and is skipped when /opt/pbs/.effect-lrms-build
# names the same version and tarball sha256. PBS_HOME is /var/spool/pbs; /etc/pbs.conf, one tagged
# /etc/hosts line (pbs-node) and /etc/netns/lrms-pbs/hosts are written. Writes STATE/env (KEY=VALUE,
# see README.md) once a job submitted by lrmskey from the host has finished with its output.
set -euo pipefail
SCRIPT_NAME=pbs-up
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=pbs-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pbs-lib.sh"
T0=$(now_ms)
umask 022
NCPUS=${LRMS_PBS_NCPUS:-8}
MAX_WALLTIME=${LRMS_PBS_MAX_WALLTIME:-24:00:00}
MAX_NCPUS=${LRMS_PBS_MAX_NCPUS:-$NCPUS}
TIMEOUT=${LRMS_PBS_TIMEOUT:-120}
JOBS=${LRMS_PBS_JOBS:-$(nproc)}
URL=https://github.com/openpbs/openpbs/archive/refs/tags/v$PBS_VERSION.tar.gz
B=$PREFIX/bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8

[ "$(id -u)" -eq 0 ] || die "must run as root (build into $PREFIX, network namespace, daemons)"
case $STATE in /?*) ;; *) die "LRMS_PBS_DIR must be an absolute path, not '$STATE'" ;; esac
case $NCPUS in '' | *[!0-9]* | 0) die "LRMS_PBS_NCPUS must be a whole number above 0" ;; esac
case $MAX_NCPUS in '' | *[!0-9]*) die "LRMS_PBS_MAX_NCPUS must be a whole number (0: no limit)" ;; esac
case $TIMEOUT in '' | *[!0-9]* | 0) die "LRMS_PBS_TIMEOUT must be a whole number above 0" ;; esac
[[ $MAX_WALLTIME =~ ^[0-9]+:[0-5][0-9]:[0-5][0-9]$ ]] || die "LRMS_PBS_MAX_WALLTIME must be HH:MM:SS"
for bin in ip flock runuser sha256sum tar curl python3; do
  command -v "$bin" >/dev/null || die "missing binary: $bin"
done
for u in $PBS_USERS; do
  getent passwd "$u" >/dev/null ||
    die "user $u is missing: run test/services/sshd-up.sh first (it creates the SSH test users)"
done
SMOKE_USER=${PBS_USERS%% *}
mkdir -p "$STATE"
# the env file says "up and verified": none after a failed run
trap 'rc=$?; [ $rc -eq 0 ] || rm -f "$STATE/env"' EXIT
take_lock 900 # another pbs-up.sh may be building (minutes)

# --- 1. the source and the build (cached) -----------------------------------------------------
# installed_ok : /opt/pbs is a complete build of PBS_VERSION (sha256 of its tarball on stdout)
installed_ok() {
  [ -x "$B/qstat" ] && [ -x "$PREFIX/libexec/pbs_init.d" ] && [ -u "$PREFIX/sbin/pbs_iff" ] &&
    grep -qx "version=$PBS_VERSION" "$BUILD_MARK" 2>/dev/null &&
    sed -n 's/^sha256=//p' "$BUILD_MARK"
}
TARBALL=${LRMS_OPENPBS_TARBALL:-}
if [ -n "${LRMS_OPENPBS_TARBALL+set}" ]; then
  [ -n "$TARBALL" ] || die "LRMS_OPENPBS_TARBALL is set but empty"
  { [ -f "$TARBALL" ] && [ -r "$TARBALL" ]; } ||
    die "LRMS_OPENPBS_TARBALL=$TARBALL: no such readable file (the openpbs-$PBS_VERSION.tar.gz source)"
elif ! installed_ok >/dev/null; then
  TARBALL=$STATE/src/openpbs-$PBS_VERSION.tar.gz
  if [ ! -s "$TARBALL" ]; then
    log "LRMS_OPENPBS_TARBALL is not set: downloading $URL"
    mkdir -p "$STATE/src"
    if ! curl -fsSL --max-time 60 --connect-timeout 10 -o "$TARBALL.part" "$URL" 2>"$STATE/src/curl.err"; then
      rm -f "$TARBALL.part"
      log "download failed: $(tail -n 1 "$STATE/src/curl.err")"
      log "skipped: no OpenPBS source (set LRMS_OPENPBS_TARBALL to openpbs-$PBS_VERSION.tar.gz)"
      rm -f "$STATE/env"
      exit 0
    fi
    mv -f "$TARBALL.part" "$TARBALL"
  fi
fi

BUILD_DEPS=(gcc g++ make libtool autoconf automake pkg-config perl libhwloc-dev libx11-dev
  libxt-dev libxext-dev libxft-dev libedit-dev libical-dev libncurses-dev libpq-dev python3-dev
  tcl-dev tk-dev swig libexpat1-dev libssl-dev zlib1g-dev)
RUN_DEPS=(postgresql postgresql-contrib libedit2 libical3 python3 tcl tk procps hostname iproute2)
BUILT=
build() {
  local sha=$1 src=$STATE/build/openpbs-$PBS_VERSION logs=$STATE/build/logs version t b
  local times=$STATE/build-times.txt
  # step NAME CMD... : run CMD with its output in logs/NAME.log, time it; on failure show the log
  step() {
    local name=$1 rc=0
    shift
    t=$(now_ms)
    "$@" >"$logs/$name.log" 2>&1 || rc=$?
    printf '%-13s %7.1f s rc=%d\n' "$name" "$(($(now_ms) - t))e-3" "$rc" >>"$times"
    [ $rc -eq 0 ] || {
      tail -n 25 "$logs/$name.log" | sed 's/^/  | /' >&2
      die "build step '$name' failed with exit $rc (log: $logs/$name.log)"
    }
  }
  version=$(tar -xzOf "$TARBALL" --wildcards '*/configure.ac' 2>/dev/null |
    awk '/^AC_INIT/ { getline; gsub(/[^0-9.]/, ""); print; exit }') || true
  [ "$version" = "$PBS_VERSION" ] ||
    die "$TARBALL is OpenPBS '${version:-?}' (from its configure.ac), not $PBS_VERSION"
  [ -z "$(pbs_pids | grep -v '^qsub-daemon:' || true)" ] ||
    die "$PREFIX is to be rebuilt but PBS daemons run from it: run test/services/pbs-down.sh first"
  b=$(now_ms)
  log "building OpenPBS $PBS_VERSION into $PREFIX (a few minutes; logs: $logs)"
  rm -rf "$STATE/build"
  mkdir -p "$src" "$logs"
  echo "# $(date -u +%FT%TZ) OpenPBS $PBS_VERSION sha256=$sha make -j$JOBS" >>"$times"
  t=$(now_ms)
  pbs_ensure_pkgs "${BUILD_DEPS[@]}" "${RUN_DEPS[@]}"
  printf '%-13s %7.1f s\n' packages "$(($(now_ms) - t))e-3" >>"$times"
  step unpack tar -xzf "$TARBALL" -C "$src" --strip-components=1
  # Python 3.11 has no eval.h; upstream fixed it after the release (1d17427c0, "compile with
  # Python 3.11"): include Python.h instead, only while the tree still has the old line
  sed -i 's|^#include <eval.h>|#include <Python.h> /* Python 3.11: no eval.h (upstream 1d17427c0) */|' \
    "$src/src/lib/Libpython/pbs_python_external.c"
  cd "$src"
  step autogen ./autogen.sh
  # --with-python=/usr: Debian's python3, never one of /usr/local (PATH is clean, too)
  step configure ./configure --prefix="$PREFIX" --with-python=/usr
  step make make -j"$JOBS"
  rm -f "$BUILD_MARK"
  step install make install
  # /etc/pbs.conf (rewritten below), PBS_HOME, /etc/init.d/pbs, /etc/profile.d/pbs.sh (appends
  # /opt/pbs/bin at the END of PATH); starts nothing
  step postinstall "$PREFIX/libexec/pbs_postinstall"
  chmod 4755 "$PREFIX/sbin/pbs_iff" "$PREFIX/sbin/pbs_rcp"
  cd /
  printf 'version=%s\nsha256=%s\n' "$PBS_VERSION" "$sha" >"$BUILD_MARK"
  rm -rf "$src" # 180 MB; the logs stay
  printf '%-13s %7.1f s\n' total "$(($(now_ms) - b))e-3" >>"$times"
  log "built and installed OpenPBS $PBS_VERSION in $(($(now_ms) - b)) ms ($times)"
  BUILT=" (built)"
}
have=$(installed_ok) || have=
if [ -n "$TARBALL" ]; then
  sha=$(sha256sum "$TARBALL" | cut -d' ' -f1)
  [ "$have" = "$sha" ] || build "$sha"
else
  log "using the OpenPBS $PBS_VERSION build in $PREFIX (no tarball given)"
fi
# run dependencies (a build on this machine installed them; /opt/pbs may have been copied here)
pbs_ensure_pkgs "${RUN_DEPS[@]}"
PG=$(pg_exe)
[ -n "$PG" ] || die "no PostgreSQL server binary in /usr/lib/postgresql/*/bin (the datastore)"
getent passwd postgres >/dev/null || die "user postgres (the datastore's owner) is missing"

# --- 2. network namespace and veth pair ---------------------------------------------------------
conflict=$(ip -o -4 addr show | awk -v a=$HOST_IP -v b=$NODE_IP -v me=$VETH_HOST \
  '{ split($4, x, "/") } (x[1] == a || x[1] == b) && $2 != me { print $2 " has " $4 }')
[ -z "$conflict" ] || die "$HOST_IP/$NODE_IP is already used on this host: $conflict"
if ! ns_exists; then
  ip netns add $NETNS || die "ip netns add $NETNS failed (needs CAP_SYS_ADMIN)"
  log "created network namespace $NETNS"
fi
if ! ip -n $NETNS link show $VETH_NS >/dev/null 2>&1; then
  if ip link show $VETH_HOST >/dev/null 2>&1; then # a host end without its peer: stale
    ip -d link show $VETH_HOST | grep -qw veth || die "$VETH_HOST exists and is not a veth"
    ip link del $VETH_HOST
  fi
  ip link add $VETH_HOST type veth peer name $VETH_NS netns $NETNS ||
    die "could not create the veth pair $VETH_HOST <-> $NETNS/$VETH_NS"
fi
ip link show $VETH_HOST >/dev/null 2>&1 || die "$VETH_HOST (host end of $NETNS/$VETH_NS) is missing: run pbs-down.sh --purge"
# IPv4 only: no link-local addresses, no router solicitations
echo 1 >/proc/sys/net/ipv6/conf/$VETH_HOST/disable_ipv6 2>/dev/null || true
in_ns sh -c "echo 1 >/proc/sys/net/ipv6/conf/$VETH_NS/disable_ipv6" 2>/dev/null || true
ip addr replace $HOST_IP/$NET_PREFIX dev $VETH_HOST
ip link set $VETH_HOST up
ip -n $NETNS link set lo up
ip -n $NETNS addr replace $NODE_IP/$NET_PREFIX dev $VETH_NS
ip -n $NETNS link set $VETH_NS up
route=$(ip -4 route get $NODE_IP 2>/dev/null | head -n 1)
[[ $route == *"dev $VETH_HOST "* ]] || die "the host routes $NODE_IP as '$route', not over $VETH_HOST"
[ -z "$(ip -n $NETNS -4 route show default)" ] || die "$NETNS has a default route (we add none)"

# --- 3. names: pbs-node = 10.77.0.2 on both sides; in the namespace 10.77.0.1 = this host -------
CLIENT=$(hostname -s)
hosts_line "$NODE_IP $NODE" || die "could not update /etc/hosts"
mkdir -p "$NETNS_ETC"
cat >"$NETNS_ETC/hosts.new" <<EOF
# /etc/hosts of network namespace $NETNS, written by effect-lrms test/services/pbs-up.sh
127.0.0.1	localhost
$NODE_IP	$NODE
$HOST_IP	$CLIENT
EOF
if cmp -s "$NETNS_ETC/hosts.new" "$NETNS_ETC/hosts"; then rm -f "$NETNS_ETC/hosts.new"; else mv -f "$NETNS_ETC/hosts.new" "$NETNS_ETC/hosts"; fi
got=$(getent ahostsv4 $NODE | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$got" = "$NODE_IP " ] || die "on the host $NODE resolves to '${got:-nothing}', not only $NODE_IP (another /etc/hosts line?)"
got=$(in_ns getent ahostsv4 $NODE | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$got" = "$NODE_IP " ] || die "in $NETNS $NODE resolves to '${got:-nothing}', not $NODE_IP"
got=$(in_ns getent hosts $HOST_IP | awk '{ print $2 }')
[ "$got" = "$CLIENT" ] || die "in $NETNS $HOST_IP resolves to '${got:-nothing}', not $CLIENT"

# --- 4. /etc/pbs.conf (daemons and clients) -----------------------------------------------------
cat >/etc/pbs.conf.lrms-new <<EOF
PBS_EXEC=$PREFIX
PBS_HOME=$PBS_HOME_DIR
PBS_SERVER=$NODE
PBS_START_SERVER=1
PBS_START_SCHED=1
PBS_START_COMM=1
PBS_START_MOM=1
PBS_LEAF_NAME=$NODE
PBS_MOM_NODE_NAME=$NODE
PBS_COMM_NAME=$NODE
PBS_CORE_LIMIT=unlimited
EOF
if cmp -s /etc/pbs.conf.lrms-new /etc/pbs.conf; then
  rm -f /etc/pbs.conf.lrms-new
else
  chmod 644 /etc/pbs.conf.lrms-new && mv -f /etc/pbs.conf.lrms-new /etc/pbs.conf
  log "wrote /etc/pbs.conf (server = node = comm = $NODE)"
fi

# --- 5. what runs already: ours, in the namespace -----------------------------------------------
WANT_NS=$(ns_inode)
running=$(pbs_pids | grep -v '^qsub-daemon:' || true)
for np in $running; do
  [ "$(pid_ns_inode "${np#*:}")" = "$WANT_NS" ] ||
    die "${np%%:*} (pid ${np#*:}) runs outside network namespace $NETNS: run pbs-down.sh first"
done
home_ready() { [ -f "$PBS_HOME_DIR/pbs_version" ] && [ -d "$PBS_HOME_DIR/datastore" ] && [ -f "$PBS_HOME_DIR/server_priv/db_user" ]; }
if home_ready && [ "$(cat "$HOME_MARK" 2>/dev/null)" != "$NODE $NETNS" ]; then
  die "$PBS_HOME_DIR was not made by pbs-up.sh for $NODE in $NETNS (no $HOME_MARK): run pbs-down.sh --purge"
fi
if [ -z "$running" ]; then
  for p in $PBS_PORTS; do
    ! in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null ||
      die "port $p is in use inside $NETNS by something that is not ours (OpenPBS needs $PBS_PORTS there)"
  done
fi

# --- 6. PBS_HOME and the configuration files ----------------------------------------------------
if ! home_ready; then
  [ -z "$running" ] || die "PBS daemons run but $PBS_HOME_DIR is not initialised: run pbs-down.sh"
  t=$(now_ms)
  log "initialising $PBS_HOME_DIR (pbs_habitat in $NETNS: datastore, server, queue workq)"
  in_ns "$PREFIX/libexec/pbs_habitat" >"$STATE/habitat.log" 2>&1 || {
    tail -n 20 "$STATE/habitat.log" | sed 's/^/  | /' >&2
    die "pbs_habitat failed (log: $STATE/habitat.log)"
  }
  home_ready || die "pbs_habitat did not initialise $PBS_HOME_DIR (log: $STATE/habitat.log)"
  echo "$NODE $NETNS" >"$HOME_MARK"
  log "PBS_HOME initialised in $(($(now_ms) - t)) ms"
fi
RESTART=
# the server reaches its datastore by the server's host name (10.77.0.2); PBS's default is '*'
pgconf=$PBS_HOME_DIR/datastore/postgresql.conf
pglisten="listen_addresses = 'localhost,$NODE_IP'"
if ! grep -qxF "$pglisten" "$pgconf"; then
  sed -i "s/^#\?listen_addresses = .*/$pglisten/" "$pgconf"
  grep -qxF "$pglisten" "$pgconf" || die "could not set $pglisten in $pgconf"
  [ -z "$running" ] || RESTART+=" datastore"
fi
# MoM: copy output files with cp (same file system), never scp; poll the jobs every 2-10 s (the
# default 10-120 s lets a walltime limit be overrun by up to 2 minutes)
momconf=$PBS_HOME_DIR/mom_priv/config
# shellcheck disable=SC2016 # MoM's keywords start with $
mom_want=$(printf '%s\n' '$usecp *:/ /' '$min_check_poll 2' '$max_check_poll 10')
# shellcheck disable=SC2016
mom_keys='^\$(usecp|min_check_poll|max_check_poll)[[:space:]]'
# (pbs_init.d start adds lines of its own, $restrict_user_maxsysid: only ours are compared)
if [ "$(grep -E "$mom_keys" "$momconf" 2>/dev/null || true)" != "$mom_want" ]; then
  { grep -vE "$mom_keys" "$momconf" 2>/dev/null || true; echo "$mom_want"; } >"$momconf.new"
  mv -f "$momconf.new" "$momconf" && chmod 644 "$momconf"
  [ -z "$running" ] || RESTART+=" mom"
fi
# the server's mail goes to a file (no MTA)
mkdir -p "$STATE/bin"
cat >"$STATE/bin/nomail" <<EOF
#!/bin/sh
# sendmail stand-in, the mailer of the test OpenPBS (pbs-up.sh): appends each mail to a file
{ echo "--- mail \$(date -u +%FT%TZ): sendmail \$*"; cat; echo; } >>$STATE/mail.log
exit 0
EOF
chmod 755 "$STATE/bin/nomail"
if [ "$RESTART" = " mom" ] && mom=$(lock_pid "$PBS_HOME_DIR/mom_priv/mom.lock" "$PREFIX/sbin/pbs_mom"); then
  log "mom_priv/config changed: pbs_mom (pid $mom) rereads it (SIGHUP)"
  kill -HUP "$mom"
  RESTART=
fi
if [ -n "$RESTART" ]; then # a changed file of a running datastore: restart them all
  log "configuration changed ($RESTART ): restarting OpenPBS"
  timeout 60 ip netns exec "$NETNS" "$PREFIX/libexec/pbs_init.d" stop >>"$STATE/init.log" 2>&1 9>&- || true
  for np in $(pbs_pids | grep -v '^qsub-daemon:' || true); do
    stop_pid "${np#*:}" "$(pid_exe "${np#*:}")" 10 || die "${np%%:*} (pid ${np#*:}) did not stop"
  done
  running=
fi

# --- 7. start the daemons in the namespace ------------------------------------------------------
tail_log() { # tail_log LOGDIR : the end of today's log of a daemon
  local f
  f=$PBS_HOME_DIR/$1/$(date +%Y%m%d)
  [ -r "$f" ] && { echo "  --- $f" >&2; tail -n 12 "$f" | sed 's/^/  | /' >&2; }
  return 0
}
# check_daemons : die, with its log, when a daemon is gone (a lock file may take a few seconds)
check_daemons() {
  local name lock exe logdir
  while IFS=: read -r name lock exe logdir; do
    lock_pid "$PBS_HOME_DIR/$lock" "$exe" >/dev/null && continue
    [ ! -e "$PBS_HOME_DIR/$lock" ] && [ $(($(now_ms) - S0)) -lt 15000 ] && continue
    tail_log "$logdir"
    die "$name is not running (log above)"
  done < <(daemons)
}
server_ok() { timeout 10 "$B/qstat" -B >/dev/null 2>&1; }
S0=$(now_ms)
STARTED=
if [ -z "$running" ] || ! server_ok; then
  # a killed daemon is reaped late here, and until then pbs_init.d takes it for running
  wait_for 10 "dead PBS daemons to be reaped" bash -c "! ps -eo stat=,comm= | grep -E '^Z.* (pbs_|postgres)'" ||
    die "a dead PBS daemon is still a zombie: retry in a few seconds"
  in_ns "$PREFIX/libexec/pbs_init.d" start >>"$STATE/init.log" 2>&1 || {
    tail -n 15 "$STATE/init.log" | sed 's/^/  | /' >&2
    die "pbs_init.d start (in $NETNS) failed (log: $STATE/init.log)"
  }
  STARTED=" started"
  S0=$(now_ms)
fi
deadline=$(($(date +%s) + TIMEOUT))
until server_ok; do
  check_daemons
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail_log server_logs
    timeout 10 ip netns exec "$NETNS" "$B/qstat" -B >/dev/null 2>&1 &&
      die "pbs_server answers inside $NETNS but not from the host (veth, route to $NODE_IP?)"
    die "pbs_server does not answer qstat -B after ${TIMEOUT}s"
  fi
  sleep 0.3
done
check_daemons
for np in $(pbs_pids | grep -v '^qsub-daemon:' || true); do
  [ "$(pid_ns_inode "${np#*:}")" = "$WANT_NS" ] || die "${np%%:*} (pid ${np#*:}) is not in $NETNS"
done

# --- 8. server, queue and node settings ---------------------------------------------------------
in_ns "$B/qmgr" -c "list queue workq" >/dev/null 2>&1 ||
  in_ns "$B/qmgr" -c "create queue workq queue_type = execution" >>"$STATE/qmgr.log" 2>&1 ||
  die "could not create queue workq (log: $STATE/qmgr.log)"
in_ns "$B/qmgr" -c "list node $NODE" >/dev/null 2>&1 ||
  in_ns "$B/qmgr" -c "create node $NODE" >>"$STATE/qmgr.log" 2>&1 ||
  die "could not create node $NODE (log: $STATE/qmgr.log)"
# flatuid: clients connect from 10.77.0.1, so a job's owner is user@$CLIENT; without it PBS asks
# ruserok() (hosts.equiv) and refuses every job with "Bad UID for job execution". Root stays refused.
in_ns "$B/qmgr" >>"$STATE/qmgr.log" 2>&1 <<EOF || die "qmgr settings failed (log: $STATE/qmgr.log)"
set server scheduling = True
set server default_queue = workq
set server flatuid = True
set server job_history_enable = True
set server mailer = $STATE/bin/nomail
set queue workq enabled = True
set queue workq started = True
set queue workq resources_max.walltime = $MAX_WALLTIME
$([ "$MAX_NCPUS" -gt 0 ] && echo "set queue workq resources_max.ncpus = $MAX_NCPUS" || echo "unset queue workq resources_max.ncpus")
unset queue workq resources_max.mem
set node $NODE resources_available.ncpus = $NCPUS
EOF

# --- 9. the node is free (asked from the host) ---------------------------------------------------
node_attr() { timeout 10 "$B/pbsnodes" -v $NODE 2>/dev/null | awk -F' = ' -v k="$1" '$1 ~ "^ *" k "$" { print $2; exit }'; }
node_usable() { [[ "$(node_attr state)" =~ ^(free|job-busy)$ ]]; }
deadline=$(($(date +%s) + TIMEOUT))
until node_usable; do
  check_daemons
  [ "$(date +%s)" -lt "$deadline" ] || { tail_log mom_logs; die "node $NODE is '$(node_attr state)', not free, after ${TIMEOUT}s"; }
  sleep 0.3
done
NODE_NCPUS=$(node_attr resources_available.ncpus)
NODE_MEM=$(node_attr resources_available.mem)
[ "$NODE_NCPUS" = "$NCPUS" ] || die "node $NODE has resources_available.ncpus=$NODE_NCPUS, not $NCPUS"
[ -n "$NODE_MEM" ] || die "node $NODE reports no resources_available.mem"

# --- 10. smoke job: lrmskey submits from the host, the output arrives ---------------------------
# A smoke job behind the tests' jobs could wait long: when the daemons ran already and all the
# node's ncpus are taken (job-busy), the checks above suffice. (Queued jobs do not hold it back
# while the node is free: pbs_sched does not keep a strict order by default.)
SMOKE_RUN=1
if [ -z "$STARTED" ] && [ "$(node_attr state)" != free ]; then
  SMOKE_RUN=0
  log "node $NODE is '$(node_attr state)': no smoke job"
fi
job_attr() { timeout 10 "$B/qstat" -x -f "$1" 2>/dev/null | awk -F' = ' -v k="$2" '$1 ~ "^ *" k "$" { print $2; exit }'; }
SMOKE=$STATE/smoke
JSON_OF=(-B -f)
if [ $SMOKE_RUN -eq 1 ]; then
  rm -rf "$SMOKE"
  install -d -m 755 -o "$SMOKE_USER" -g "$(id -g "$SMOKE_USER")" "$SMOKE"
  t=$(now_ms)
  jid=$(cd "$SMOKE" && echo 'echo smoke-ok' | timeout 30 runuser -u "$SMOKE_USER" -- \
    "$B/qsub" -N lrms-smoke -j oe -o "$SMOKE/smoke.out" 2>"$STATE/smoke.err" 9>&-) ||
    die "qsub as $SMOKE_USER failed: $(cat "$STATE/smoke.err")"
  finished() { [ "$(job_attr "$jid" job_state)" = F ]; }
  wait_for 60 "smoke job $jid to finish" finished ||
    die "smoke job $jid is '$(job_attr "$jid" job_state)' after 60 s: $(job_attr "$jid" comment)"
  es=$(job_attr "$jid" Exit_status)
  [ "$es" = 0 ] || die "smoke job $jid ended with Exit_status=${es:-none}: $(job_attr "$jid" comment)"
  [ -s "$SMOKE/smoke.out" ] || wait_for 5 "the output of $jid" test -s "$SMOKE/smoke.out" || true
  [ "$(cat "$SMOKE/smoke.out" 2>/dev/null)" = smoke-ok ] ||
    die "smoke job $jid: $SMOKE/smoke.out is '$(cat "$SMOKE/smoke.out" 2>/dev/null)', not smoke-ok"
  log "smoke job $jid of $SMOKE_USER: Exit_status=0 and its output in $(($(now_ms) - t)) ms"
  JSON_OF=(-x -f "$jid")
  rm -rf "$SMOKE"
fi
JSON=0
timeout 10 "$B/qstat" "${JSON_OF[@]}" -F json 2>/dev/null |
  python3 -c 'import json, sys; j = json.load(sys.stdin); sys.exit(0 if j.get("Jobs") or j.get("Server") else 1)' 2>/dev/null && JSON=1
# the other users reach the server too
for u in $PBS_USERS; do
  [ "$u" = "$SMOKE_USER" ] && continue
  out=$(timeout 10 runuser -u "$u" -- "$B/qstat" -B 2>&1) || die "qstat -B as $u failed: $out"
done

# nothing of PBS listens in the host's namespace
for p in $PBS_PORTS; do
  ! awk -v p="$(printf ':%04X' "$p")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp || log "WARNING: port $p listens in the host's network namespace (not OpenPBS: its daemons are in $NETNS)"
done

cat >"$STATE/env.new" <<EOF
LRMS_PBS_BIN=$B
LRMS_PBS_SERVER=$NODE
LRMS_PBS_QUEUE=workq
LRMS_PBS_NCPUS=$NODE_NCPUS
LRMS_PBS_MEM=$NODE_MEM
LRMS_PBS_VERSION=$PBS_VERSION
LRMS_PBS_USERS='$PBS_USERS'
LRMS_PBS_JSON=$JSON
LRMS_PBS_MAX_WALLTIME=$MAX_WALLTIME
LRMS_PBS_MAX_NCPUS=$([ "$MAX_NCPUS" -gt 0 ] && echo "$MAX_NCPUS")
LRMS_PBS_HOME=$PBS_HOME_DIR
LRMS_PBS_CONF=/etc/pbs.conf
LRMS_PBS_NETNS=$NETNS
LRMS_PBS_SERVER_ADDR=$NODE_IP:15001
LRMS_PBS_SUBMIT_HOST=$CLIENT
LRMS_PBS_DIR=$STATE
LRMS_PBS_MAIL_LOG=$STATE/mail.log
EOF
chmod 644 "$STATE/env.new"
mv -f "$STATE/env.new" "$STATE/env"
how="already running"
[ -z "$STARTED" ] || how=started
log "OpenPBS $PBS_VERSION$BUILT $how: $NODE ($NODE_IP in $NETNS), queue workq, ncpus $NODE_NCPUS, mem $NODE_MEM; verified in $(($(now_ms) - T0)) ms; env: $STATE/env"
