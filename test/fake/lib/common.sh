# shellcheck shell=bash
# Shared helpers of the scripted fake schedulers (sourced by pbs/bin/* and lsf/bin/*).
# State layout, record format and the job life cycle are described in ../README.md.
# Every command sources this file first; nothing here prints unless asked to.

LC_ALL=C # day and month names, sorting (not exported: the job keeps the caller's locale)
FAKE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAKE_HOME=${FAKE_LIB%/lib}
FAKE_ROOT=${LRMS_FAKE_DIR:-/tmp/effect-lrms-fake}
FAKE_UID=$(id -u)
FAKE_USER=$(id -un)
FAKE_HOST=$(hostname -f 2>/dev/null || hostname)
FAKE_SHORTHOST=${FAKE_HOST%%.*}
declare -A FAKE_CFG=()

# fake_init SCHED: state dir $FAKE_ROOT/SCHED with the shared (mode 1777) sub dirs, the job id counter
# (mode 666, taken under flock) and the scheduling lock; loads SCHED_DIR/config (KEY=VALUE lines).
fake_init() {
  SCHED=$1
  SCHED_DIR=$FAKE_ROOT/$SCHED
  local d
  for d in "$FAKE_ROOT" "$SCHED_DIR" "$SCHED_DIR/jobs" "$SCHED_DIR/live"; do
    [[ -d $d ]] && continue
    mkdir -m 1777 "$d" 2>/dev/null || [[ -d $d ]] || fake_die "cannot create $d"
    [[ -O $d ]] && chmod 1777 "$d" # explicit: mkdir -m obeys no umask, but be sure of the sticky bit
  done
  local f
  for f in seq sched.lock; do
    [[ -e $SCHED_DIR/$f ]] || (umask 0 && : >>"$SCHED_DIR/$f") 2>/dev/null
  done
  if [[ -r $SCHED_DIR/config ]]; then
    local line
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
      FAKE_CFG[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done <"$SCHED_DIR/config"
  fi
}

# cfg NAME DEFAULT: environment LRMS_FAKE_NAME, else NAME from SCHED_DIR/config, else DEFAULT
cfg() {
  local v="LRMS_FAKE_$1"
  if [[ -n ${!v:-} ]]; then printf '%s' "${!v}"
  elif [[ -n ${FAKE_CFG[$1]:-} ]]; then printf '%s' "${FAKE_CFG[$1]}"
  else printf '%s' "$2"; fi
}

fake_die() { printf '%s: %s\n' "${FAKE_CMD:-fake}" "$*" >&2; exit 1; }

# next_id: the next job id of this scheduler, unique across users (counter file under flock)
next_id() {
  local fd n
  exec {fd}<>"$SCHED_DIR/seq" || fake_die "cannot open $SCHED_DIR/seq"
  flock "$fd"
  read -r n <"$SCHED_DIR/seq" || n=0
  [[ $n =~ ^[0-9]+$ ]] || n=0
  n=$((n + 1))
  printf '%d\n' "$n" >"$SCHED_DIR/seq"
  flock -u "$fd"
  exec {fd}>&-
  printf '%d' "$n"
}

# ---- records: one KEY=VALUE a line; backslash and newline escaped as \\ and \n ----------------------
rec_escape() { local v=${1//\\/\\\\}; printf '%s' "${v//$'\n'/\\n}"; }
# rec_write FILE KEY VALUE [KEY VALUE]...: atomically (re)write FILE
rec_write() {
  local file=$1 tmp
  shift
  tmp=$(mktemp "$file.XXXXXX") || return 1
  while (($# >= 2)); do
    printf '%s=%s\n' "$1" "$(rec_escape "$2")"
    shift 2
  done >"$tmp"
  chmod 644 "$tmp"
  mv -f "$tmp" "$file"
}
# rec_read FILE ARRAY: merge FILE's keys into the associative array ARRAY (no eval)
rec_read() {
  local -n _arr=$2
  local line k v
  [[ -r $1 ]] || return 1
  while IFS= read -r line; do
    k=${line%%=*}
    v=${line#*=}
    [[ $v == *\\* ]] && printf -v v '%b' "$v"
    _arr[$k]=$v
  done <"$1"
}

# ---- processes ------------------------------------------------------------------------------------
# proc_start PID: prints the start time (clock ticks after boot) of PID, fails if PID is gone
proc_start() {
  local line rest
  local -a f
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  rest=${line##*) }
  read -ra f <<<"$rest"
  [[ ${f[0]} == Z ]] && return 1 # a zombie is as good as gone
  printf '%s' "${f[19]}"
}
# runner_alive JOBDIR: the job's runner (pid + start time in JOBDIR/runner) still exists
runner_alive() {
  local pid st now
  read -r pid st 2>/dev/null <"$1/runner" || return 1
  now=$(proc_start "$pid") || return 1
  [[ $now == "$st" ]]
}
# group_alive PGID: some process is still in process group PGID
group_alive() { kill -0 -- "-$1" 2>/dev/null && ps -o stat= -g "$1" 2>/dev/null | grep -qv '^Z'; }

# ---- time -----------------------------------------------------------------------------------------
now_s() { printf '%s' "${EPOCHREALTIME%.*}"; }
# fmt_time FORMAT EPOCH (strftime via the bash builtin, no fork)
fmt_time() { printf "%($1)T" "${2%.*}"; }
# hms SECONDS: HH:MM:SS (hours may exceed 99)
hms() { local s=${1%.*}; s=${s:-0}; printf '%02d:%02d:%02d' $((s / 3600)) $((s % 3600 / 60)) $((s % 60)); }
# us DECIMAL: seconds (12, 0.5, 1763955000.123456) -> integer microseconds
us() {
  local i=${1%%.*} f=
  [[ $1 == *.* ]] && f=${1#*.}
  f=${f}000000
  printf '%d' $((10#${i:-0} * 1000000 + 10#${f:0:6}))
}
# sub_s A B: A - B (decimal seconds), as a decimal with 3 places, never negative
sub_s() {
  local d=$((($(us "$1") - $(us "$2")) / 1000))
  ((d < 0)) && d=0
  printf '%d.%03d' $((d / 1000)) $((d % 1000))
}
# secs TIMESPEC: [[[DD:]HH:]MM:]SS -> seconds, fails on junk
secs() {
  local IFS=: n=0 p
  local -a parts
  read -ra parts <<<"$1"
  ((${#parts[@]} >= 1 && ${#parts[@]} <= 4)) || return 1
  local mult=(1 60 3600 86400) i=0 j
  for ((j = ${#parts[@]} - 1; j >= 0; j--)); do
    p=${parts[j]}
    [[ $p =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 1
    n=$((n + 10#${p%.*} * mult[i]))
    i=$((i + 1))
  done
  printf '%d' "$n"
}

# ---- jobs -----------------------------------------------------------------------------------------
# job_dir ID: the state dir of job ID (numeric id, suffix already stripped)
job_dir() { printf '%s/jobs/%s' "$SCHED_DIR" "$1"; }

# job_load ID ARRAY: submit, start and end records of job ID merged into ARRAY, plus
#   ARRAY[state] = queued | running | done, ARRAY[dir]; fails for an unknown id.
# A job whose runner died without an end record (killed with SIGKILL, machine restarted) is ended
# here as kind=lost when the caller may write its dir (owner or root), else just shown as done.
job_load() {
  local id=$1
  local -n _j=$2
  local jd
  jd=$(job_dir "$id")
  _j=()
  rec_read "$jd/submit" _j || return 1
  _j[dir]=$jd
  rec_read "$jd/start" _j
  [[ -r $jd/pgid ]] && read -r _j[pgid] <"$jd/pgid"
  if [[ -r $jd/cancel ]]; then
    local -A _c=()
    rec_read "$jd/cancel" _c
    _j[cancel_uid]=${_c[by_uid]} _j[cancel_by]=${_c[by]} _j[cancel_time]=${_c[time]}
  fi
  if rec_read "$jd/end" _j; then
    _j[state]=done
  elif ! runner_alive "$jd"; then
    # the runner writes "end" just before it exits: read again before declaring it lost
    if rec_read "$jd/end" _j; then
      _j[state]=done
    else
      job_mark_lost "$jd" _j
      _j[state]=done
    fi
  elif [[ -n ${_j[start_time]:-} ]]; then
    _j[state]=running
  else
    _j[state]=queued
  fi
  return 0
}
job_mark_lost() {
  local jd=$1
  local -n _l=$2
  _l[kind]=lost _l[end_time]=$EPOCHREALTIME _l[exit_code]= _l[signal]=
  if [[ -w $jd ]]; then
    [[ -n ${_l[pgid]:-} ]] && group_alive "${_l[pgid]}" && kill -KILL -- "-${_l[pgid]}" 2>/dev/null
    [[ -e $jd/end ]] || rec_write "$jd/end" kind lost end_time "${_l[end_time]}"
  fi
}

# live_ids: ids of jobs still listed by the status commands (queued, running, or finished less than
# keep seconds ago), ascending; purges older entries the caller may delete.
live_ids() {
  local keep f id now
  local -a ids=()
  keep=$(cfg KEEP 300)
  now=$(now_s)
  for f in "$SCHED_DIR"/live/*; do
    [[ -e $f ]] || continue
    id=${f##*/}
    if [[ -e $SCHED_DIR/jobs/$id/end ]]; then
      local -A e=()
      rec_read "$SCHED_DIR/jobs/$id/end" e
      if ((now - ${e[end_time]%.*} >= keep)); then
        rm -f "$f" 2>/dev/null
        continue
      fi
    fi
    ids+=("$id")
  done
  ((${#ids[@]})) && printf '%s\n' "${ids[@]}" | sort -n
}

# job_visible ID: finished jobs disappear from the status commands keep seconds after their end
job_visible() {
  local -n _v=$1
  [[ ${_v[state]} != done ]] && return 0
  (($(now_s) - ${_v[end_time]%.*} < $(cfg KEEP 300)))
}

# request_cancel JOBDIR REASON: ask the job's runner to end the job (it polls JOBDIR/cancel)
request_cancel() {
  rec_write "$1/cancel" reason "$2" time "$EPOCHREALTIME" by "$FAKE_USER" by_uid "$FAKE_UID"
}

# may_control ARRAY: the caller owns the job or is root
may_control() { local -n _m=$1; [[ $FAKE_UID == 0 || $FAKE_UID == "${_m[uid]}" ]]; }

# start_runner JOBDIR: the runner in its own session, detached; records its pid and start time
start_runner() {
  local jd=$1 pid st
  setsid bash "$FAKE_LIB/runner.sh" "$jd" </dev/null >>"$jd/runner.log" 2>&1 &
  pid=$!
  st=$(proc_start "$pid") || st=0
  printf '%s %s\n' "$pid" "$st" >"$jd/runner"
}

# save_env FILE: the caller's exported environment, NUL separated
save_env() { (umask 077 && env -0 >"$1"); }

# mem_kb VALUE: Torque/LSF memory strings (3000mb, 2gb, 512kb, 100) -> KiB; bare number = bytes (PBS)
mem_kb() {
  local v=${1,,} n u
  [[ $v =~ ^([0-9]+)([kmgtp]?)(b|w)?$ ]] || return 1
  n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
  case $u in
    '') printf '%d' $(((n + 1023) / 1024)) ;;
    k) printf '%d' "$n" ;;
    m) printf '%d' $((n * 1024)) ;;
    g) printf '%d' $((n * 1024 * 1024)) ;;
    t) printf '%d' $((n * 1024 * 1024 * 1024)) ;;
    p) printf '%d' $((n * 1024 * 1024 * 1024 * 1024)) ;;
  esac
}
