#!/usr/bin/env bash
# Start (or just verify) a single-node Son of Grid Engine 8.1.9 cell on this host: sge_qmaster
# (BerkeleyDB spool, accounting on) and sge_execd, queue all.q, parallel environments smp and
# mpi2, complexes gpu (GPUs that do not exist) and exclusive, all in one state dir. Run as root;
# idempotent.
#   LRMS_SGE_DIR           state dir (/tmp/effect-lrms-sge): SGE_ROOT, spool, configs, logs, env
#   LRMS_SGE_QMASTER_PORT  6444     LRMS_SGE_EXECD_PORT 6445
#   LRMS_SGE_SLOTS         slots of all.q on the node (8): more than the machine has lets the tests'
#                          mostly sleeping jobs run side by side
#   LRMS_SGE_GPUS          GPUs the node offers as the consumable `gpu` (2; none exist)
# /etc/default/gridengine is pointed at this cell (if it is the package's or already ours), so
# qsub, qstat, qacct, qdel work in SSH sessions without any environment variable.
# Writes STATE/env (KEY=VALUE, see README.md) once a job as root completes and is in qacct.
set -euo pipefail
SCRIPT_NAME=sge-up
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(now_ms)
umask 022 # the users' jobs and SSH sessions read the cell's files
STATE=${LRMS_SGE_DIR:-/tmp/effect-lrms-sge}
QPORT=${LRMS_SGE_QMASTER_PORT:-6444}
EPORT=${LRMS_SGE_EXECD_PORT:-6445}
SLOTS=${LRMS_SGE_SLOTS:-8}
GPUS=${LRMS_SGE_GPUS:-2}
CELL=default
QUEUE=all.q
PE=smp
MPI_PE=mpi2 # allocation_rule 2: a job of 2N slots spans N hosts (this cell has one)
ETC_DEFAULT=/etc/default/gridengine
LIB=/usr/lib/gridengine # the real binaries; /usr/bin/q* and /usr/sbin/sge_* are wrapper scripts
QMASTER=$LIB/sge_qmaster
EXECD=$LIB/sge_execd
SHEPHERD=$LIB/sge_shepherd

[ "$(id -u)" -eq 0 ] || die "must run as root (daemons that switch users, /etc/default/gridengine)"
case $STATE in /?*) ;; *) die "LRMS_SGE_DIR must be an absolute path, not '$STATE'" ;; esac
for v in SLOTS:SLOTS GPUS:GPUS QPORT:QMASTER_PORT EPORT:EXECD_PORT; do
  n=${v%%:*}
  case ${!n} in '' | *[!0-9]* | 0) die "LRMS_SGE_${v#*:} must be a whole number above 0" ;; esac
done
[ "$QPORT" != "$EPORT" ] || die "LRMS_SGE_QMASTER_PORT and LRMS_SGE_EXECD_PORT are both $QPORT"

# The packages' postinst would build a cell in /var/lib/gridengine and ask questions: tell debconf
# not to (policy-rc.d, see ensure_pkgs, keeps their init scripts from starting daemons).
# (The questions are shared by all four packages.)
for p in gridengine-common gridengine-master gridengine-exec gridengine-client; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' && continue
  debconf-set-selections <<'EOF'
gridengine-common shared/gridengineconfig boolean false
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string localhost
EOF
  break
done
ensure_pkgs gridengine-master gridengine-exec gridengine-client
for bin in "$QMASTER" "$EXECD" "$SHEPHERD" $LIB/spoolinit $LIB/spooldefaults $LIB/gethostname \
  $LIB/gethostbyname $LIB/gethostbyaddr qconf qsub qstat qacct qdel qmod runuser setpriv flock perl; do
  command -v "$bin" >/dev/null || die "missing binary: $bin"
done
getent passwd sgeadmin >/dev/null || die "missing system user sgeadmin"

ROOT=$STATE/root ETC=$STATE/etc SPOOL=$STATE/spool
COMMON=$ROOT/$CELL/common
# every qconf/qsub/... below and the daemons: this cell (the /usr/bin wrappers keep these)
export SGE_ROOT=$ROOT SGE_CELL=$CELL SGE_QMASTER_PORT=$QPORT SGE_EXECD_PORT=$EPORT
unset SGE_ARCH SGE_DEBUG_LEVEL SGE_ND

# --- host name: SGE uses gethostname() and the resolver; its address must map back to it ---------
# (the lookup tools want an SGE_ROOT: the package's, so that no host_aliases of ours applies)
lookup() { SGE_ROOT=/var/lib/gridengine "$LIB/$1" -name "${@:2}" 2>/dev/null; }
HOST=$(lookup gethostname) || die "$LIB/gethostname failed"
ADDR=$(getent ahostsv4 "$HOST" | awk 'NR == 1 { print $1 }')
if [ -z "$ADDR" ]; then
  # a container whose name is not in /etc/hosts: SGE cannot work without it (purge removes it)
  log "host name $HOST does not resolve: adding '127.0.0.1 $HOST' to /etc/hosts"
  printf '127.0.0.1 %s # added by effect-lrms sge-up.sh\n' "$HOST" >>/etc/hosts
  ADDR=127.0.0.1
fi
[ "$(lookup gethostbyname "$HOST")" = "$HOST" ] || die "SGE cannot resolve this host's name $HOST"
# qmaster names a client by the reverse lookup of its address (127.0.0.1 -> localhost here) and
# refuses it unless that is the client's own name: host_aliases makes them one host
REV=$(lookup gethostbyaddr "$ADDR") || REV=$HOST

# which daemons of this cell run (pid file, exe, our SGE_ROOT in its environment)
ours() { # ours PIDFILE EXE : print the pid
  local pid
  pid=$(pid_alive "$1" "$2") || return 1
  grep -qzxF "SGE_ROOT=$ROOT" "/proc/$pid/environ" 2>/dev/null || return 1
  echo "$pid"
}
qmaster_pid() { ours "$SPOOL/qmaster/qmaster.pid" "$QMASTER"; }
execd_pid() { # execd names its spool dir after the host name it resolved (localhost here)
  local f
  for f in "$SPOOL"/execd/*/execd.pid; do ours "$f" "$EXECD" && return 0; done
  return 1
}
check_ports() {
  qmaster_pid >/dev/null || ! port_open 127.0.0.1 "$QPORT" ||
    die "127.0.0.1:$QPORT (for sge_qmaster) is in use by another process (choose another LRMS_SGE_QMASTER_PORT)"
  execd_pid >/dev/null || ! port_open 127.0.0.1 "$EPORT" ||
    die "127.0.0.1:$EPORT (for sge_execd) is in use by another process (choose another LRMS_SGE_EXECD_PORT)"
}
check_ports
# the marker lets sge-down.sh --purge delete the dir: only one we made
[ -d "$STATE" ] || { mkdir -p "$STATE" && touch "$STATE/.made-by-sge-up"; }
chmod 755 "$STATE"
exec 9>"$STATE/lock"
flock -w 120 9 || die "another sge-up.sh holds $STATE/lock"
check_ports # again: a concurrent sge-up.sh may just have started something

install -d -m 755 "$ETC" "$ROOT" "$ROOT/$CELL" "$STATE/smoke"
install -d -m 755 -o sgeadmin -g sgeadmin "$COMMON" "$SPOOL" "$SPOOL/qmaster" "$SPOOL/execd"
install -d -m 755 -o sgeadmin -g sgeadmin "$SPOOL/spooldb"
for d in bin lib util utilbin; do # SGE_ROOT: the package's files plus our cell
  [ "$(readlink "$ROOT/$d")" = "/var/lib/gridengine/$d" ] || ln -sfn "/var/lib/gridengine/$d" "$ROOT/$d"
done

# put FILE : atomically replace FILE with stdin when the content differs; the names of changed
# files collect in CHANGED.
CHANGED=
put() {
  cat >"$1.new"
  if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1" && CHANGED+=" ${1##*/}"; fi
}
# fail LOG WHAT : show the end of LOG and die
fail() {
  [ -s "$1" ] && tail -n 15 "$1" | sed 's/^/  | /' >&2
  die "$2 (log: $1)"
}
STARTED=

# --- the cell's files: $SGE_ROOT/default/common ---------------------------------------------------
put "$COMMON/bootstrap" <<EOF
# Version: 8.1.9 -- written by test/services/sge-up.sh
admin_user              sgeadmin
default_domain          none
ignore_fqdn             true
spooling_method         berkeleydb
spooling_lib            libspoolb
spooling_params         $SPOOL/spooldb
binary_path             /usr/sbin
qmaster_spool_dir       $SPOOL/qmaster
security_mode           none
listener_threads        2
worker_threads          2
scheduler_threads       1
EOF
echo "$HOST" | put "$COMMON/act_qmaster"
if [ "$REV" != "$HOST" ]; then
  echo "$HOST $REV" | put "$COMMON/host_aliases"
else
  rm -f "$COMMON/host_aliases"
fi
echo lrms | put "$COMMON/cluster_name"
put "$COMMON/settings.sh" <<EOF
SGE_ROOT=$ROOT; export SGE_ROOT
SGE_CELL=$CELL; export SGE_CELL
SGE_QMASTER_PORT=$QPORT; export SGE_QMASTER_PORT
SGE_EXECD_PORT=$EPORT; export SGE_EXECD_PORT
EOF
chown sgeadmin:sgeadmin "$COMMON"/* # qmaster rewrites act_qmaster, appends to accounting
# A change of these needs both daemons restarted: stop them here, they are started below.
if [[ $CHANGED == *bootstrap* || $CHANGED == *act_qmaster* || $CHANGED == *host_aliases* ||
  $CHANGED == *settings.sh* ]]; then
  for d in execd qmaster; do
    pid=$("${d}_pid") || continue
    log "the cell's files changed ($CHANGED ): restarting sge_$d (pid $pid)"
    stop_pid "$pid" "$([ $d = execd ] && echo "$EXECD" || echo "$QMASTER")" 30 ||
      die "sge_$d (pid $pid) did not stop"
  done
fi
CHANGED=

# --- the BerkeleyDB spool: made once, with the global configuration and the complexes -------------
MEM_MB=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo)
# global configuration: execd spool in STATE, root may submit (min_uid 0), no mail, accounting
# written at once (the default flush_time=15 s makes qacct lag)
put "$ETC/global" <<EOF
execd_spool_dir              $SPOOL/execd
mailer                       /bin/true
xterm                        /usr/bin/xterm
load_sensor                  none
prolog                       none
epilog                       none
shell_start_mode             posix_compliant
login_shells                 bash,sh,ksh,csh,tcsh
min_uid                      0
min_gid                      0
user_lists                   none
xuser_lists                  none
projects                     none
xprojects                    none
enforce_project              false
enforce_user                 auto
load_report_time             00:00:10
max_unheard                  00:05:00
reschedule_unknown           00:00:00
loglevel                     log_info
administrator_mail           none
set_token_cmd                none
pag_cmd                      none
token_extend_time            none
shepherd_cmd                 none
qmaster_params               none
execd_params                 none
reporting_params             accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00
finished_jobs                100
gid_range                    20000-20100
qlogin_command               builtin
qlogin_daemon                builtin
rlogin_command               builtin
rlogin_daemon                builtin
rsh_command                  builtin
rsh_daemon                   builtin
max_aj_instances             2000
max_aj_tasks                 75000
max_u_jobs                   0
max_jobs                     0
auto_user_oticket            0
auto_user_fshare             0
auto_user_default_project    none
auto_user_delete_time        86400
delegated_file_staging       false
reprioritize                 0
jsv_url                      none
jsv_allowed_mod              ac,h,i,e,o,j,M,N,p,w
EOF
if [ ! -e "$SPOOL/spooldb/.initialised" ]; then
  qmaster_pid >/dev/null && die "sge_qmaster runs on a spool that is not initialised: run sge-down.sh"
  log "initialising the BerkeleyDB spool $SPOOL/spooldb"
  find "$SPOOL/spooldb" -mindepth 1 -delete
  rm -f "$ETC"/*.applied
  chown sgeadmin:sgeadmin "$ETC/global"
  runuser -u sgeadmin -- sh -ec "
    $LIB/spoolinit berkeleydb libspoolb '$SPOOL/spooldb' init
    $LIB/spooldefaults configuration '$ETC/global'
    $LIB/spooldefaults complexes /usr/share/gridengine/util/resources/centry
    $LIB/spooldefaults usersets /usr/share/gridengine/util/resources/usersets
    $LIB/spooldefaults managers sgeadmin root
  " >"$STATE/spoolinit.log" 2>&1 || fail "$STATE/spoolinit.log" "initialising the spool failed"
  cp "$ETC/global" "$ETC/global.applied"
  touch "$SPOOL/spooldb/.initialised"
fi

# --- sge_qmaster ------------------------------------------------------------------------------------
qmaster_ok() { qconf -sh; }
# up_or_gone NAME : for wait_for: NAME_ok, or no NAME_pid 10 s after the start (a fresh execd
# writes its pid file only once it has made its spool dir: seen to take over 2 s in CI)
up_or_gone() {
  "${1}_ok" && return 0
  "${1}_pid" >/dev/null && return 1
  [ $(($(now_ms) - S0)) -gt 10000 ]
}
if ! qmaster_pid >/dev/null; then
  rm -f "$SPOOL/qmaster/qmaster.pid" "$SPOOL/qmaster/lock"
  # it forks into the background once it is listening
  S0=$(now_ms)
  $QMASTER </dev/null 9>&- >>"$SPOOL/qmaster.out" 2>&1 ||
    fail "$SPOOL/qmaster/messages" "sge_qmaster exited with $?"
  STARTED+=" sge_qmaster"
  wait_for 60 "sge_qmaster" up_or_gone qmaster || true
fi
qmaster_ok >/dev/null 2>&1 || {
  qmaster_pid >/dev/null || fail "$SPOOL/qmaster/messages" "sge_qmaster is not running"
  fail "$SPOOL/qmaster/messages" "sge_qmaster does not answer qconf -sh"
}

# --- the cell's configuration: applied with qconf when it differs from what was applied last ------
QLOG=$STATE/qconf.log
# apply FILE CMD... : run CMD (reads FILE) unless FILE.applied has the same content
apply() {
  cmp -s "$1" "$1.applied" && return 0
  "${@:2}" >>"$QLOG" 2>&1 || fail "$QLOG" "${*:2} failed"
  cp "$1" "$1.applied"
  APPLIED+=" ${1##*/}"
}
APPLIED=
# `qconf -Mconf FILE` takes the configuration's name from the file name
apply "$ETC/global" qconf -Mconf "$ETC/global"
qconf -sh | grep -qxF "$HOST" || qconf -ah "$HOST" >>"$QLOG" 2>&1 || fail "$QLOG" "qconf -ah $HOST failed"
qconf -ss 2>/dev/null | grep -qxF "$HOST" || qconf -as "$HOST" >>"$QLOG" 2>&1 || fail "$QLOG" "qconf -as $HOST failed"
# mem_free: consumable per slot (-l mem_free=1G with -pe smp 4 books 4G of the node's memory, as
# complex_values below). h_vmem stays a plain per-slot limit, not consumable: a consumable's default
# (0) becomes the limit of every job that requests none, and execd kills those within a second.
# gpu: a consumable per slot, GPUS of them on the host, that count but do not exist (no job
# touches a device): what `-l gpu=N` books. exclusive: the EXCL boolean of `-l exclusive=true`
# (a job asking for it runs alone on its host). Defined before the host that offers them.
qconf -sc >"$ETC/complexes.live" || fail "$QLOG" "qconf -sc failed"
awk '$1 == "mem_free" { $6 = "YES" } $1 == "h_vmem" { $6 = "NO" } $1 == "gpu" { g = 1 }
  $1 == "exclusive" { x = 1 } { print }
  END { if (!g) print "gpu gpu INT <= YES YES 0 0"; if (!x) print "exclusive excl BOOL EXCL YES YES 0 1000" }' \
  "$ETC/complexes.live" >"$ETC/complexes"
[ "$(awk '{ print $1, $6 }' "$ETC/complexes")" = "$(awk '{ print $1, $6 }' "$ETC/complexes.live")" ] ||
  { qconf -Mc "$ETC/complexes" >>"$QLOG" 2>&1 || fail "$QLOG" "qconf -Mc failed"; APPLIED+=" complexes"; }
put "$ETC/exechost" <<EOF
hostname              $HOST
load_scaling          NONE
complex_values        mem_free=${MEM_MB}M,gpu=$GPUS,exclusive=true
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
if qconf -sel 2>/dev/null | grep -qxF "$HOST"; then
  apply "$ETC/exechost" qconf -Me "$ETC/exechost"
else
  rm -f "$ETC/exechost.applied"
  apply "$ETC/exechost" qconf -Ae "$ETC/exechost"
fi
# smp: N slots of one host for `qsub -pe smp N`; the job starts the processes itself.
# mpi2: 2 slots on each host, so `-pe mpi2 2N` needs N hosts: what a job on several nodes asks
# for (the library's multiNodePe); on this one-host cell `qsub -w e` refuses more than 2 slots.
# pe NAME ALLOCATION_RULE : define (or update) a parallel environment
pe() {
  put "$ETC/$1" <<EOF
pe_name            $1
slots              9999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $2
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
  if qconf -spl 2>/dev/null | grep -qxF "$1"; then
    apply "$ETC/$1" qconf -Mp "$ETC/$1"
  else
    rm -f "$ETC/$1.applied"
    apply "$ETC/$1" qconf -Ap "$ETC/$1"
  fi
}
pe "$PE" '$pe_slots'
pe "$MPI_PE" 2
put "$ETC/$QUEUE" <<EOF
qname                 $QUEUE
hostlist              $HOST
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               $PE $MPI_PE
rerun                 FALSE
slots                 $SLOTS
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      posix_compliant
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
if qconf -sql 2>/dev/null | grep -qxF "$QUEUE"; then
  apply "$ETC/$QUEUE" qconf -Mq "$ETC/$QUEUE"
else
  rm -f "$ETC/$QUEUE.applied"
  apply "$ETC/$QUEUE" qconf -Aq "$ETC/$QUEUE"
fi
# the scheduler: a pass every second and 1 s after each submit and job end (the defaults, 15 s and
# 4 s, leave a job pending for up to 15 s); no load adjustments (8 slots on 2 CPUs)
qconf -ssconf >"$ETC/sched.live" || fail "$QLOG" "qconf -ssconf failed"
sed -e 's/^\(schedule_interval *\).*/\10:0:1/' -e 's/^\(flush_submit_sec *\).*/\11/' \
  -e 's/^\(flush_finish_sec *\).*/\11/' -e 's/^\(job_load_adjustments *\).*/\1NONE/' \
  -e 's/^\(load_adjustment_decay_time *\).*/\10:0:0/' "$ETC/sched.live" >"$ETC/sched"
cmp -s "$ETC/sched" "$ETC/sched.live" ||
  { qconf -Msconf "$ETC/sched" >>"$QLOG" 2>&1 || fail "$QLOG" "qconf -Msconf failed"; APPLIED+=" sched"; }
# a configuration change may change what an h_vmem kill ends as: probe it again below
[ -z "$APPLIED" ] || { log "configured:$APPLIED"; rm -f "$STATE/hvmem-kill"; }

# --- sge_execd --------------------------------------------------------------------------------------
# the queue instance is usable once execd has reported: qstat -f shows it without state flags
# (u = unknown: no report yet, a = alarm, d = disabled, E = error, ...)
queue_state() { qstat -f -q "$QUEUE@$HOST" | awk -v q="$QUEUE@$HOST" '$1 == q { print ($6 == "" ? "ok" : $6) }'; }
execd_ok() { [ "$(queue_state)" = ok ]; }
if ! execd_pid >/dev/null; then
  rm -f "$SPOOL"/execd/*/execd.pid
  S0=$(now_ms)
  $EXECD </dev/null 9>&- >>"$SPOOL/execd.out" 2>&1 || fail "$SPOOL/execd.out" "sge_execd exited with $?"
  STARTED+=" sge_execd"
  wait_for 60 "$QUEUE@$HOST" up_or_gone execd || true
fi
execd_log() { # its messages file, in a spool dir named after the host name it resolved
  local f
  for f in "$SPOOL"/execd/*/messages; do [ -e "$f" ] && echo "$f" && return; done
  echo "$SPOOL/execd.out"
}
execd_pid >/dev/null || fail "$(execd_log)" "sge_execd is not running"
if ! execd_ok 2>/dev/null; then
  state=$(queue_state)
  if [[ $state == *[dE]* ]]; then # disabled or in error (an earlier run, a test): enable, clear
    log "queue instance $QUEUE@$HOST is '$state': enabling and clearing it"
    qmod -e "$QUEUE@$HOST" >>"$QLOG" 2>&1 || true
    qmod -cq "$QUEUE@$HOST" >>"$QLOG" 2>&1 || true
  fi
  wait_for 60 "$QUEUE@$HOST" execd_ok || fail "$(execd_log)" "queue instance $QUEUE@$HOST is '$(queue_state)'"
fi

# --- /etc/default/gridengine: what the /usr/bin wrappers of SSH sessions read ---------------------
# Only if it is the package's (SGE_ROOT=/var/lib/gridengine), points at a directory that is gone,
# or is already ours; the original is kept for sge-down.sh --purge.
LINKED=0
etc_root=$(sed -n 's/^SGE_ROOT=//p' "$ETC_DEFAULT" 2>/dev/null | tail -1)
if [ "$etc_root" = "$ROOT" ]; then
  LINKED=1
elif [ ! -e "$ETC_DEFAULT" ] || [ "$etc_root" = /var/lib/gridengine ] || [ ! -d "$etc_root" ]; then
  # (of a stale one, --purge restores the package's template)
  [ "$etc_root" != /var/lib/gridengine ] || cp -p "$ETC_DEFAULT" "$ETC/etc-default-gridengine.orig"
  LINKED=1
else
  log "WARNING: $ETC_DEFAULT names another cell (SGE_ROOT=$etc_root); left alone: SSH sessions" \
    "need SGE_ROOT=$ROOT"
fi
if [ $LINKED -eq 1 ]; then
  put "$ETC/etc-default-gridengine" <<EOF
# Grid Engine: read by the /usr/bin/q* wrappers. Written by effect-lrms test/services/sge-up.sh
# for the test cell in $STATE; sge-down.sh --purge puts the original back.
SGE_START_MASTERD=no
SGE_START_EXECD=no
SGE_ROOT=$ROOT
SGE_CELL=$CELL
SGE_QMASTER_PORT=$QPORT; export SGE_QMASTER_PORT
SGE_EXECD_PORT=$EPORT; export SGE_EXECD_PORT
SGE_ARCH=\`"\$SGE_ROOT/util/arch"\`
EOF
  cmp -s "$ETC/etc-default-gridengine" "$ETC_DEFAULT" || {
    cp "$ETC/etc-default-gridengine" "$ETC_DEFAULT.new" && mv -f "$ETC_DEFAULT.new" "$ETC_DEFAULT"
  }
fi

# an SSH session's user: no SGE_* variables, only the wrappers and /etc/default/gridengine
if [ $LINKED -eq 1 ]; then
  for u in lrmskey lrmspw; do
    getent passwd "$u" >/dev/null || continue
    out=$(setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups env -u SGE_ROOT -u SGE_CELL \
      -u SGE_QMASTER_PORT -u SGE_EXECD_PORT qstat -f -q "$QUEUE@$HOST" 2>&1) ||
      die "qstat as $u without SGE_ROOT failed: $out"
    break
  done
fi

# --- verify: a job completes and is in qacct; the h_vmem probe -------------------------------------
# acct JOBID : print "exit_status=N failed=TEXT" once qacct has the job
acct() {
  qacct -j "$1" 2>/dev/null | awk '$1 == "failed" { $1 = ""; f = substr($0, 2) }
    $1 == "exit_status" { e = $2 } END { if (e == "") exit 1; printf "exit_status=%s failed=%s\n", e, f }'
}
submit() { # submit NAME QSUB_ARGS... : print the job id
  (cd "$STATE/smoke" && qsub -terse -N "$1" -cwd -o "$STATE/smoke/\$JOB_NAME.\$JOB_ID.out" -j y "${@:2}") ||
    fail "$SPOOL/qmaster/messages" "qsub $1 failed"
}
# A smoke job behind the tests' jobs could wait long: then the checks above suffice.
SMOKE=1
if [ -s "$STATE/hvmem-kill" ] && qstat -u '*' -s p | awk 'NR > 2 && $5 == "qw" { f = 1 } END { exit !f }'; then
  SMOKE=0
  log "jobs are waiting: no smoke job"
fi
if [ $SMOKE -eq 1 ]; then
  S0=$(now_ms)
  smoke=$(echo 'echo smoke-ok' | submit lrms-smoke)
  if [ ! -s "$STATE/hvmem-kill" ]; then
    # h_vmem is also each process's setrlimit(RLIMIT_AS) (an allocation above it fails), so two
    # processes of ~70 MB each: together above the job's 100M, which execd enforces by SIGKILL
    hv=$(echo "perl -e 'fork; my \$n = 60 << 20; my \$x = q(x) x \$n; sleep 10'" |
      submit lrms-hvmem-probe -l h_vmem=100M)
  fi
  wait_for 30 "smoke job $smoke in qacct" acct "$smoke" ||
    fail "$SPOOL/qmaster/messages" "smoke job $smoke is not in qacct after 30 s ($(qstat -j "$smoke" 2>&1 | grep -E '^(error|scheduling)' || true))"
  r=$(acct "$smoke")
  [ "${r% failed=*}" = "exit_status=0" ] || fail "$STATE/smoke/lrms-smoke.$smoke.out" "smoke job $smoke ended with $r"
  grep -qx smoke-ok "$STATE/smoke/lrms-smoke.$smoke.out" || die "smoke job $smoke: no output"
  log "smoke job $smoke: in qacct after $(($(now_ms) - S0)) ms"
  if [ -n "${hv:-}" ]; then
    wait_for 30 "h_vmem probe $hv in qacct" acct "$hv" || fail "$SPOOL/qmaster/messages" "job $hv did not end"
    r=$(acct "$hv")
    log "h_vmem probe $hv: $r after $(($(now_ms) - S0)) ms"
    [[ $r != *"failed=0"* ]] || log "WARNING: job $hv exceeded h_vmem=100M and was not killed"
    echo "$r" >"$STATE/hvmem-kill"
  fi
  rm -f "$STATE"/smoke/lrms-*.out
fi
HVMEM_KILL=$(cat "$STATE/hvmem-kill")

PIDS=()
for d in qmaster execd; do
  p=$("${d}_pid") || die "sge_$d is not running any more (see $SPOOL)"
  PIDS+=("$p")
done
put "$STATE/env" <<EOF
LRMS_SGE_ROOT=$ROOT
LRMS_SGE_CELL=$CELL
LRMS_SGE_QMASTER_PORT=$QPORT
LRMS_SGE_EXECD_PORT=$EPORT
LRMS_SGE_ETC_DEFAULT=$([ $LINKED -eq 1 ] && echo "$ETC_DEFAULT")
LRMS_SGE_HOST=$HOST
LRMS_SGE_QUEUE=$QUEUE
LRMS_SGE_PE=$PE
LRMS_SGE_MPI_PE=$MPI_PE
LRMS_SGE_GPU_RESOURCE=gpu
LRMS_SGE_GPUS=$GPUS
LRMS_SGE_EXCLUSIVE_RESOURCE=exclusive
LRMS_SGE_SLOTS=$SLOTS
LRMS_SGE_HOST_MEMORY_MB=$MEM_MB
LRMS_SGE_HVMEM_KILL='$HVMEM_KILL'
LRMS_SGE_ACCOUNTING=$COMMON/accounting
LRMS_SGE_QMASTER_PID=${PIDS[0]}
LRMS_SGE_EXECD_PID=${PIDS[1]}
LRMS_SGE_DIR=$STATE
LRMS_SGE_QMASTER_LOG=$SPOOL/qmaster/messages
EOF
how="already running"
[ -z "$STARTED" ] || how="started$STARTED"
log "sge $how: $QUEUE@$HOST ($SLOTS slots, pe $PE and $MPI_PE), verified in $(($(now_ms) - T0)) ms; env: $STATE/env"
