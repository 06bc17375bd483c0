#!/usr/bin/env bash
# Start (or just verify) a single-node SLURM 22.05 cluster with accounting on 127.0.0.1: munged,
# MariaDB, slurmdbd, slurmctld and slurmd, everything in one state dir. Run as root; idempotent.
#   LRMS_SLURM_DIR        state dir (/tmp/effect-lrms-slurm): configs, DB, logs, pid files, env
#   LRMS_SLURMCTLD_PORT   6817     LRMS_SLURMD_PORT 6818     LRMS_SLURMDBD_PORT 6819
#   LRMS_SLURM_DB_PORT    3306 (MariaDB, 127.0.0.1 only)
#   LRMS_SLURM_NODE       node name (default: `hostname -s` if it resolves to a loopback address,
#                         else localhost)
#   LRMS_SLURM_USERS      users given an association in account lrms, if they exist
#                         (root lrmskey lrmspw: run sshd-up.sh first; a re-run adds missing ones)
#   LRMS_SLURM_CPUS       CPUs the node declares (8): more than the machine has lets the tests'
#                         mostly sleeping jobs run side by side (SlurmdParameters=config_overrides)
#   LRMS_SLURM_MEMLIMIT   auto|cgroup|poll: how --mem is enforced (auto: cgroup if the cgroup v1
#                         memory controller is mounted, else polling by jobacct_gather)
#   LRMS_SLURM_GPUS       GPUs the node declares (4): GRES gpu backed by character devices made in
#                         STATE/gpu (numbers 1,3, like /dev/null): they count, and do not exist
#   LRMS_SLURM_MAX_ARRAY_SIZE  MaxArraySize (10001: arrays of up to 10,001 elements, 0-10000)
# A second partition, urgent (PriorityTier=2), preempts debug's jobs (PreemptMode=REQUEUE: a job
# submitted with --requeue goes back to the queue, one with --no-requeue ends as PREEMPTED).
# EnforcePartLimits=ALL: sbatch refuses a job no node of the partition could run (2 nodes).
# Writes STATE/env (KEY=VALUE, see README.md) once a job completes and shows up in sacct.
set -euo pipefail
SCRIPT_NAME=slurm-up
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(now_ms)
umask 022 # the users' SSH sessions read slurm.conf through /etc/slurm/slurm.conf
STATE=${LRMS_SLURM_DIR:-/tmp/effect-lrms-slurm}
CTLD_PORT=${LRMS_SLURMCTLD_PORT:-6817}
D_PORT=${LRMS_SLURMD_PORT:-6818}
DBD_PORT=${LRMS_SLURMDBD_PORT:-6819}
DB_PORT=${LRMS_SLURM_DB_PORT:-3306}
USERS=${LRMS_SLURM_USERS:-root lrmskey lrmspw}
MEMLIMIT=${LRMS_SLURM_MEMLIMIT:-auto}
SLOTS=${LRMS_SLURM_CPUS:-8}
GPUS=${LRMS_SLURM_GPUS:-4}
MAX_ARRAY=${LRMS_SLURM_MAX_ARRAY_SIZE:-10001}
URGENT=urgent
CLUSTER=lrms
PARTITION=debug
ACCOUNT=lrms
ETC_CONF=/etc/slurm/slurm.conf

[ "$(id -u)" -eq 0 ] || die "must run as root (daemons that switch users, /etc/slurm)"
case $STATE in /?*) ;; *) die "LRMS_SLURM_DIR must be an absolute path, not '$STATE'" ;; esac
case $SLOTS in '' | *[!0-9]* | 0) die "LRMS_SLURM_CPUS must be a whole number above 0" ;; esac
case $GPUS in '' | *[!0-9]*) die "LRMS_SLURM_GPUS must be a whole number" ;; esac
case $MAX_ARRAY in '' | *[!0-9]*) die "LRMS_SLURM_MAX_ARRAY_SIZE must be a whole number" ;; esac
[ "$MAX_ARRAY" -lt 20000 ] || die "LRMS_SLURM_MAX_ARRAY_SIZE must be below MaxJobCount (20000)"
case $MEMLIMIT in auto | cgroup | poll) ;; *) die "LRMS_SLURM_MEMLIMIT must be auto, cgroup or poll" ;; esac
ensure_pkgs munge slurmctld slurmd slurm-client slurmdbd mariadb-server openmpi-bin
for bin in munged munge unmunge mariadbd mariadb mariadb-admin mariadb-install-db slurmdbd \
  slurmctld slurmd slurmstepd sbatch sacct sacctmgr scontrol sinfo squeue setpriv flock perl; do
  command -v "$bin" >/dev/null || die "missing binary: $bin"
done
for u in munge mysql slurm; do getent passwd $u >/dev/null || die "missing system user $u"; done
# /proc/PID/exe of each daemon: Debian's slurm binaries are alternatives (slurmctld -> slurmctld-wlm).
# Start them by the link's name, though: libslurm tells slurmctld from a client by its argv[0], and
# a slurmctld-wlm crashes (SIGSEGV in slurm_persist_msg_pack) at its first message to slurmdbd.
MUNGED=$(readlink -f /usr/sbin/munged)
MARIADBD=$(readlink -f /usr/sbin/mariadbd)
SLURMDBD=$(readlink -f /usr/sbin/slurmdbd)
SLURMCTLD=$(readlink -f /usr/sbin/slurmctld)
SLURMD=$(readlink -f /usr/sbin/slurmd)

ETC=$STATE/etc MUN=$STATE/munge DB=$STATE/mysql SL=$STATE/slurm
CONF=$ETC/slurm.conf
export SLURM_CONF=$CONF # every slurm command and daemon below; slurmdbd.conf is found next to it

# --- node name: SlurmctldHost must be this host's name (or localhost); NodeAddr is 127.0.0.1 ----
NODE=${LRMS_SLURM_NODE:-}
if [ -z "$NODE" ]; then
  NODE=$(hostname -s)
  if ! getent ahostsv4 "$NODE" | awk '{ print $1 }' | grep -q '^127\.'; then
    log "hostname $NODE does not resolve to a loopback address: node name localhost"
    NODE=localhost
  fi
fi
[[ $NODE =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || die "bad node name '$NODE' (set LRMS_SLURM_NODE)"

# which daemons of this state dir run; the ports of the others must be free
munged_pid() { pid_alive "$MUN/munged.pid" "$MUNGED" "$MUN/munge.key"; }
mariadbd_pid() { pid_alive "$DB/mariadbd.pid" "$MARIADBD" "$ETC/my.cnf"; }
slurmdbd_pid() { pid_alive "$SL/slurmdbd.pid" "$SLURMDBD"; }
slurmctld_pid() { pid_alive "$SL/slurmctld.pid" "$SLURMCTLD" "$CONF"; }
slurmd_pid() { pid_alive "$SL/slurmd.pid" "$SLURMD" "$CONF"; }
check_ports() {
  local d port knob
  for d in mariadbd:$DB_PORT:LRMS_SLURM_DB_PORT slurmdbd:$DBD_PORT:LRMS_SLURMDBD_PORT \
    slurmctld:$CTLD_PORT:LRMS_SLURMCTLD_PORT slurmd:$D_PORT:LRMS_SLURMD_PORT; do
    IFS=: read -r d port knob <<<"$d"
    "${d}_pid" >/dev/null && continue
    ! port_open 127.0.0.1 "$port" ||
      die "127.0.0.1:$port (for $d) is in use by another process (choose another $knob)"
  done
}
check_ports
# the marker lets slurm-down.sh --purge delete the dir: only one we made
[ -d "$STATE" ] || { mkdir -p "$STATE" && touch "$STATE/.made-by-slurm-up"; }
chmod 755 "$STATE"
exec 9>"$STATE/lock"
flock -w 120 9 || die "another slurm-up.sh holds $STATE/lock"
check_ports # again: a concurrent slurm-up.sh may just have started something

install -d -m 755 "$ETC" "$STATE/spool" "$STATE/smoke"
install -d -m 700 -o munge -g munge "$MUN"
install -d -m 750 -o mysql -g mysql "$DB"
install -d -m 755 -o slurm -g slurm "$SL" "$SL/statesave"
install -d -m 755 -o munge -g munge /run/munge # the default socket dir, which every client uses

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
# restart_if_changed NAME FILE... : stop daemon NAME (NAME_pid) if one of the FILEs changed; it is
# started again below
restart_if_changed() {
  local d=$1 f pid exe
  shift
  for f in "$@"; do
    [[ " $CHANGED " == *" $f "* ]] || continue
    pid=$("${d}_pid") || return 0
    exe=$(readlink "/proc/$pid/exe")
    log "$f changed: restarting $d (pid $pid)"
    stop_pid "$pid" "${exe% (deleted)}" 30 || die "$d (pid $pid) did not stop"
    return 0
  done
}
STARTED=

# --- munge: key, pid, log in STATE/munge; socket at the default path ----------------------------
[ -s "$MUN/munge.key" ] || head -c 1024 /dev/urandom >"$MUN/munge.key"
chown munge:munge "$MUN/munge.key" && chmod 400 "$MUN/munge.key"
munge_ok() { munge -n | unmunge >/dev/null; }
if munged_pid >/dev/null; then
  :
elif munge_ok 2>/dev/null; then
  log "a munged that is not ours serves /run/munge/munge.socket.2: using it"
else
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  setpriv --reuid munge --regid munge --init-groups /usr/sbin/munged --key-file="$MUN/munge.key" \
    --pid-file="$MUN/munged.pid" --log-file="$MUN/munged.log" --seed-file="$MUN/munged.seed" \
    </dev/null 9>&- >>"$MUN/munged.out" 2>&1 || fail "$MUN/munged.log" "munged exited with $?"
  STARTED+=" munged"
fi
wait_for 10 "munge credentials" munge_ok || fail "$MUN/munged.log" "munge -n | unmunge fails"

# --- MariaDB: datadir, socket and logs in STATE/mysql, TCP on 127.0.0.1 -------------------------
put "$ETC/my.cnf" <<EOF
# written by test/services/slurm-up.sh: the slurmdbd's database, loopback only
[mysqld]
user=mysql
datadir=$DB/data
socket=$DB/mysqld.sock
pid-file=$DB/mariadbd.pid
log-error=$DB/mariadbd.log
port=$DB_PORT
bind-address=127.0.0.1
skip-name-resolve
skip-log-bin
performance_schema=OFF
# the values slurmdbd recommends (it warns about smaller ones); the pool is allocated lazily
innodb_buffer_pool_size=1024M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
[client]
socket=$DB/mysqld.sock
EOF
restart_if_changed mariadbd my.cnf
db_ok() { mariadb-admin --defaults-file="$ETC/my.cnf" -u root ping; }
if ! mariadbd_pid >/dev/null; then
  if [ ! -d "$DB/data/mysql" ]; then
    mariadb-install-db --defaults-file="$ETC/my.cnf" --auth-root-authentication-method=socket \
      --skip-test-db >"$DB/install-db.log" 2>&1 || fail "$DB/install-db.log" "mariadb-install-db failed"
  fi
  setsid "$MARIADBD" --defaults-file="$ETC/my.cnf" </dev/null 9>&- >>"$DB/mariadbd.out" 2>&1 &
  wait_for 60 "MariaDB" db_ok || fail "$DB/mariadbd.log" "MariaDB did not start"
  STARTED+=" mariadbd"
fi
[ -s "$DB/slurm-password" ] ||
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 20 >"$DB/slurm-password")
DB_PASS=$(cat "$DB/slurm-password")
if [[ $STARTED == *mariadbd* ]]; then # (again) after each start: cheap, and repairs a lost grant
  mariadb --defaults-file="$ETC/my.cnf" -u root <<EOF || fail "$DB/mariadbd.log" "cannot add DB user slurm"
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
fi

# --- configs --------------------------------------------------------------------------------------
umask 077 # slurmdbd.conf holds the DB password; slurmdbd insists on mode 600, owner SlurmUser
put "$ETC/slurmdbd.conf" <<EOF
# written by test/services/slurm-up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=slurm
DebugLevel=info
LogFile=$SL/slurmdbd.log
PidFile=$SL/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
umask 022
chown slurm:slurm "$ETC/slurmdbd.conf"

# what the node has (slurmd -C: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105"); RealMemory
# above what slurmd detects would drain the node, so 98 % of it
HW=$(slurmd -C | head -1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
MEM=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
if [ -z "$CPUS" ] || [ -z "$MEM" ]; then die "cannot parse 'slurmd -C': $HW"; fi
MEM=$((MEM * 98 / 100))
HW=$(sed -e 's/^NodeName=[^ ]* //' -e 's/ *RealMemory=[0-9]*//' <<<"$HW")
REAL_CPUS=$CPUS
OVERRIDES=
CONSTRAIN_CORES=yes
if [ "$SLOTS" -gt "$CPUS" ]; then
  # declare more CPUs than the machine has: slurmd accepts it with config_overrides; cpusets of
  # CPUs that do not exist cannot be made, so cores are not constrained
  CPUS=$SLOTS
  HW="CPUs=$SLOTS Boards=1 SocketsPerBoard=1 CoresPerSocket=$SLOTS ThreadsPerCore=1"
  OVERRIDES="SlurmdParameters=config_overrides"
  CONSTRAIN_CORES=no
fi

if [ "$MEMLIMIT" = auto ]; then
  MEMLIMIT=poll
  [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] && MEMLIMIT=cgroup
fi
if [ "$MEMLIMIT" = cgroup ]; then
  # the kernel's cgroup v1 memory controller enforces --mem: the job ends as OUT_OF_MEMORY
  track="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherParams=NoShared"
  put "$ETC/cgroup.conf" <<EOF
# written by test/services/slurm-up.sh
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=$CONSTRAIN_CORES
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
EOF
else
  # no cgroups: slurmstepd samples the RSS every second (task=1) and kills a step above --mem
  track="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherParams=OverMemoryKill,NoShared"
  rm -f "$ETC/cgroup.conf"
fi

# --- GPUs that count but do not exist -------------------------------------------------------------
# SLURM 22.05's gres/gpu drops a GPU without File= ("Removing file-less GPU gpu:(null) from final
# GRES list", the node then goes INVAL), and a regular file is logged as "not a valid character or
# block device" at every slurmd start. Character devices with /dev/null's numbers are neither.
GRES_NODE= GRES_TYPES=
if [ "$GPUS" -gt 0 ]; then
  install -d -m 755 "$STATE/gpu"
  for ((i = 0; i < GPUS; i++)); do
    f=$STATE/gpu/nvidia$i
    [ -c "$f" ] && continue
    rm -f "$f"
    mknod -m 666 "$f" c 1 3 2>/dev/null || { log "mknod $f failed: a regular file instead" && touch "$f"; }
  done
  GRES_NODE="Gres=gpu:$GPUS"
  GRES_TYPES="GresTypes=gpu
# allocated GPUs reach accounting (sacct's AllocTRES gres/gpu=N) only if tracked
AccountingStorageTRES=gres/gpu"
  put "$ETC/gres.conf" <<EOF
# written by test/services/slurm-up.sh: $GPUS GPUs that count, backed by stand-in devices
AutoDetect=off
NodeName=$NODE Name=gpu File=$STATE/gpu/nvidia[0-$((GPUS - 1))]
EOF
else
  rm -f "$ETC/gres.conf"
fi

put "$CONF" <<EOF
# written by test/services/slurm-up.sh: single-node test cluster, loopback only
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SL/statesave
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/slurmctld.log
SlurmdLogFile=$SL/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$track
$OVERRIDES
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job without --mem would get the whole node's memory
DefMemPerCPU=256
MaxJobCount=20000
MaxArraySize=$MAX_ARRAY
# a job no node of its partition could run (2 nodes, more CPUs than a node has) is refused by
# sbatch, not left pending for ever (PartitionConfig)
EnforcePartLimits=ALL
# partition urgent preempts partition debug: requeued if the job allows it, else PREEMPTED
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
$GRES_TYPES
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
# the default batch_sched_delay=3 delays batch job starts by up to 3 s
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
InactiveLimit=0
KillWait=2
# finished jobs stay in squeue -t all / scontrol show job for 5 min
MinJobAge=300
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=60
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $HW RealMemory=$MEM $GRES_NODE State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=$URGENT Nodes=$NODE MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
EOF
restart_if_changed slurmdbd slurmdbd.conf
restart_if_changed slurmd slurm.conf cgroup.conf gres.conf
restart_if_changed slurmctld slurm.conf cgroup.conf gres.conf
# a config change may change what an over-memory job ends as: probe it again below
[[ $CHANGED == *slurm.conf* || $CHANGED == *cgroup.conf* ]] && rm -f "$STATE/oom-state"

# --- slurmdbd, then the accounting associations ----------------------------------------------
# answers once slurmdbd does: the users of account lrms (none before the cluster is added)
assocs() { sacctmgr -n -P list assoc cluster=$CLUSTER account=$ACCOUNT format=user >"$SL/assocs"; }
if ! slurmdbd_pid >/dev/null; then
  /usr/sbin/slurmdbd </dev/null 9>&- >>"$SL/slurmdbd.out" 2>&1 ||
    fail "$SL/slurmdbd.log" "slurmdbd exited with $?"
  STARTED+=" slurmdbd"
fi
wait_for 60 "slurmdbd" assocs || fail "$SL/slurmdbd.log" "slurmdbd does not answer"

# Users without an association get odd results (their sacct lists nothing). One `sacctmgr load`
# adds the cluster, account lrms and every missing user at once: each separate `sacctmgr add`
# costs about 0.5 s. Everyone's default account is lrms.
have=$(cat "$SL/assocs")
want=() missing=()
for u in $USERS; do
  getent passwd "$u" >/dev/null || continue
  want+=("$u")
  grep -qx "$u" <<<"$have" || missing+=("$u")
done
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "Cluster - '$CLUSTER'"
    echo "Parent - 'root'"
    echo "Account - '$ACCOUNT':Description='effect-lrms tests':Organization='lrms'"
    echo "Parent - '$ACCOUNT'"
    for u in "${want[@]}"; do echo "User - '$u':DefaultAccount='$ACCOUNT'"; done
  } >"$ETC/accounting.cfg"
  sacctmgr -i load "$ETC/accounting.cfg" >"$SL/sacctmgr-load.log" 2>&1 ||
    fail "$SL/sacctmgr-load.log" "sacctmgr load $ETC/accounting.cfg failed"
  assocs && have=$(cat "$SL/assocs")
  for u in "${missing[@]}"; do
    grep -qx "$u" <<<"$have" || fail "$SL/sacctmgr-load.log" "user $u has no association in $ACCOUNT"
  done
  log "accounting: added ${missing[*]} to account $ACCOUNT"
fi

# --- slurmctld, slurmd ----------------------------------------------------------------------------
ctld_ok() { scontrol ping | grep -q 'is UP'; }
if ! slurmctld_pid >/dev/null; then
  /usr/sbin/slurmctld -f "$CONF" </dev/null 9>&- >>"$SL/slurmctld.out" 2>&1 ||
    fail "$SL/slurmctld.log" "slurmctld exited with $?"
  STARTED+=" slurmctld"
fi
wait_for 30 "slurmctld" ctld_ok || fail "$SL/slurmctld.log" "slurmctld does not answer scontrol ping"
if ! slurmd_pid >/dev/null; then
  /usr/sbin/slurmd -f "$CONF" -N "$NODE" </dev/null 9>&- >>"$SL/slurmd.out" 2>&1 ||
    fail "$SL/slurmd.log" "slurmd exited with $?"
  STARTED+=" slurmd"
fi
node_state() { sinfo -h -n "$NODE" -o %T; }
node_ok() { node_state | grep -Eqx 'idle|mixed|allocated|completing'; }
if ! wait_for 5 "node $NODE" node_ok; then
  # a node left DOWN or DRAINED by an earlier run (a kill that failed, a slurmd restart): resume it
  if node_state | grep -Eq 'drain|down'; then
    log "node $NODE is $(node_state) ($(sinfo -h -n "$NODE" -o %E)): resuming it"
    scontrol update NodeName="$NODE" State=RESUME || true
  fi
  wait_for 30 "node $NODE" node_ok || fail "$SL/slurmd.log" "node $NODE is $(node_state)"
fi

# Jobs that slurm-down.sh could not cancel (slurmctld was stopped) come back as RUNNING without a
# process, and stay so for a long time. Without any slurmstepd of ours, a job that started before
# this run is such a ghost: cancel it.
stepds() {
  local p stepd
  stepd=$(readlink -f /usr/sbin/slurmstepd)
  for p in /proc/[0-9]*; do
    runs "${p#/proc/}" "$stepd" || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF" && echo "${p#/proc/}"
  done
  return 0
}
if [[ $STARTED == *slurmd* ]] && [ -z "$(stepds)" ]; then
  before=$(date -d "@$((T0 / 1000))" +%FT%T)
  ghosts=$(squeue -h -t R,CG -o '%i %S' | awk -v t="$before" '$2 < t { print $1 }' | tr '\n' ' ')
  if [ -n "$ghosts" ]; then
    log "cancelling jobs whose processes are gone: $ghosts"
    # shellcheck disable=SC2086
    scancel $ghosts || true
  fi
fi

# --- /etc/slurm/slurm.conf: what SSH sessions (no SLURM_CONF) read --------------------------------
# Only now that the daemons run, and only if the path is free, a dangling symlink or ours.
LINKED=0
if [ "$(readlink "$ETC_CONF" 2>/dev/null)" = "$CONF" ]; then
  LINKED=1
elif [ ! -e "$ETC_CONF" ]; then # also a dangling symlink (a purged state dir)
  mkdir -p "${ETC_CONF%/*}" && ln -sfn "$CONF" "$ETC_CONF" && LINKED=1
else
  log "WARNING: $ETC_CONF is not ours ($(ls -l "$ETC_CONF")); left alone:" \
    "SSH sessions need SLURM_CONF=$CONF"
fi

# --- verify: a job completes and is in sacct; the over-memory probe -------------------------------
terminal() { # terminal JOBID : print State|ExitCode from sacct once the job has ended
  local s
  s=$(sacct -n -P -X -j "$1" -o State,ExitCode 2>/dev/null | head -1)
  case ${s%%|*} in "" | PENDING | RUNNING | REQUEUED | RESIZING | SUSPENDED | REQUEUE_*) return 1 ;; esac
  echo "$s"
}
submit() { # submit NAME SBATCH_ARGS... : print the job id
  sbatch --parsable -J "$1" -D "$STATE/smoke" -o "$STATE/smoke/%x-%j.out" "${@:2}" ||
    fail "$SL/slurmctld.log" "sbatch $1 failed"
}
# A smoke job behind the tests' jobs could wait long: then the checks above suffice.
busy() { squeue -h -t PD,R,CG -o '%T %r' | grep -Eq '^(RUNNING|COMPLETING) |^PENDING (Resources|Priority)$'; }
SMOKE=1
if [ -s "$STATE/oom-state" ] && busy; then
  SMOKE=0
  log "jobs are running or waiting for the node: no smoke job"
fi
if [ $SMOKE -eq 1 ]; then
  S0=$(now_ms)
  smoke=$(submit lrms-smoke -t 1 --wrap 'echo smoke-ok')
  if [ ! -s "$STATE/oom-state" ]; then
    # holds ~300 MB for 5 s: cgroup mode kills it at once, poll mode within a sample or two
    oom=$(submit lrms-oom-probe -t 1 --mem=50M --wrap "perl -e '\$x = \"x\" x (300 << 20); sleep 5'")
  fi
  wait_for 30 "smoke job $smoke in sacct" terminal "$smoke" ||
    fail "$SL/slurmctld.log" "smoke job $smoke did not end"
  r=$(terminal "$smoke")
  [ "$r" = "COMPLETED|0:0" ] || fail "$STATE/smoke/lrms-smoke-$smoke.out" "smoke job $smoke ended as $r"
  grep -qx smoke-ok "$STATE/smoke/lrms-smoke-$smoke.out" || die "smoke job $smoke: no output"
  log "smoke job $smoke: COMPLETED in sacct after $(($(now_ms) - S0)) ms"
  if [ -n "${oom:-}" ]; then
    wait_for 30 "over-memory job $oom in sacct" terminal "$oom" ||
      fail "$SL/slurmd.log" "job $oom did not end"
    r=$(terminal "$oom")
    [ "${r%%|*}" != COMPLETED ] || log "WARNING: job $oom exceeded --mem=50M and COMPLETED"
    echo "${r/|/ }" >"$STATE/oom-state"
    log "over-memory job $oom ($MEMLIMIT): $r after $(($(now_ms) - S0)) ms"
  fi
  rm -f "$STATE"/smoke/lrms-*.out
fi
read -r OOM_STATE OOM_EXIT <"$STATE/oom-state" || die "no $STATE/oom-state"
# a user of an SSH session: no SLURM_CONF, only /etc/slurm/slurm.conf, munge as non-root
if [ $LINKED -eq 1 ]; then
  for u in "${want[@]}"; do
    [ "$u" = root ] && continue
    out=$(setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups \
      env -u SLURM_CONF sinfo -h -p "$PARTITION" -o %P 2>&1) || true
    [ "$out" = "$PARTITION*" ] || die "sinfo as $u without SLURM_CONF failed: $out"
    break
  done
fi

PIDS=()
for d in munged mariadbd slurmdbd slurmctld slurmd; do
  p=$("${d}_pid") || [ $d = munged ] || die "$d is not running any more (see the logs in $STATE)"
  PIDS+=("$p")
done
put "$STATE/env" <<EOF
LRMS_SLURM_CONF=$CONF
LRMS_SLURM_ETC_CONF=$([ $LINKED -eq 1 ] && echo "$ETC_CONF")
LRMS_SLURM_CLUSTER=$CLUSTER
LRMS_SLURM_PARTITION=$PARTITION
LRMS_SLURM_NODE=$NODE
LRMS_SLURM_NODE_CPUS=$CPUS
LRMS_SLURM_NODE_REAL_CPUS=$REAL_CPUS
LRMS_SLURM_NODE_MEMORY_MB=$MEM
LRMS_SLURM_NODE_GPUS=$GPUS
LRMS_SLURM_MAX_ARRAY_SIZE=$MAX_ARRAY
LRMS_SLURM_PREEMPT_PARTITION=$URGENT
LRMS_SLURM_DEF_MEM_PER_CPU_MB=256
LRMS_SLURM_ACCOUNT=$ACCOUNT
LRMS_SLURM_USERS='${want[*]}'
LRMS_SLURM_MEMLIMIT=$MEMLIMIT
LRMS_SLURM_OOM_STATE=$OOM_STATE
LRMS_SLURM_OOM_EXIT_CODE=$OOM_EXIT
LRMS_SLURM_MIN_JOB_AGE=300
LRMS_SLURM_KILL_WAIT=2
LRMS_SLURMCTLD_ADDR=127.0.0.1:$CTLD_PORT
LRMS_SLURMDBD_ADDR=127.0.0.1:$DBD_PORT
LRMS_SLURM_MUNGED_PID=${PIDS[0]}
LRMS_SLURM_MARIADBD_PID=${PIDS[1]}
LRMS_SLURMDBD_PID=${PIDS[2]}
LRMS_SLURMCTLD_PID=${PIDS[3]}
LRMS_SLURMD_PID=${PIDS[4]}
LRMS_SLURM_DIR=$STATE
LRMS_SLURM_LOG_DIR=$SL
EOF
how="already running"
[ -z "$STARTED" ] || how="started$STARTED"
log "slurm $how: node $NODE ($CPUS CPUs, $MEM MB), verified in $(($(now_ms) - T0)) ms; env: $STATE/env"
