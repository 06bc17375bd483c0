# shellcheck shell=bash disable=SC2034 # the settings are used by the scripts that source this
# Settings and helpers shared by lsf-up.sh, lsf-down.sh and lsf-record.sh (the OpenLava 3.3.3 test
# cluster). Sourced after lib.sh, not executed (its name must not match *-up.sh / *-down.sh: up.sh
# and down.sh run every such file).
#   LRMS_LSF_PREFIX  install tree of the build (/opt/openlava-3.3.3): bin/ sbin/ lib/ share/
#   LRMS_LSF_DIR     state dir (/tmp/effect-lrms-lsf): etc/ (LSF_ENVDIR), work/ (lsb.events,
#                    lsb.acct), log/, run/ (pid files), build/ (build logs), env
#   LRMS_LSF_ADMIN   cluster administrator, a system user (openlava); mbatchd runs as it

LSF_VERSION=3.3.3
LSF_PREFIX=${LRMS_LSF_PREFIX:-/opt/openlava-3.3.3}
LSF_STATE=${LRMS_LSF_DIR:-/tmp/effect-lrms-lsf}
LSF_ADMIN=${LRMS_LSF_ADMIN:-openlava}
case $LSF_PREFIX in /?*) ;; *) die "LRMS_LSF_PREFIX must be an absolute path, not '$LSF_PREFIX'" ;; esac
case $LSF_STATE in /?*) ;; *) die "LRMS_LSF_DIR must be an absolute path, not '$LSF_STATE'" ;; esac
LSF_PREFIX=${LSF_PREFIX%/} LSF_STATE=${LSF_STATE%/}
LSF_BIN=$LSF_PREFIX/bin
LSF_SBIN=$LSF_PREFIX/sbin
LSF_ETC=$LSF_STATE/etc
LSF_WORK=$LSF_STATE/work
LSF_LOGDIR=$LSF_STATE/log
LSF_RUN=$LSF_STATE/run
# the commands go on every user's default PATH (also a non-login `ssh host bjobs`) as symlinks;
# the library reads /etc/lsf.conf when LSF_ENVDIR is unset
LSF_LINKDIR=/usr/local/bin
LSF_ETC_CONF=/etc/lsf.conf
# the daemons, in the order they are stopped (sbatchd first: it restarts a dead mbatchd)
LSF_DAEMONS="sbatchd mbatchd res lim pim"

# lsf_scan : "PID EXE" of every process running a binary of $LSF_SBIN that was started for this
# state dir (LSF_ENVDIR=$LSF_ETC in its environment, inherited by mbatchd, pim and the job
# sbatchd/res children), so another OpenLava cluster with the same prefix is never touched
lsf_scan() {
  local pid exe
  find /proc/[0-9]*/exe -maxdepth 0 -lname "$LSF_SBIN/*" -printf '%h %l\n' 2>/dev/null |
    sed 's|^/proc/||; s| (deleted)$||' |
    while read -r pid exe; do
      if grep -qzxF "LSF_ENVDIR=$LSF_ETC" "/proc/$pid/environ" 2>/dev/null; then echo "$pid $exe"; fi
    done
  return 0
}

# lsf_ppid PID : parent pid (from /proc/PID/stat; the command name may contain blanks)
lsf_ppid() {
  local l
  { read -r l <"/proc/$1/stat"; } 2>/dev/null || return 1
  l=${l##*) }
  l=${l#* }
  echo "${l%% *}"
}

# lsf_main_pid NAME [SCAN] : the daemon NAME itself, not one of its children. lim, res and
# sbatchd have a parent outside $LSF_SBIN (init); mbatchd (child of sbatchd) and pim (child of
# lim) have one that is not the same binary. sbatchd forks a child per job (which runs the job
# under a `res` wrapper), mbatchd forks children for queries.
lsf_main_pid() {
  local want=$LSF_SBIN/$1 pid exe pp pexe
  while read -r pid exe; do
    [ "$exe" = "$want" ] || continue
    pp=$(lsf_ppid "$pid") || continue
    pexe=$(readlink "/proc/$pp/exe" 2>/dev/null) || pexe=
    pexe=${pexe% (deleted)}
    case $1 in
      mbatchd | pim) [ "$pexe" = "$want" ] && continue ;;
      *) case $pexe in "$LSF_SBIN"/*) continue ;; esac ;;
    esac
    echo "$pid"
    return 0
  done <<<"${2:-$(lsf_scan)}"
  return 0
}

# lsf_status : "lim=PID pim=PID ..." (empty where not running)
lsf_status() {
  local d s
  s=$(lsf_scan)
  for d in lim pim res sbatchd mbatchd; do printf '%s=%s ' "$d" "$(lsf_main_pid $d "$s")"; done
}

# lsf_cmd SECONDS CMD ARGS... : an OpenLava client of $LSF_BIN with this cluster's LSF_ENVDIR, in
# a clean environment, killed after SECONDS (clients retry "... not responding ... still
# trying" without end while lim or mbatchd is down)
lsf_cmd() {
  local t=$1 c=$2
  shift 2
  timeout -k 2 "$t" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
    LSF_ENVDIR="$LSF_ETC" "$LSF_BIN/$c" "$@"
}

# lsf_our_link PATH : true if PATH is a symlink made by lsf-up.sh (into $LSF_BIN)
lsf_our_link() {
  [ -L "$1" ] || return 1
  case $(readlink "$1") in "$LSF_BIN"/*) return 0 ;; esac
  return 1
}

# lsf_unlink : remove our command links and the /etc/lsf.conf symlink (only ours), so that after
# lsf-down.sh `bjobs` says "command not found" at once instead of retrying without end
lsf_unlink() {
  local f n=0
  for f in "$LSF_LINKDIR"/*; do
    lsf_our_link "$f" || continue
    rm -f "$f"
    n=$((n + 1))
  done
  if [ -L "$LSF_ETC_CONF" ] && [ "$(readlink "$LSF_ETC_CONF")" = "$LSF_ETC/lsf.conf" ]; then
    rm -f "$LSF_ETC_CONF"
    n=$((n + 1))
  fi
  [ $n -eq 0 ] || log "removed $n link(s) ($LSF_LINKDIR/b*, ls*; $LSF_ETC_CONF)"
}
