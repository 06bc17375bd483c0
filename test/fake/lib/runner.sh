#!/usr/bin/env bash
# Job runner of the fake schedulers: started detached (own session, stdin /dev/null) by qsub/bsub as
# the submitting user, one per job:   runner.sh JOBDIR
# 1. queued: waits LRMS_FAKE_QUEUE_DELAY, then for free cores under SCHED_DIR/sched.lock (FIFO by id);
# 2. writes JOBDIR/start and runs the job under GNU time in a new session (pgid = job pid);
# 3. polls every 0.1 s: exit, cancel requests (JOBDIR/cancel), the run-time limit; kills with the
#    scheduler's signals, then SIGKILL after the kill delay;
# 4. kills what is left of the job's process group, writes JOBDIR/end, exits (no process lingers).
# Everything it needs is in JOBDIR/submit (written by qsub/bsub); see ../README.md.
set -u
jd=$1
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
declare -A J=()
rec_read "$jd/submit" J || exit 1
fake_init "${J[sched]}"
FAKE_CMD="runner[${J[id]}]"
exec {TICK}<> <(:)             # a pipe nobody writes: read -t on it is a fork-free sleep
nap() { read -r -t "$1" -u "$TICK" _ 2>/dev/null; return 0; }
usec() { us "${1:-$EPOCHREALTIME}"; }
log() { printf '%s %s\n' "$(fmt_time '%F %T' "$(now_s)")" "$*"; }
stop=0
trap 'stop=1' TERM INT HUP     # handlers, not "ignore": the job must not inherit ignored signals

finish() { # finish KIND [KEY VALUE]...: write the end record and leave
  local kind=$1
  shift
  rec_write "$jd/end" kind "$kind" end_time "$EPOCHREALTIME" "$@"
  log "end: $kind $*"
  exit 0
}

# ---- 1. queued ------------------------------------------------------------------------------------
need=${J[cores]:-1}
earliest=$(($(usec "${J[ctime]}") + $(usec "${J[queue_delay]:-0.5}")))
while (($(usec) < earliest)); do
  [[ -e $jd/cancel ]] && finish cancel started 0
  ((stop)) && finish lost started 0
  nap 0.05
done

try_allocate() { # under the lock: FIFO, then the lowest free core numbers
  local cap f id d c
  cap=${J[capacity]}
  local -A used=()
  for f in "$SCHED_DIR"/live/*; do
    [[ -e $f ]] || continue
    id=${f##*/}
    [[ $id == "${J[id]}" ]] && continue
    d=$SCHED_DIR/jobs/$id
    [[ -e $d/end ]] && continue
    runner_alive "$d" || continue
    if [[ -e $d/start ]]; then
      local -A s=()
      rec_read "$d/start" s
      for c in ${s[cores_list]//,/ }; do used[$c]=1; done
    elif ((id < J[id])) && [[ ! -e $d/cancel ]]; then
      local -A q=()
      rec_read "$d/submit" q
      ((${q[cores]:-1} <= cap)) && return 1 # an older job that can run goes first
    fi
  done
  local -a free=()
  for ((c = 0; c < cap; c++)); do [[ -z ${used[$c]:-} ]] && free+=("$c"); done
  ((${#free[@]} >= need)) || return 1
  local IFS=,
  rec_write "$jd/start" start_time "$EPOCHREALTIME" cores_list "${free[*]:0:need}" exec_host "$FAKE_SHORTHOST"
}
exec {LK}>>"$SCHED_DIR/sched.lock"
while :; do
  [[ -e $jd/cancel ]] && finish cancel started 0
  ((stop)) && finish lost started 0
  flock "$LK"
  if try_allocate; then flock -u "$LK"; break; fi
  flock -u "$LK"
  nap 0.2
done
exec {LK}>&-
declare -A S=()
rec_read "$jd/start" S
log "start: cores ${S[cores_list]}"

# ---- 2. run ---------------------------------------------------------------------------------------
umask "${J[umask]:-022}"
mapfile -d '' -t ENVV <"$jd/env"
mapfile -d '' -t ARGV <"$jd/argv"
out=${J[out]:-/dev/null} err=${J[err]:-/dev/null}
if [[ ${J[spool]:-0} == 1 ]]; then
  out_final=$out err_final=$err
  out=$jd/spool.out
  [[ $err == "$out_final" ]] && err=$out || err=$jd/spool.err
fi
fail() { # the job could not be started: report like the scheduler would, in its stderr file
  printf '%s\n' "$1" >>"$err" 2>/dev/null
  finish failed started 1 exit_code "${2:-1}" signal 0 cpu 0 maxrss_kb 0 wall 0
}
cd "${J[workdir]}" 2>/dev/null || fail "${J[cwd_error]:-cannot chdir to ${J[workdir]}}" 1
open_out() { # open_out FD PATH MODE
  if [[ $3 == append ]]; then eval "exec $1>>\"\$2\""; else eval "exec $1>\"\$2\""; fi
}
{ open_out 3 "$out" "${J[out_mode]:-trunc}"; } 2>/dev/null || fail "cannot open $out" 1
if [[ $err == "$out" ]]; then exec 4>&3
else { open_out 4 "$err" "${J[err_mode]:-trunc}"; } 2>/dev/null || fail "cannot open $err" 1; fi
exec 5<"${J[stdin]:-/dev/null}" 2>/dev/null || fail "${J[stdin]}: No such file or directory" 1
rm -f "$jd/pgid" "$jd/usage"
env -i "${ENVV[@]}" "${J[time_cmd]:-/usr/bin/time}" -o "$jd/usage" -f 'FAKE_TIME %e %U %S %M %x' \
  /bin/sh -c 'echo $$ >"$0" && exec /usr/bin/setsid "$@"' "$jd/pgid" "${ARGV[@]}" <&5 >&3 2>&4 3>&- 4>&- 5<&- &
tpid=$!
exec 3>&- 4>&- 5<&-
pgid=
for ((i = 0; i < 100; i++)); do # the job writes its pid (= its process group and session) first
  [[ -s $jd/pgid ]] && read -r pgid <"$jd/pgid" && [[ -n $pgid ]] && break
  [[ -e /proc/$tpid ]] || break
  nap 0.02
done
log "running: time pid $tpid, job pgid ${pgid:-?}"

# ---- 3. watch -------------------------------------------------------------------------------------
signal_job() { local s; for s in "$@"; do [[ -n $pgid ]] && kill -"$s" -- "-$pgid" 2>/dev/null; done; }
deadline=
[[ -n ${J[walltime]:-} ]] && deadline=$(($(usec "${S[start_time]}") + J[walltime] * 1000000))
kill_delay=$(usec "${J[kill_delay]:-2}")
kind=normal kill_at=
while :; do
  line=
  read -r line 2>/dev/null <"/proc/$tpid/stat" || break
  rest=${line##*) }
  [[ ${rest:0:1} == Z ]] && break
  now=$(usec)
  if [[ -z $kill_at ]]; then
    if [[ -e $jd/cancel ]]; then
      kind=cancel kill_at=$((now + kill_delay))
      signal_job ${J[cancel_signals]:-TERM}
      log "cancel: sent ${J[cancel_signals]:-TERM}"
    elif [[ -n $deadline ]] && ((now >= deadline)); then
      kind=walltime kill_at=$((now + kill_delay))
      signal_job ${J[limit_signals]:-TERM}
      log "run-time limit: sent ${J[limit_signals]:-TERM}"
    elif ((stop)); then
      kind=lost kill_at=$((now + kill_delay))
      signal_job TERM
    fi
  elif ((now >= kill_at)); then
    signal_job KILL
    log "sent KILL"
    kill_at=$((now + 3600000000))
  fi
  nap 0.1
done
wait "$tpid"
trc=$?
# ---- 4. clean up, account -------------------------------------------------------------------------
if [[ -n $pgid ]] && group_alive "$pgid"; then # leftovers of the job (background processes)
  signal_job TERM
  for ((i = 0; i < 10; i++)); do group_alive "$pgid" || break; nap 0.05; done
  signal_job KILL
  log "killed leftover processes of group $pgid"
fi
sig=0 code= cpu=0 maxrss=0
if [[ -r $jd/usage ]]; then
  while IFS= read -r line; do
    case $line in
      'Command terminated by signal '*) sig=${line##* } ;;
      'FAKE_TIME '*)
        read -r _ _ ut st maxrss code <<<"$line"
        cpu=$(awk -v u="$ut" -v s="$st" 'BEGIN { printf "%.2f", u + s }')
        ;;
    esac
  done <"$jd/usage"
fi
if [[ -z $code ]]; then # GNU time gave no report (killed itself?): use its exit status
  if ((trc > 128)); then sig=$((trc - 128)) code=0; else code=$trc; fi
fi
((sig)) && code=0
end=$EPOCHREALTIME
declare -A E=([kind]=$kind [end_time]=$end [exit_code]=$code [signal]=$sig [cpu]=$cpu [maxrss_kb]=$maxrss
  [wall]=$(sub_s "$end" "${S[start_time]}"))
if [[ ${J[spool]:-0} == 1 ]]; then # deliver spooled output before the job shows as finished
  if [[ ${J[report]:-0} == 1 ]]; then # LSF: job report first, then the output
    # shellcheck source=lsf.sh
    . "$FAKE_LIB/lsf.sh"
    { lsf_report J S E && cat "$out"; } >"$out_final.fake$$" 2>/dev/null && mv -f "$out_final.fake$$" "$out_final"
  else
    cat "$out" >"$out_final" 2>/dev/null
  fi
  [[ $err != "$out" ]] && cat "$err" >"$err_final" 2>/dev/null
fi
rec_write "$jd/end" kind "$kind" end_time "$end" started 1 exit_code "$code" signal "$sig" cpu "$cpu" \
  maxrss_kb "$maxrss" wall "${E[wall]}"
log "end: $kind exit $code signal $sig"
