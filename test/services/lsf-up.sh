#!/usr/bin/env bash
# Build (once) and start (or just verify) a single-node OpenLava 3.3.3 cluster on this host, the
# LSF of the tests: lim, res, sbatchd and the mbatchd it starts, all on 127.0.0.1; this host is
# master and execution host, one queue `normal`. Run as root; idempotent.
#   LRMS_OPENLAVA_TARBALL  the source, openlava-3.3.3.tar.gz (git archive of tag 3.3.3). Unset: the
#                          release is downloaded (curl, 60 s); if that fails the script logs
#                          "skipped: ..." and exits 0 without starting anything
#   LRMS_LSF_PREFIX        install tree (/opt/openlava-3.3.3); rebuilt only when its marker does not
#                          name this version, tarball sha256 and recipe
#   LRMS_LSF_DIR           state dir (/tmp/effect-lrms-lsf): LSF_ENVDIR etc/, work/, log/, env
#   LRMS_LSF_SLOTS         job slots of the host (MXJ, 8; the queue's PROCLIMIT): more than the
#                          machine's CPUs, so the tests' mostly sleeping jobs run side by side
#   LRMS_LSF_LIM_PORT 16322 (UDP and TCP)  LRMS_LSF_RES_PORT 16323  LRMS_LSF_MBD_PORT 16324
#   LRMS_LSF_SBD_PORT 16325
#   LRMS_LSF_TERMINATE_INTERVAL  seconds between the SIGINT, SIGTERM and SIGKILL of bkill and of a
#                          run limit (2; OpenLava's default is 10)
#   LRMS_LSF_TIMEOUT       seconds for each wait (60)
#   LRMS_LSF_ADMIN         cluster administrator (openlava, a system user made here)
# The commands (bsub, bjobs, bkill, bhist, bqueues, bhosts, lsid, lshosts, lsload, ...) become
# symlinks in /usr/local/bin and /etc/lsf.conf a symlink to our lsf.conf, so they work for every
# user with no environment, also in a non-login `ssh host bjobs`. Writes STATE/env (KEY=VALUE,
# see README.md) once a job of lrmskey (made by sshd-up.sh) is DONE with its output.
set -euo pipefail
SCRIPT_NAME=lsf-up
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=lsf-lib.sh
. "$HERE/lsf-lib.sh"
T0=$(now_ms)
umask 022 # the users and their jobs read the configuration
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

RECIPE=3 # bump when the build below changes: the marker then no longer matches
MXJ=${LRMS_LSF_SLOTS:-8}
LIM_PORT=${LRMS_LSF_LIM_PORT:-16322}
RES_PORT=${LRMS_LSF_RES_PORT:-16323}
MBD_PORT=${LRMS_LSF_MBD_PORT:-16324}
SBD_PORT=${LRMS_LSF_SBD_PORT:-16325}
TERM_INTERVAL=${LRMS_LSF_TERMINATE_INTERVAL:-2}
TIMEOUT=${LRMS_LSF_TIMEOUT:-60}
CLUSTER=lrms
QUEUE=normal
USERS="lrmskey lrmspw"
SMOKE_USER=lrmskey
SSHD_ENV=${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}/env
URLS=( # the fork that kept upstream's history (the original repository is gone since 2016)
  "https://github.com/zjma/openlava/archive/refs/tags/$LSF_VERSION.tar.gz"
  "https://github.com/openlava/openlava/archive/refs/tags/$LSF_VERSION.tar.gz"
)
# the commands that must be on the PATH; the other programs of bin/ are linked when their name
# is free
NEEDED_CMDS="bsub bjobs bkill bhist bqueues bhosts lsid lshosts lsload"

[ "$(id -u)" -eq 0 ] || die "must run as root (build into $LSF_PREFIX, daemons that switch users)"
for v in MXJ:SLOTS LIM_PORT:LIM_PORT RES_PORT:RES_PORT MBD_PORT:MBD_PORT SBD_PORT:SBD_PORT \
  TERM_INTERVAL:TERMINATE_INTERVAL TIMEOUT:TIMEOUT; do
  n=${v%%:*}
  case ${!n} in '' | *[!0-9]* | 0*) die "LRMS_LSF_${v#*:} must be a whole number above 0, not '${!n}'" ;; esac
done
[ "$(printf '%s\n' "$LIM_PORT" "$RES_PORT" "$MBD_PORT" "$SBD_PORT" | sort -u | wc -l)" -eq 4 ] ||
  die "the four ports must differ: $LIM_PORT $RES_PORT $MBD_PORT $SBD_PORT"

# --- 1. the source ----------------------------------------------------------------------------------
if [ -n "${LRMS_OPENLAVA_TARBALL:-}" ]; then
  TARBALL=$LRMS_OPENLAVA_TARBALL
  { [ -f "$TARBALL" ] && [ -r "$TARBALL" ]; } ||
    die "LRMS_OPENLAVA_TARBALL=$TARBALL is not a readable file (it must be the OpenLava $LSF_VERSION source, openlava-$LSF_VERSION.tar.gz)"
  TARBALL=$(readlink -f "$TARBALL")
else
  TARBALL=$LSF_STATE/openlava-$LSF_VERSION.tar.gz # an earlier download
  if [ ! -s "$TARBALL" ]; then
    got=
    if command -v curl >/dev/null; then
      dl=$(mktemp /tmp/openlava-dl.XXXXXX)
      for url in "${URLS[@]}"; do
        log "LRMS_OPENLAVA_TARBALL is unset: downloading $url"
        if curl -fsSL --max-time 60 --connect-timeout 10 -o "$dl" "$url" 2>/dev/null &&
          tar -tzf "$dl" 2>/dev/null | grep -q '^[^/]*/configure\.ac$'; then
          got=$url
          break
        fi
      done
    else
      log "LRMS_OPENLAVA_TARBALL is unset and there is no curl"
    fi
    if [ -z "$got" ]; then
      rm -f "${dl:-}"
      log "skipped: no OpenLava source (set LRMS_OPENLAVA_TARBALL to openlava-$LSF_VERSION.tar.gz)"
      exit 0
    fi
    mkdir -p "$LSF_STATE"
    mv -f "$dl" "$TARBALL"
    chmod 644 "$TARBALL"
    log "downloaded $got to $TARBALL"
  fi
fi

# the marker lets lsf-down.sh --purge delete the dir: only one we made
[ -d "$LSF_STATE" ] || { mkdir -p "$LSF_STATE" && touch "$LSF_STATE/.made-by-lsf-up"; }
chmod 755 "$LSF_STATE"
exec 9>"$LSF_STATE/lock"
flock -w 300 9 || die "another lsf-up.sh holds $LSF_STATE/lock"

# --- 2. the build (skipped when the marker matches) --------------------------------------------------
SUM=$(sha256sum "$TARBALL" | cut -d' ' -f1)
MARK=$LSF_PREFIX/.effect-lrms-build
WANT="version=$LSF_VERSION sha256=$SUM recipe=$RECIPE"
BINARIES="sbin/lim sbin/res sbin/sbatchd sbin/mbatchd sbin/pim sbin/eauth bin/bsub bin/bjobs
  bin/bkill bin/bhist bin/bqueues bin/bhosts bin/lsid bin/lshosts bin/lsload bin/badmin"
built() {
  local f
  [ -f "$MARK" ] && [ "$(head -n1 "$MARK")" = "$WANT" ] || return 1
  for f in $BINARIES; do [ -x "$LSF_PREFIX/$f" ] || return 1; done
}
BUILD=$LSF_STATE/build
# step NAME CMD... : run CMD with its output in $BUILD/NAME.log; on failure show the end of it
step() {
  local name=$1 t rc=0
  shift
  t=$(now_ms)
  "$@" >"$BUILD/$name.log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 30 "$BUILD/$name.log" | sed 's/^/  | /' >&2
    die "build step $name failed (exit $rc; log: $BUILD/$name.log)"
  fi
  TIMES+=" $name=$(secs "$t" "$(now_ms)")s"
}
# the daemons bind every socket to INADDR_ANY (no option for an address): the listeners (lim
# UDP+TCP, mbatchd, sbatchd in chanServSocket_ and TcpCreate_; res) and the client sockets
# (CreateSock_, chanClientSocket_, res) are bound to 127.0.0.1 instead, so nothing of OpenLava can
# be reached from, or talk to, another address than loopback
loopback_patch() {
  local files=(lsf/lib/lib.channel.c lsf/lib/lib.sock.c lsf/res/res.init.c lsf/res/res.handler.c) n
  n=$(cat "${files[@]}" | grep -c 'INADDR_ANY' || true)
  [ "$n" = 6 ] || { echo "expected 6 binds to INADDR_ANY in ${files[*]}, found $n"; return 1; }
  sed -i -e 's/htonl(INADDR_ANY)/htonl(INADDR_LOOPBACK)/' -e 's/= *INADDR_ANY;/= htonl(INADDR_LOOPBACK);/' "${files[@]}"
  if grep -rn 'INADDR_ANY' lsf lsbatch eauth --include='*.c'; then echo "INADDR_ANY left"; return 1; fi
  grep -n 'INADDR_LOOPBACK' "${files[@]}"
}
if built; then
  log "build cached: $LSF_PREFIX has OpenLava $LSF_VERSION from this tarball ($(secs "$T0" "$(now_ms)") s)"
else
  TB=$(now_ms)
  TIMES=
  # a rebuild would swap the binaries under running daemons
  if find /proc/[0-9]*/exe -maxdepth 0 -lname "$LSF_SBIN/*" 2>/dev/null | grep -q .; then
    die "OpenLava daemons of $LSF_PREFIX run but its build is not this tarball's: run lsf-down.sh first"
  fi
  if [ -e "$LSF_PREFIX" ] && [ ! -e "$MARK" ] && [ -n "$(ls -A "$LSF_PREFIX")" ]; then
    die "$LSF_PREFIX exists and was not built by lsf-up.sh (no $MARK): remove it or set LRMS_LSF_PREFIX"
  fi
  log "building OpenLava $LSF_VERSION from $TARBALL (sha256 $SUM) into $LSF_PREFIX"
  # autotools: bootstrap.sh regenerates configure; bison/flex: the parsers; tcl-dev: the
  # resource requirement parser; libtirpc-dev: XDR (glibc >= 2.32 has no Sun RPC); procps:
  # sbatchd runs uptime at start and dies without it
  t=$(now_ms)
  ensure_pkgs gcc libc6-dev make autoconf automake libtool bison flex tcl-dev libncurses-dev \
    libtirpc-dev procps iproute2 util-linux
  TIMES+=" deps=$(secs "$t" "$(now_ms)")s"
  rm -rf "$BUILD"
  mkdir -p "$BUILD/src"
  step unpack tar -xzf "$TARBALL" -C "$BUILD/src"
  SRC=$(find "$BUILD/src" -maxdepth 2 -name configure.ac -printf '%h\n' | head -n1)
  { [ -n "$SRC" ] && [ -f "$SRC/bootstrap.sh" ]; } ||
    die "$TARBALL is not an OpenLava source tree (no configure.ac and bootstrap.sh at its top)"
  # (AC_INIT says 3.3; the version the binaries print, lsid's first line, is _OPENLAVA_PROJECT_)
  grep -qF "_OPENLAVA_PROJECT_, \"OpenLava $LSF_VERSION\"" "$SRC/configure.ac" ||
    die "$TARBALL is not OpenLava $LSF_VERSION: $(grep -o '_OPENLAVA_PROJECT_, "[^"]*"' "$SRC/configure.ac" || echo 'no _OPENLAVA_PROJECT_ in configure.ac')"
  COMMIT=$(gzip -dc "$TARBALL" | git get-tar-commit-id 2>/dev/null || true)
  cd "$SRC"
  step patch loopback_patch
  step bootstrap sh ./bootstrap.sh
  # -fcommon: globals defined in headers (GCC >= 10 defaults to -fno-common: "multiple definition
  # of `li'"); configure.ac itself adds -Wall -ggdb -O0 (upstream's debug build).
  # --sysconfdir=/etc: where every program reads lsf.conf when LSF_ENVDIR is unset (compiled in,
  # default PREFIX/etc); nothing is installed there
  step configure ./configure --prefix="$LSF_PREFIX" --sysconfdir=/etc CPPFLAGS=-I/usr/include/tirpc \
    CFLAGS="-g -O2 -fcommon" LIBS=-ltirpc
  step make make -j"$(nproc)"
  rm -rf "$LSF_PREFIX"
  step install make install
  for f in $BINARIES; do [ -x "$LSF_PREFIX/$f" ] || die "make install did not install $LSF_PREFIX/$f"; done
  # the stock configuration templates (noinst upstream), for reference
  mkdir -p "$LSF_PREFIX/share/openlava/config"
  for f in config/lsf.* config/lsb.*; do [ -f "$f" ] && install -m 644 "$f" "$LSF_PREFIX/share/openlava/config/"; done
  cd /
  rm -rf "$BUILD/src" # 70 MB; the logs stay
  printf '%s\ncommit=%s tarball=%s built=%s\n' "$WANT" "${COMMIT:-unknown}" "$TARBALL" \
    "$(date -u +%FT%TZ)" >"$MARK"
  log "built and installed in $(secs "$TB" "$(now_ms)") s:$TIMES (logs: $BUILD)"
fi

# --- 3. users ---------------------------------------------------------------------------------------
getent group "$LSF_ADMIN" >/dev/null || groupadd --system "$LSF_ADMIN"
getent passwd "$LSF_ADMIN" >/dev/null ||
  useradd --system -g "$LSF_ADMIN" -d "$LSF_WORK" -M -s /usr/sbin/nologin -c "OpenLava administrator" "$LSF_ADMIN"
for u in $USERS; do
  getent passwd "$u" >/dev/null || die "user $u does not exist: run test/services/sshd-up.sh first (it makes the test users)"
done
command -v runuser >/dev/null || die "runuser (util-linux) is missing"
command -v ss >/dev/null || die "ss (iproute2) is missing"

# --- 4. host name -------------------------------------------------------------------------------------
# OpenLava names the host by gethostname() without the domain and reads $LSF_CONFDIR/hosts before
# the resolver: that file maps 127.0.0.1 to it, so all its traffic stays on loopback (/etc/hosts
# is not changed; a name that does not resolve at all works too)
HOST=$(hostname)
HOST=${HOST%%.*}
[ -n "$HOST" ] || die "the host name is empty"
case $HOST in *[!A-Za-z0-9_-]*) die "host name '$HOST' has characters OpenLava cannot take" ;; esac

# --- 5. the configuration: written to a temp dir, installed when different --------------------------
NEW=$(mktemp -d)
trap 'rm -rf "$NEW"' EXIT
# LSF_AUTH=eauth: users authenticate through sbin/eauth (no setuid clients); LSB_MAILTO=!U: the
# submitter (jobs without -o mail their output); LSB_JOB_MEMLIMIT=y: sbatchd kills a job above its
# -M (else only setrlimit(RLIMIT_RSS), which Linux ignores); LSF_PIM_UPDATE_INTERVAL=5: a running
# job's usage (bjobs -l MEM, the -M check) every 5 s instead of 30
cat >"$NEW/lsf.conf" <<EOF
# written by effect-lrms test/services/lsf-up.sh
LSF_SERVERDIR=$LSF_SBIN
LSF_BINDIR=$LSF_BIN
LSF_LIBDIR=$LSF_PREFIX/lib
LSF_ENVDIR=$LSF_ETC
LSF_CONFDIR=$LSF_ETC
LSB_CONFDIR=$LSF_ETC
LSB_SHAREDIR=$LSF_WORK
LSF_LOGDIR=$LSF_LOGDIR
LSF_LOG_MASK=LOG_WARNING
LSF_LIM_PORT=$LIM_PORT
LSF_RES_PORT=$RES_PORT
LSB_MBD_PORT=$MBD_PORT
LSB_SBD_PORT=$SBD_PORT
LSF_AUTH=eauth
LSB_MAILTO=!U
LSB_JOB_MEMLIMIT=y
LSF_PIM_UPDATE_INTERVAL=5
EOF
cat >"$NEW/lsf.shared" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin Cluster
ClusterName
$CLUSTER
End Cluster

Begin HostType
TYPENAME
linux
End HostType

Begin HostModel
MODELNAME  CPUFACTOR  ARCHITECTURE
IntelI5    100        (x86_64)
End HostModel

Begin Resource
RESOURCENAME  TYPE     INTERVAL  INCREASING  DESCRIPTION
fs            Boolean  ()        ()          (File server)
cs            Boolean  ()        ()          (Compute server)
End Resource
EOF
cat >"$NEW/lsf.cluster.$CLUSTER" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin ClusterAdmins
Administrators = $LSF_ADMIN
End ClusterAdmins

Begin Host
HOSTNAME  model    type   server  r1m  RESOURCES
$HOST  IntelI5  linux  1       -    (cs)
End Host

Begin ResourceMap
RESOURCENAME  LOCATION
End ResourceMap
EOF
# PROCLIMIT = MXJ: without it `bsub -n` up to about twice the slots is accepted and pends forever
# ("Not enough job slot(s)"); with it `bsub -n MXJ+1` is refused at once
cat >"$NEW/lsb.queues" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin Queue
QUEUE_NAME          = $QUEUE
PRIORITY            = 30
NICE                = 0
NEW_JOB_SCHED_DELAY = 0
PROCLIMIT           = $MXJ
DESCRIPTION         = default queue of the effect-lrms test cluster
End Queue
EOF
cat >"$NEW/lsb.hosts" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin Host
HOST_NAME  MXJ   JL/U  r1m  pg  ls  tmp  DISPATCH_WINDOW
$HOST  $MXJ  ()    ()   ()  ()  ()   ()
End Host
EOF
# CLEAN_PERIOD: a finished job stays in `bjobs -a` / `bjobs -l` for an hour
cat >"$NEW/lsb.params" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin Parameters
DEFAULT_QUEUE          = $QUEUE
MBD_SLEEP_TIME         = 2
SBD_SLEEP_TIME         = 2
JOB_ACCEPT_INTERVAL    = 0
CLEAN_PERIOD           = 3600
JOB_TERMINATE_INTERVAL = $TERM_INTERVAL
End Parameters
EOF
cat >"$NEW/lsb.users" <<EOF
# written by effect-lrms test/services/lsf-up.sh
Begin User
USER_NAME  MAX_JOBS  JL/P
default    ()        ()
End User
EOF
printf '# written by effect-lrms test/services/lsf-up.sh: read before the resolver\n127.0.0.1 %s\n' \
  "$HOST" >"$NEW/hosts"
CHANGED=()
for f in "$NEW"/*; do cmp -s "$f" "$LSF_ETC/${f##*/}" || CHANGED+=("${f##*/}"); done

# --- 6. quick checks before anything is stopped or started -------------------------------------------
SCAN=$(lsf_scan)
OURS=" $(awk '{ printf "%s ", $1 }' <<<"$SCAN")"
for port in "$LIM_PORT" "$RES_PORT" "$MBD_PORT" "$SBD_PORT"; do
  users=$(ss -Hlntup "sport = :$port" 2>/dev/null || true)
  [ -n "$users" ] || continue
  while read -r pid; do
    case $OURS in *" $pid "*) ;; *) die "port $port is in use by another program: $(head -n1 <<<"$users") (choose other LRMS_LSF_*_PORT)" ;; esac
  done < <(grep -o 'pid=[0-9]*' <<<"$users" | cut -d= -f2 | sort -u)
  grep -q 'pid=' <<<"$users" || die "port $port is in use: $(head -n1 <<<"$users") (choose other LRMS_LSF_*_PORT)"
done
if [ -e "$LSF_ETC_CONF" ] || [ -L "$LSF_ETC_CONF" ]; then
  if [ -L "$LSF_ETC_CONF" ]; then
    target=$(readlink "$LSF_ETC_CONF")
    [ "$target" = "$LSF_ETC/lsf.conf" ] || [ ! -e "$LSF_ETC_CONF" ] ||
      die "$LSF_ETC_CONF points at another cluster's $target: remove it (the commands read it when LSF_ENVDIR is unset)"
  else
    die "$LSF_ETC_CONF is a file of another installation: remove it (the commands read it when LSF_ENVDIR is unset)"
  fi
fi
# which programs of bin/ get a link: the LSF commands (b*, ls*; not the *-mpirun wrappers and
# esync) whose name is free on the default PATH (or already our link); Grid Engine owns
# qsub/qstat/qdel/qacct, and none of OpenLava's names is a q* one
LINKS=()
for f in "$LSF_BIN"/b* "$LSF_BIN"/ls*; do
  n=${f##*/}
  { [ -x "$f" ] && [ -f "$f" ]; } || continue
  if lsf_our_link "$LSF_LINKDIR/$n"; then LINKS+=("$n"); continue; fi
  other=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin type -P "$n" || true)
  if [ -n "$other" ] || [ -e "$LSF_LINKDIR/$n" ] || [ -L "$LSF_LINKDIR/$n" ]; then
    case " $NEEDED_CMDS " in *" $n "*) die "$n is already a command here (${other:-$LSF_LINKDIR/$n}): cannot link $f" ;; esac
    log "not linking $n: ${other:-$LSF_LINKDIR/$n} exists"
    continue
  fi
  LINKS+=("$n")
done

# --- 7. already running? -------------------------------------------------------------------------------
running=0
for d in lim res sbatchd mbatchd; do [ -z "$(lsf_main_pid $d "$SCAN")" ] || running=$((running + 1)); done
if [ -n "$SCAN" ]; then
  if [ $running -eq 4 ] && [ ${#CHANGED[@]} -eq 0 ]; then
    log "already running ($(lsf_status)): verifying"
  else
    if [ $running -eq 0 ]; then
      why="not running, but processes of $LSF_SBIN for $LSF_ETC are left"
    elif [ $running -lt 4 ]; then
      why="only partly running ($(lsf_status))"
    else
      why="configuration changed (${CHANGED[*]})"
    fi
    log "$why: stopping it first"
    LRMS_LSF_LOCKED=1 bash "$HERE/lsf-down.sh" || die "lsf-down.sh failed"
    running=0
  fi
fi
# from here on a failure leaves no env file: the tests skip instead of using a broken cluster
trap 'rc=$?; rm -rf "$NEW"; [ $rc -eq 0 ] || rm -f "$LSF_STATE/env"' EXIT

# --- 8. install the configuration ------------------------------------------------------------------------
install -d -m 755 "$LSF_ETC" "$LSF_RUN"
install -d -m 755 -o "$LSF_ADMIN" -g "$LSF_ADMIN" "$LSF_WORK" "$LSF_WORK/logdir" "$LSF_LOGDIR"
install -d -m 1777 "$LSF_STATE/smoke"
for b in "${CHANGED[@]}"; do install -m 644 "$NEW/$b" "$LSF_ETC/$b"; done
[ ${#CHANGED[@]} -eq 0 ] || log "configuration written: ${CHANGED[*]}"

# --- 9. start ------------------------------------------------------------------------------------------
# wait TIMEOUT: on a timeout show the daemons and the end of their logs
wait_or_die() {
  local what=$1
  shift
  wait_for "$TIMEOUT" "$what" "$@" && return 0
  for f in "$LSF_LOGDIR"/*.log.*; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 8 "$f" >&2; }
  done
  die "$what: not after ${TIMEOUT}s (daemons: $(lsf_status))"
}
has_pid() { [ -n "$(lsf_main_pid "$1")" ]; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# a client that asks before mbatchd listens blocks ~10 s: ask only once it listens
mbd_up() { has_pid mbatchd && listening "$MBD_PORT"; }
lim_ready() { lsf_cmd 10 lsid 2>/dev/null | grep -q "My master name is $HOST"; }
# "ok", or "closed_Full" (every slot taken by jobs: a cluster in use is up too)
host_ok() {
  lsf_cmd 10 bhosts -w 2>/dev/null |
    awk -v h="$HOST" '$1 == h && ($2 == "ok" || $2 == "closed_Full") { f = 1 } END { exit !f }'
}
# a clean environment (nothing of the caller's leaks into the jobs), stdio to a log so that
# `lsf-up.sh | cat` returns
start_daemon() {
  (cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root LSF_ENVDIR="$LSF_ETC" \
    "$LSF_SBIN/$1" </dev/null >>"$LSF_LOGDIR/$1.out" 2>&1 9>&-) || die "$1 exited with $? (see $LSF_LOGDIR)"
}
STARTED=
if [ $running -eq 0 ]; then
  t=$(now_ms)
  # a lock left by an mbatchd that is gone would make the new one wait ~6 s
  rm -f "$LSF_WORK/logdir/#lsb.event.lock"
  start_daemon lim
  wait_or_die "lim to elect itself master (lsid)" lim_ready
  t_lim=$(now_ms)
  start_daemon res
  wait_or_die "res to listen on $RES_PORT" listening "$RES_PORT"
  t_res=$(now_ms)
  start_daemon sbatchd
  wait_or_die "the mbatchd that sbatchd starts" mbd_up
  t_mbd=$(now_ms)
  wait_or_die "sbatchd to listen on $SBD_PORT" listening "$SBD_PORT"
  t_sbd=$(now_ms)
  STARTED=" (started in $(secs "$t" "$t_sbd") s: lim $(secs "$t" "$t_lim"), res $(secs "$t_lim" "$t_res"), mbatchd $(secs "$t_res" "$t_mbd"), sbatchd $(secs "$t_mbd" "$t_sbd"))"
  log "daemons started$STARTED: $(lsf_status)"
fi
SCAN=$(lsf_scan)
for d in lim pim res sbatchd mbatchd; do lsf_main_pid $d "$SCAN" >"$LSF_RUN/$d.pid"; done
wait_or_die "bhosts to show $HOST ok" host_ok
# nothing of ours may listen on another address than loopback
ours=" $(awk '{ printf "%s ", $1 }' <<<"$SCAN")"
while read -r proto local pidinfo; do
  while read -r pid; do
    case $ours in *" $pid "*)
      case $local in 127.*) ;; *) die "an OpenLava daemon (pid $pid) listens on $proto $local, not loopback: is the build patched?" ;; esac ;;
    esac
  done < <(grep -o 'pid=[0-9]*' <<<"$pidinfo" | cut -d= -f2)
done < <(ss -Hlntup 2>/dev/null | awk '{ print $1, $5, $7 }')

# --- 10. the commands on every user's PATH, /etc/lsf.conf -----------------------------------------------
for n in "${LINKS[@]}"; do
  [ "$(readlink "$LSF_LINKDIR/$n" 2>/dev/null)" = "$LSF_BIN/$n" ] || ln -sfn "$LSF_BIN/$n" "$LSF_LINKDIR/$n"
done
[ "$(readlink "$LSF_ETC_CONF" 2>/dev/null)" = "$LSF_ETC/lsf.conf" ] || ln -sfn "$LSF_ETC/lsf.conf" "$LSF_ETC_CONF"

# --- 11. smoke job of lrmskey: bsub and bjobs from the PATH, no LSF_ENVDIR ------------------------------
HOME_OF=$(getent passwd "$SMOKE_USER" | cut -d: -f6)
# as_user CMD : a shell command as $SMOKE_USER with the environment of a plain non-login session
as_user() {
  timeout -k 2 30 runuser -u "$SMOKE_USER" -- env -i PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$HOME_OF" USER="$SMOKE_USER" LOGNAME="$SMOKE_USER" SHELL=/bin/bash LANG=C.UTF-8 \
    sh -c "cd '$LSF_STATE/smoke' && $1"
}
read -r MAXSLOTS NJOBS < <({ lsf_cmd 10 bhosts -w 2>/dev/null || true; } | awk -v h="$HOST" '$1 == h { print $4, $5 }') || true
NPEND=$({ lsf_cmd 10 bjobs -u all -p -w 2>/dev/null || true; } | awk '$3 == "PEND"' | wc -l)
SMOKE_ID=
if [ "$NPEND" -gt 0 ] || [ "${NJOBS:-0}" -ge "${MAXSLOTS:-1}" ]; then
  log "smoke job left out: $NPEND job(s) pending, ${NJOBS:-?} of ${MAXSLOTS:-?} slots in use"
else
  t=$(now_ms)
  out=$(as_user "bsub -J lrms-smoke -o smoke.%J.out sh -c 'echo smoke-ok'" 2>&1) ||
    die "bsub as $SMOKE_USER failed: $out"
  SMOKE_ID=$(sed -n 's/^Job <\([0-9]*\)> is submitted.*/\1/p' <<<"$out")
  [ -n "$SMOKE_ID" ] || die "unexpected bsub reply: $out"
  job_stat() { as_user "bjobs -a -w $SMOKE_ID" 2>/dev/null | awk -v id="$SMOKE_ID" '$1 == id { print $3 }'; }
  finished() { case $(job_stat) in DONE | EXIT) return 0 ;; esac; return 1; }
  wait_or_die "smoke job $SMOKE_ID to finish" finished
  st=$(job_stat)
  [ "$st" = DONE ] || die "smoke job $SMOKE_ID ended $st: $(lsf_cmd 10 bjobs -l "$SMOKE_ID" 2>&1)"
  t_done=$(now_ms)
  out_file=$LSF_STATE/smoke/smoke.$SMOKE_ID.out
  wait_for 10 "the output of smoke job $SMOKE_ID" grep -qx smoke-ok "$out_file" ||
    die "smoke job $SMOKE_ID: no 'smoke-ok' in $out_file"
  rm -f "$out_file"
  log "smoke job $SMOKE_ID of $SMOKE_USER DONE in $(secs "$t" "$t_done") s"
fi
# a non-login SSH command finds bjobs and the cluster (when the test sshd is up)
if [ -r "$SSHD_ENV" ] && cfg=$(sed -n 's/^LRMS_SSH_CONFIG=//p' "$SSHD_ENV") && [ -r "$cfg" ]; then
  rc=0
  out=$(timeout -k 2 30 ssh -F "$cfg" -o BatchMode=yes lrms-key "bjobs -a -w ${SMOKE_ID:-} 2>&1 || lsid" 2>&1) || rc=$?
  if [ $rc -eq 255 ]; then
    log "WARNING: no SSH check: ssh lrms-key failed: $out"
  elif [ -n "$SMOKE_ID" ] && ! grep -q "^$SMOKE_ID .* DONE " <<<"$out"; then
    die "bjobs in a non-login SSH session of $SMOKE_USER (ssh -F $cfg lrms-key) said: $out"
  elif [ -z "$SMOKE_ID" ] && [ $rc -ne 0 ]; then
    die "lsid in a non-login SSH session of $SMOKE_USER (ssh -F $cfg lrms-key) failed: $out"
  else
    log "checked: a non-login SSH command of $SMOKE_USER runs $([ -n "$SMOKE_ID" ] && echo "bjobs (job $SMOKE_ID DONE)" || echo lsid)"
  fi
else
  log "no SSH check ($SSHD_ENV missing: sshd-up.sh not run)"
fi

# --- 12. the env file -------------------------------------------------------------------------------------
MEM=$(lsf_cmd 10 lshosts -w 2>/dev/null | awk -v h="$HOST" '$1 == h { print $6 }')
SLOTS=$(lsf_cmd 10 bhosts -w 2>/dev/null | awk -v h="$HOST" '$1 == h { print $4 }')
{ [ -n "$MEM" ] && [ -n "$SLOTS" ]; } || die "lshosts/bhosts do not list $HOST"
SCAN=$(lsf_scan)
for d in lim pim res sbatchd mbatchd; do
  p=$(lsf_main_pid $d "$SCAN")
  [ -n "$p" ] || die "$d is not running any more (see $LSF_LOGDIR)"
  echo "$p" >"$LSF_RUN/$d.pid"
done
cat >"$LSF_STATE/env.new" <<EOF
LRMS_LSF_VERSION=$LSF_VERSION
LRMS_LSF_BIN=$LSF_BIN
LRMS_LSF_SBIN=$LSF_SBIN
LRMS_LSF_ENVDIR=$LSF_ETC
LRMS_LSF_ETC_CONF=$LSF_ETC_CONF
LRMS_LSF_LINKDIR=$LSF_LINKDIR
LRMS_LSF_CLUSTER=$CLUSTER
LRMS_LSF_HOST=$HOST
LRMS_LSF_QUEUE=$QUEUE
LRMS_LSF_SLOTS=$SLOTS
LRMS_LSF_MEM=$MEM
LRMS_LSF_USERS='$USERS'
LRMS_LSF_ADMIN=$LSF_ADMIN
LRMS_LSF_TERMINATE_INTERVAL=$TERM_INTERVAL
LRMS_LSF_LIM_PORT=$LIM_PORT
LRMS_LSF_RES_PORT=$RES_PORT
LRMS_LSF_MBD_PORT=$MBD_PORT
LRMS_LSF_SBD_PORT=$SBD_PORT
LRMS_LSF_LIM_PID=$(cat "$LSF_RUN/lim.pid")
LRMS_LSF_MBATCHD_PID=$(cat "$LSF_RUN/mbatchd.pid")
LRMS_LSF_SBATCHD_PID=$(cat "$LSF_RUN/sbatchd.pid")
LRMS_LSF_RES_PID=$(cat "$LSF_RUN/res.pid")
LRMS_LSF_DIR=$LSF_STATE
LRMS_LSF_LOGDIR=$LSF_LOGDIR
LRMS_LSF_ACCT=$LSF_WORK/logdir/lsb.acct
EOF
chmod 644 "$LSF_STATE/env.new"
mv -f "$LSF_STATE/env.new" "$LSF_STATE/env"
log "lsf up${STARTED:- (already running)}: $HOST ok ($SLOTS slots, queue $QUEUE), verified in $(secs "$T0" "$(now_ms)") s; env: $LSF_STATE/env"
