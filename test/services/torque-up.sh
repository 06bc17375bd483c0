#!/usr/bin/env bash
# Build (once) and start, or just verify, a single-node TORQUE 6.1.3.h5 cluster: pbs_server,
# pbs_sched, pbs_mom and a trqauthd inside the network namespace lrms-torque (veth 10.77.1.1/30 on
# the host <-> 10.77.1.2/30 inside, server and node "torque-node"), plus a second trqauthd on the
# host, so that the clients in /opt/torque/bin work from the host (by full path: /usr/bin/qsub is
# Grid Engine's). Run as root; idempotent. See README.md, "TORQUE".
#   LRMS_TORQUE_TARBALL  the source, torque-6.1.3.h5.tar.gz (a git archive of the 6.1.3.h5 branch).
#                        Set but missing: error. Unset: an existing build of 6.1.3.h5 is used, else
#                        the archive of that commit is downloaded from GitHub; if that fails the
#                        script says "skipped" and exits 0, starting nothing
#   LRMS_TORQUE_DIR      state dir (/tmp/effect-lrms-torque): env, pid files, daemon output, smoke
#   LRMS_TORQUE_NP       np of the node (8): more than the 2 CPUs, so the tests' sleeping jobs run
#                        side by side
#   LRMS_TORQUE_BUILD_DIR  build tree and downloaded source (/var/tmp/effect-lrms-torque-build)
#   LRMS_TORQUE_JOBS     make -j (nproc)
#   LRMS_TORQUE_KEEP_ON_FAIL=1  leave the daemons of a failed start running (for debugging)
# Options: --build-only (build or check the build, start nothing).
# The build goes to /opt/torque (a marker with version, tarball sha256 and flags makes it a no-op
# the next time); the server database, logs and mom_priv are in /var/spool/torque.
# Writes STATE/env (KEY=VALUE, see README.md) once a job submitted by lrmskey has completed with
# exit status 0 and its output was delivered. The users come from sshd-up.sh.
set -euo pipefail
SCRIPT_NAME=torque-up
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=torque-lib.sh
. "$HERE/torque-lib.sh"
T0=$(now_ms)
umask 022
BUILD_ONLY=0
case ${1:-} in --build-only) BUILD_ONLY=1 ;; "") ;; *) die "usage: torque-up.sh [--build-only]" ;; esac
NP=${LRMS_TORQUE_NP:-8}
case $NP in '' | *[!0-9]* | 0) die "LRMS_TORQUE_NP must be a whole number above 0, not '$NP'" ;; esac
BUILD=${LRMS_TORQUE_BUILD_DIR:-/var/tmp/effect-lrms-torque-build}
JOBS=${LRMS_TORQUE_JOBS:-$(nproc)}
USERS_WANT="lrmskey lrmspw"
SMOKE_USER=lrmskey
DEFAULT_WALLTIME=00:10:00
MAX_WALLTIME=01:00:00
KEEP_COMPLETED=300

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, daemons that switch users)"
for bin in ip unshare setsid runuser flock timeout sha256sum tar gzip mount hostname getent; do
  command -v "$bin" >/dev/null || die "missing command: $bin"
done

# --- the source -------------------------------------------------------------------------------------
# tarball_version FILE : the version in its configure.ac (AC_INIT([torque], [VERSION], ...))
tarball_version() {
  tar -xzOf "$1" --wildcards '*/configure.ac' 2>/dev/null |
    sed -n 's/^AC_INIT(\[torque\], *\[\([^]]*\)\].*/\1/p' | head -n 1
}
installed_version() { sed -n 's/^version=//p' "$TQ_MARKER" 2>/dev/null; }
TARBALL=${LRMS_TORQUE_TARBALL:-}
if [ -n "$TARBALL" ]; then
  [ -f "$TARBALL" ] || die "LRMS_TORQUE_TARBALL=$TARBALL: no such file"
  TARBALL=$(readlink -f "$TARBALL")
elif [ "$(installed_version)" = "$TQ_VERSION" ] && [ -x "$TQ_SBIN/pbs_server" ]; then
  log "LRMS_TORQUE_TARBALL is not set: using the TORQUE $TQ_VERSION already built in $TQ_PREFIX"
else
  TARBALL=$BUILD/torque-$TQ_VERSION-${TQ_COMMIT:0:8}.tar.gz
  if [ ! -s "$TARBALL" ]; then
    log "LRMS_TORQUE_TARBALL is not set: downloading $TQ_URL"
    tmp=$(mktemp /var/tmp/torque-src.XXXXXX)
    if ! curl -fsSL --max-time 60 --connect-timeout 10 -o "$tmp" "$TQ_URL" 2>"$tmp.err" ||
      [ "$(tarball_version "$tmp")" != "$TQ_VERSION" ]; then
      log "download failed: $(head -c 300 "$tmp.err" 2>/dev/null)"
      rm -f "$tmp" "$tmp.err"
      log "skipped: no TORQUE source (set LRMS_TORQUE_TARBALL to torque-$TQ_VERSION.tar.gz)"
      exit 0
    fi
    mkdir -p "$BUILD" && mv -f "$tmp" "$TARBALL" && rm -f "$tmp.err"
  fi
fi

mkdir -p "$TQ_STATE"
[ -e "$TQ_STATE/.made-by-torque-up" ] || touch "$TQ_STATE/.made-by-torque-up"
chmod 755 "$TQ_STATE"
exec 9>"$TQ_STATE/lock"
flock -w 600 9 || die "another torque-up.sh or torque-down.sh holds $TQ_STATE/lock"

# --- the build: /opt/torque, skipped when the marker matches ------------------------------------------
# Why these flags (gcc 12, autoconf 2.71, ICU 72 on Debian 12):
#  - autoconf 2.69 (Debian's autoconf2.69): the repository has no configure, and 2.71's fails with
#    "TORQUE needs pthreads" (TORQUE compiles C with g++; autoconf >= 2.70 dropped the extern "C"
#    of its AC_CHECK_LIB probes, so pthread_create gets a mangled name)
#  - -std=gnu++98: gcc 12's default gnu++17 rejects '\0' as a null pointer (~600 errors) and the
#    boost::shared_ptr -> bool conversion in job_container.c; TORQUE 6 was written for g++ 4.4
#  - -DU_SHOW_CPLUSPLUS_API=0: libxml2's headers include ICU 72, whose C++ API needs C++11
#  - --disable-gcc-warnings: no -Werror
#  - no --disable-spool: with it the MOM writes $HOME/ID.OU but copies spool/ID.OU (no output)
#  - make install FROM_TORQUE_BUILD=1 into a stage: no /etc/profile.d/torque.sh (it would put
#    /opt/torque/bin first on every PATH), no ld.so.conf.d, no init scripts or systemd units
CFLAGS_TQ="-g0 -std=gnu++98 -DU_SHOW_CPLUSPLUS_API=0"
CONFIGURE=(--prefix="$TQ_PREFIX" --with-server-home="$TQ_SPOOL" --with-default-server="$TQ_NODE"
  --with-trqauthd-sock-dir="$TQ_AUTH" --disable-gui --without-tcl --disable-drmaa --without-pam
  --disable-cpuset --disable-cgroups --disable-numa-support --disable-gcc-warnings)
DEPS=(build-essential g++ make autoconf2.69 automake libtool pkg-config flex bison libssl-dev
  libxml2-dev libboost-dev libhwloc-dev zlib1g-dev groff-base)

# step NAME CMD... : run CMD with its output in BUILD/NAME.log, log its time
step() {
  local name=$1 t
  t=$(now_ms)
  shift
  if ! "$@" >"$BUILD/$name.log" 2>&1; then
    tq_tail "$BUILD/$name.log" 25
    die "build step $name failed (log: $BUILD/$name.log)"
  fi
  t=$(($(now_ms) - t))
  log "build step $name: $((t / 1000)).$((t % 1000 / 100)) s"
}
build() {
  local ver sum want src=$BUILD/src stage=$BUILD/stage d extra t
  t=$(now_ms)
  ver=$(tarball_version "$TARBALL")
  [ -n "$ver" ] || die "$TARBALL is not a TORQUE source tarball (no configure.ac with AC_INIT([torque], ...))"
  [ "$ver" = "$TQ_VERSION" ] || log "WARNING: $TARBALL is TORQUE $ver, these scripts were made for $TQ_VERSION"
  sum=$(sha256sum "$TARBALL" | cut -c1-64)
  want=$(printf 'version=%s\nsha256=%s\nflags=%s\n' "$ver" "$sum" \
    "$(printf '%s\n' "$CFLAGS_TQ" "${CONFIGURE[@]}" | sha256sum | cut -c1-16)")
  if [ "$(cat "$TQ_MARKER" 2>/dev/null)" = "$want" ] && [ -x "$TQ_SBIN/pbs_server" ] && [ -s "$TQ_SKEL" ]; then
    log "TORQUE $ver already built in $TQ_PREFIX from this tarball ($(($(now_ms) - t)) ms)"
    return 0
  fi
  log "building TORQUE $ver from $TARBALL into $TQ_PREFIX (about 3 min on 2 CPUs, plus apt)"
  ensure_pkgs "${DEPS[@]}"
  mkdir -p "$BUILD"
  rm -rf "$src" "$stage"
  mkdir -p "$src"
  step unpack tar -xzf "$TARBALL" -C "$src" --strip-components=1
  cd "$src"
  # autogen.sh's steps, with autoconf 2.69
  step autogen env AUTOCONF=autoconf2.69 AUTOHEADER=autoheader2.69 AUTOM4TE=autom4te2.69 sh -ec \
    'mkdir -p m4; libtoolize -c -f; aclocal; autoconf2.69 -f; autoheader2.69 -f; automake -a -c -f'
  step configure ./configure CFLAGS="$CFLAGS_TQ" CXXFLAGS="$CFLAGS_TQ" "${CONFIGURE[@]}"
  step make make -j"$JOBS"
  step install make install DESTDIR="$stage" FROM_TORQUE_BUILD=1
  extra=$(find "$stage" \( -type f -o -type l \) -printf '/%P\n' |
    grep -v -e "^$TQ_PREFIX/" -e "^$TQ_SPOOL/" || true)
  [ -z "$extra" ] || die "make install wrote outside $TQ_PREFIX and $TQ_SPOOL: $extra"
  tar -C "$stage/${TQ_SPOOL#/}" -czf "$stage/${TQ_PREFIX#/}/share/${TQ_SKEL##*/}" .
  printf '%s\n' "$want" >"$stage/${TQ_PREFIX#/}/share/${TQ_MARKER##*/}"
  cd /
  # the running daemons use the old binaries: stop them first
  for d in $TQ_DAEMONS; do
    if tq_pid "$d" >/dev/null; then
      log "stopping the running TORQUE daemons to replace $TQ_PREFIX"
      rm -f "$TQ_STATE/env"
      tq_stop || die "could not stop the running daemons"
      break
    fi
  done
  rm -rf "$TQ_PREFIX.new"
  cp -a "$stage/${TQ_PREFIX#/}" "$TQ_PREFIX.new"
  rm -rf "$TQ_PREFIX"
  mv "$TQ_PREFIX.new" "$TQ_PREFIX"
  rm -rf "$src" "$stage" # 290 MB; a rebuild starts from the tarball anyway (the logs stay)
  log "built and installed TORQUE $ver in $TQ_PREFIX ($(du -sh "$TQ_PREFIX" | cut -f1)) in $((($(now_ms) - t) / 1000)) s"
}
if [ -n "$TARBALL" ]; then build; fi
VERSION=$(installed_version)
if [ ! -x "$TQ_SBIN/pbs_server" ] || [ ! -s "$TQ_SKEL" ] || [ -z "$VERSION" ]; then
  die "no usable TORQUE build in $TQ_PREFIX (rebuild: set LRMS_TORQUE_TARBALL)"
fi
if [ $BUILD_ONLY -eq 1 ]; then
  log "build only: TORQUE $VERSION in $TQ_PREFIX, $(($(now_ms) - T0)) ms"
  exit 0
fi

# --- preflight ---------------------------------------------------------------------------------------
getent passwd "$SMOKE_USER" >/dev/null ||
  die "user $SMOKE_USER is missing: run test/services/sshd-up.sh first (it makes lrmskey and lrmspw)"
HOST=$(hostname)
getent ahostsv4 "$HOST" >/dev/null || die "this host's name '$HOST' does not resolve (qsub sends it as PBS_O_HOST)"
# addresses: ours only on our veth, nothing else routes our /30
other=$(ip -o -4 addr show 2>/dev/null | awk -v a="$TQ_HOST_IP" -v b="$TQ_NS_IP" -v me="$TQ_VETH_H" \
  '{ split($4, x, "/") } (x[1] == a || x[1] == b) && $2 != me { print $2 " has " $4 }')
[ -z "$other" ] || die "address $TQ_HOST_IP or $TQ_NS_IP is already used by another link: $other"
other=$(ip -4 route show match "$TQ_NS_IP" 2>/dev/null | grep -v '^default' | grep -vw "dev $TQ_VETH_H" || true)
[ -z "$other" ] || die "a route for $TQ_NS_IP that is not ours exists: $other"
other=$(grep -v '^[[:space:]]*#' /etc/hosts | grep -vF -- "$TQ_HOSTS_TAG" | grep -wF "$TQ_NODE" || true)
[ -z "$other" ] || die "/etc/hosts already names $TQ_NODE in a line that is not ours: $other"

put() { # put FILE : replace FILE with stdin when the content differs
  cat >"$1.new"
  if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1"; fi
}
STARTED=""
fail() {
  trap - ERR
  log "ERROR: $*"
  local d
  for d in $TQ_DAEMONS; do tq_tail "$TQ_LOGS/$d.log" 5; done
  tq_tail "$(tq_newest "$TQ_SPOOL/server_logs")" 12
  tq_tail "$(tq_newest "$TQ_SPOOL/mom_logs")" 8
  if [ -n "$STARTED" ] && [ "${LRMS_TORQUE_KEEP_ON_FAIL:-0}" != 1 ]; then
    log "stopping what this run started:$STARTED (LRMS_TORQUE_KEEP_ON_FAIL=1 keeps it)"
    tq_stop || true
  fi
  exit 1
}
trap 'fail "unexpected error at line $LINENO: $BASH_COMMAND"' ERR

ALREADY=1
tq_ns_exists || ALREADY=0
for d in $TQ_DAEMONS; do tq_pid "$d" >/dev/null || ALREADY=0; done
if [ $ALREADY -eq 0 ]; then
  running=""
  for d in $TQ_DAEMONS; do p=$(tq_pid "$d") && running+=" $d"; done
  strays=$(tq_strays | tr '\n' ' ')
  if [ -n "$running$strays" ] || { tq_ns_exists && [ -n "$(ip netns pids "$TQ_NS" 2>/dev/null)" ]; }; then
    log "partial state (running:${running:- none}${strays:+, strays $strays}): stopping it first"
    rm -f "$TQ_STATE/env"
    tq_stop || die "could not stop the partial state"
  fi
fi

# --- network: namespace, veth, names ------------------------------------------------------------------
link_up() {
  ip -o link show "$TQ_VETH_H" 2>/dev/null | grep -q LOWER_UP &&
    ip -n "$TQ_NS" -o link show "$TQ_VETH_N" 2>/dev/null | grep -q LOWER_UP
}
net_ok() {
  tq_ns_exists && link_up &&
    ip -o -4 addr show dev "$TQ_VETH_H" 2>/dev/null | grep -qF " $TQ_HOST_IP/30 " &&
    ip -n "$TQ_NS" -o -4 addr show dev "$TQ_VETH_N" 2>/dev/null | grep -qF " $TQ_NS_IP/30 " &&
    ip -n "$TQ_NS" -o link show lo 2>/dev/null | grep -q ',UP' &&
    [ -z "$(ip -n "$TQ_NS" route show default 2>/dev/null)" ]
}
if ! net_ok; then
  [ $ALREADY -eq 0 ] || fail "the namespace $TQ_NS is not as torque-up.sh made it, while the daemons run"
  if tq_ns_exists || ip link show "$TQ_VETH_H" >/dev/null 2>&1; then
    log "the namespace $TQ_NS or $TQ_VETH_H is incomplete: making them again"
    ip link show "$TQ_VETH_H" >/dev/null 2>&1 && ! ip -d link show "$TQ_VETH_H" | grep -qw veth &&
      die "$TQ_VETH_H exists and is not a veth (not ours)"
    tq_net_down
  fi
  t=$(now_ms)
  ip netns add "$TQ_NS" || die "ip netns add $TQ_NS failed (needs CAP_SYS_ADMIN and network namespaces)"
  ip link add "$TQ_VETH_H" type veth peer name "$TQ_VETH_N" netns "$TQ_NS" ||
    { tq_net_down; die "ip link add $TQ_VETH_H type veth failed"; }
  # IPv4 only: no IPv6 link-local addresses, router solicitations, DAD on the pair
  echo 1 >"/proc/sys/net/ipv6/conf/$TQ_VETH_H/disable_ipv6" 2>/dev/null || true
  ip netns exec "$TQ_NS" sh -c "echo 1 >/proc/sys/net/ipv6/conf/$TQ_VETH_N/disable_ipv6" 2>/dev/null || true
  ip addr add "$TQ_HOST_IP/30" dev "$TQ_VETH_H"
  ip link set "$TQ_VETH_H" up
  ip -n "$TQ_NS" addr add "$TQ_NS_IP/30" dev "$TQ_VETH_N"
  ip -n "$TQ_NS" link set "$TQ_VETH_N" up
  ip -n "$TQ_NS" link set lo up
  wait_for 5 "the veth pair to come up" link_up || fail "$TQ_VETH_H <-> $TQ_VETH_N does not come up"
  log "network namespace $TQ_NS: $TQ_VETH_H $TQ_HOST_IP/30 <-> $TQ_VETH_N $TQ_NS_IP/30 ($(($(now_ms) - t)) ms)"
fi
r=$(ip -4 route get "$TQ_NS_IP" 2>/dev/null | head -n 1)
[[ $r == *"dev $TQ_VETH_H "* ]] || fail "the host's route to $TQ_NS_IP is '$r', not over $TQ_VETH_H"

# inside: the host end is torque-client (and the host's own names: qsub sends PBS_O_HOST=$HOST)
names=$TQ_CLIENT
for h in "$HOST" "$(hostname -s 2>/dev/null || true)" "$(hostname -f 2>/dev/null || true)"; do
  case " $names localhost $TQ_NODE " in *" $h "*) ;; *) [ -z "$h" ] || names+=" $h" ;; esac
done
mkdir -p "$TQ_NETNS_ETC"
put "$TQ_NETNS_ETC/hosts" <<EOF
# /etc/hosts inside the network namespace $TQ_NS (bind-mounted by ip netns exec).
# Written by effect-lrms test/services/torque-up.sh; torque-down.sh --purge removes it.
127.0.0.1 localhost
$TQ_NS_IP $TQ_NODE
$TQ_HOST_IP $names
EOF
grep -qxF "$TQ_NS_IP $TQ_NODE $TQ_HOSTS_TAG" /etc/hosts && [ "$(grep -cF -- "$TQ_HOSTS_TAG" /etc/hosts)" = 1 ] ||
  tq_hosts_line "$TQ_NS_IP" "$TQ_NODE" || fail "could not add '$TQ_NS_IP $TQ_NODE' to /etc/hosts"
got=$(getent ahostsv4 "$TQ_NODE" | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$got" = "$TQ_NS_IP " ] || fail "on the host $TQ_NODE resolves to '${got:-nothing}', not only $TQ_NS_IP"
got=$(ip netns exec "$TQ_NS" getent hosts "$TQ_HOST_IP" | awk '{ print $2 }')
[ "$got" = "$TQ_CLIENT" ] || fail "in $TQ_NS $TQ_HOST_IP resolves to '${got:-nothing}', not $TQ_CLIENT"

# --- the daemons ---------------------------------------------------------------------------------------
# start_daemon NAME ns|host CMD... : start CMD in the foreground, detached (setsid -f), with a clean
# environment; the shell writes its pid and execs, so the pid file names the daemon itself
DAEMON_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
start_daemon() {
  local name=$1 where=$2 out=$TQ_LOGS/$1.log pidf=$TQ_RUN/$1.pid
  shift 2
  rm -f "$pidf"
  echo "=== $(date '+%F %T') $*" >>"$out"
  # shellcheck disable=SC2016 # expanded by the inner sh
  if [ "$where" = ns ]; then
    setsid -f "${DAEMON_ENV[@]}" ip netns exec "$TQ_NS" unshare --uts -- /bin/sh -c \
      'echo $$ >"$0" && hostname "$1" && mount --bind "$2" "$3" && shift 3 && exec "$@"' \
      "$pidf" "$TQ_NODE" "$TQ_AUTH_NS" "$TQ_AUTH" "$@" </dev/null >>"$out" 2>&1 8>&- 9>&-
  else
    setsid -f "${DAEMON_ENV[@]}" /bin/sh -c 'echo $$ >"$0" && exec "$@"' "$pidf" "$@" \
      </dev/null >>"$out" 2>&1 8>&- 9>&-
  fi
  [[ " $STARTED " == *" $name "* ]] || STARTED+=" $name"
  wait_for 5 "$name to start" tq_pid "$name" || fail "$name did not start (output: $out)"
}
nsq() { TQ_NS_TIMEOUT=10 tq_ns "$TQ_BIN/$1" "${@:2}"; } # a client inside the namespace
hq() { timeout 10 "$TQ_BIN/$1" "${@:2}"; }        # a client on the host
FRESH=0
if [ $ALREADY -eq 1 ]; then
  log "already running: checking it"
else
  mkdir -p "$TQ_RUN" "$TQ_LOGS" "$TQ_AUTH" "$TQ_AUTH_NS"
  chmod 755 "$TQ_AUTH" "$TQ_AUTH_NS"
  if [ ! -d "$TQ_SPOOL/server_priv" ]; then
    mkdir -p "$TQ_SPOOL"
    tar -xzpf "$TQ_SKEL" -C "$TQ_SPOOL"
    log "made $TQ_SPOOL from the install's spool tree"
  fi
  [ -s "$TQ_SPOOL/server_priv/serverdb" ] || FRESH=1
  echo "$TQ_NODE" | put "$TQ_SPOOL/server_name"
  # $usecp: host and namespace share the file system, so output is delivered by cp (it goes to
  # $HOST:/path, and the MOM would scp to $HOST); walltime etc. are checked every 2 s (not 45 s)
  put "$TQ_SPOOL/mom_priv/config" <<EOF
# written by effect-lrms test/services/torque-up.sh
\$pbsserver $TQ_NODE
\$logevent 255
\$usecp *:/ /
\$check_poll_time 2
\$status_update_time 5
EOF
  t=$(now_ms)
  T_START=$t
  start_daemon trqauthd-ns ns "$TQ_SBIN/trqauthd" -F
  wait_for 10 "the namespace's trqauthd socket" test -S "$TQ_AUTH_NS/trqauthd-unix" ||
    fail "trqauthd in $TQ_NS made no socket $TQ_AUTH_NS/trqauthd-unix"
  if [ $FRESH -eq 1 ]; then
    log "new server database in $TQ_SPOOL/server_priv"
    start_daemon pbs_server ns "$TQ_SBIN/pbs_server" -F -t create -f
  else
    start_daemon pbs_server ns "$TQ_SBIN/pbs_server" -F
  fi
  wait_for 30 "pbs_server to answer in $TQ_NS" nsq qstat -B ||
    fail "pbs_server does not answer qstat -B in $TQ_NS: $(nsq qstat -B 2>&1 | head -n 3)"

  # the configuration, applied at every start (qmgr in the namespace: root@torque-node is manager)
  nsq qmgr -c "list queue $TQ_QUEUE" >/dev/null 2>&1 ||
    nsq qmgr -c "create queue $TQ_QUEUE queue_type = execution" >/dev/null
  # (pbs_server -t create empties server_priv/nodes: the node is made here)
  NEW_NODE=0
  if ! nsq qmgr -c "list node $TQ_NODE" >/dev/null 2>&1; then
    nsq qmgr -c "create node $TQ_NODE np=$NP" >/dev/null
    NEW_NODE=1
  fi
  submit="set server submit_hosts = $TQ_CLIENT"
  for h in $names; do [ "$h" = "$TQ_CLIENT" ] || submit+=$'\n'"set server submit_hosts += $h"; done
  qmgr_out=$(tq_ns "$TQ_BIN/qmgr" 2>&1 <<EOF
set server scheduling = True
set server managers = root@$TQ_NODE
set server managers += root@$TQ_CLIENT
set server operators = root@$TQ_NODE
set server operators += root@$TQ_CLIENT
$submit
set server allow_node_submit = True
set server default_queue = $TQ_QUEUE
set server keep_completed = $KEEP_COMPLETED
set server query_other_jobs = True
set server scheduler_iteration = 10
set server node_check_rate = 30
set server job_stat_rate = 10
set server mom_job_sync = True
set server mail_domain = never
set node $TQ_NODE np = $NP
set queue $TQ_QUEUE queue_type = Execution
set queue $TQ_QUEUE resources_default.walltime = $DEFAULT_WALLTIME
set queue $TQ_QUEUE resources_max.walltime = $MAX_WALLTIME
set queue $TQ_QUEUE enabled = True
set queue $TQ_QUEUE started = True
EOF
  ) || fail "qmgr failed: $qmgr_out"
  printf '%s\n' "$qmgr_out" >"$TQ_LOGS/qmgr.log"
  if [ $NEW_NODE -eq 1 ]; then
    # A node made by qmgr on a new database stays "has not received its hierarchy yet" for ~11 s;
    # a restart (the server then reads the nodes file qmgr wrote) before the MOM starts: ~2 s.
    p=$(tq_pid pbs_server)
    stop_pid "$p" "$(tq_exe pbs_server)" 15 || fail "pbs_server (pid $p) did not stop for its restart"
    start_daemon pbs_server ns "$TQ_SBIN/pbs_server" -F
    wait_for 30 "pbs_server to answer after its restart" nsq qstat -B ||
      fail "pbs_server does not answer qstat -B after its restart"
  fi
  start_daemon pbs_mom ns "$TQ_SBIN/pbs_mom" -F
  start_daemon pbs_sched ns env PBSDEBUG=1 "$TQ_SBIN/pbs_sched" # PBSDEBUG: stays in the foreground
  start_daemon trqauthd-host host "$TQ_SBIN/trqauthd" -F
  wait_for 10 "the host's trqauthd socket" test -S "$TQ_AUTH/trqauthd-unix" ||
    fail "the host's trqauthd made no socket $TQ_AUTH/trqauthd-unix"
  log "started$STARTED ($(($(now_ms) - t)) ms)"
fi

# --- verify: from the host, a job of lrmskey -------------------------------------------------------------
t=$(now_ms)
wait_for 20 "qstat -B from the host" hq qstat -B ||
  fail "qstat -B on the host does not reach the server: $(hq qstat -B 2>&1 | head -n 3)"
node_state() { hq pbsnodes "$TQ_NODE" 2>/dev/null | awk -F' = ' '$1 ~ /^ *state$/ { print $2; exit }'; }
node_ok() { case $(node_state) in free | job-exclusive | busy) return 0 ;; *) return 1 ;; esac; }
wait_for 30 "node $TQ_NODE to be free" node_ok ||
  fail "node $TQ_NODE is '$(node_state)': $(hq pbsnodes "$TQ_NODE" 2>&1 | grep -E '^ *(state|note) =' | tr -s ' ')"
[ $ALREADY -eq 1 ] || log "node $TQ_NODE $(node_state) $(($(now_ms) - T_START)) ms after the daemons' start"
for p in $TQ_DAEMONS; do tq_pid "$p" >/dev/null || fail "$p is not running any more"; done

SMOKE=$TQ_STATE/smoke
install -d -m 755 -o "$SMOKE_USER" -g "$(id -gn "$SMOKE_USER")" "$SMOKE"
out=$SMOKE/smoke.$$.out
rm -f "$out"
# shellcheck disable=SC2016 # the job expands it
jobid=$(cd "$SMOKE" && echo 'echo "smoke-ok $(id -un)@$(hostname)"' |
  runuser -u "$SMOKE_USER" -- timeout 10 "$TQ_BIN/qsub" -N lrms-smoke -j oe -o "$out" -l walltime=00:01:00 2>&1) ||
  fail "qsub as $SMOKE_USER failed: $jobid"
job_attr() { hq qstat -f "$jobid" 2>/dev/null | awk -F' = ' -v k="$1" '$1 == "    " k { print $2 }'; }
job_done() { [ "$(job_attr job_state)" = C ]; }
wait_for 60 "smoke job $jobid to complete" job_done ||
  fail "smoke job $jobid is not complete after 60 s: $(hq qstat -f "$jobid" 2>&1 | grep -E 'job_state|comment' | tr -s ' ')"
es=$(job_attr exit_status)
[ "$es" = 0 ] || fail "smoke job $jobid ended with exit_status=$es"
wait_for 10 "the smoke job's output" grep -qx "smoke-ok $SMOKE_USER@$TQ_NODE" "$out" ||
  fail "smoke job $jobid: its output was not delivered to $out ($(head -c 200 "$out" 2>&1))"
rm -f "$out"
log "smoke job $jobid of $SMOKE_USER: complete, exit_status 0, output delivered ($(($(now_ms) - t)) ms)"
users=""
for u in $USERS_WANT; do
  getent passwd "$u" >/dev/null || { log "WARNING: user $u is missing (sshd-up.sh makes it)"; continue; }
  r=$(cd / && runuser -u "$u" -- timeout 10 "$TQ_BIN/qstat" -B 2>&1) || fail "qstat -B as $u failed: $r"
  users+="${users:+ }$u"
done

# --- the env file ----------------------------------------------------------------------------------------
status=$(hq pbsnodes "$TQ_NODE" 2>/dev/null | sed -n 's/^ *status = //p')
stat_of() { printf '%s\n' "$status" | tr ',' '\n' | sed -n "s/^$1=//p"; }
pids=()
for d in $TQ_DAEMONS; do pids+=("$(tq_pid "$d")") || fail "$d is not running any more"; done
trap - ERR
put "$TQ_STATE/env" <<EOF
LRMS_TORQUE_BIN=$TQ_BIN
LRMS_TORQUE_SBIN=$TQ_SBIN
LRMS_TORQUE_VERSION=$VERSION
LRMS_TORQUE_SERVER=$TQ_NODE
LRMS_TORQUE_SERVER_ADDR=$TQ_NS_IP
LRMS_TORQUE_NODE=$TQ_NODE
LRMS_TORQUE_QUEUE=$TQ_QUEUE
LRMS_TORQUE_NP=$NP
LRMS_TORQUE_NODE_CPUS=$(stat_of ncpus)
LRMS_TORQUE_NODE_MEMORY_KB=$(stat_of physmem | tr -dc 0-9)
LRMS_TORQUE_DEFAULT_WALLTIME=$DEFAULT_WALLTIME
LRMS_TORQUE_MAX_WALLTIME=$MAX_WALLTIME
LRMS_TORQUE_KEEP_COMPLETED=$KEEP_COMPLETED
LRMS_TORQUE_USERS='$users'
LRMS_TORQUE_SUBMIT_HOST=$HOST
LRMS_TORQUE_OWNER_HOST=$TQ_CLIENT
LRMS_TORQUE_HOME=$TQ_SPOOL
LRMS_TORQUE_NETNS=$TQ_NS
LRMS_TORQUE_TRQAUTHD_NS_PID=${pids[0]}
LRMS_TORQUE_SERVER_PID=${pids[1]}
LRMS_TORQUE_MOM_PID=${pids[2]}
LRMS_TORQUE_SCHED_PID=${pids[3]}
LRMS_TORQUE_TRQAUTHD_PID=${pids[4]}
LRMS_TORQUE_DIR=$TQ_STATE
EOF
chmod 644 "$TQ_STATE/env"
how="already running"
[ $ALREADY -eq 1 ] || how="started ($([ $FRESH -eq 1 ] && echo new || echo existing) server database)"
log "TORQUE $VERSION $how: server $TQ_NODE ($TQ_NS_IP, netns $TQ_NS), queue $TQ_QUEUE, np=$NP;" \
  "verified in $(($(now_ms) - T0)) ms; env: $TQ_STATE/env"
