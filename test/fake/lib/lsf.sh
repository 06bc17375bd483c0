# shellcheck shell=bash
# LSF helpers of the fake (sourced by lsf/bin/* and by the runner for the job report): states,
# bjobs -l / bacct -l records, line wrapping. Formats: IBM Spectrum LSF 10.1 and the recorded vectors;
# see ../README.md.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fake_init lsf
LSF_NCPUS=$(cfg LSF_NCPUS 8)
LSF_CLUSTER=$(cfg LSF_CLUSTER fakelsf)
read -ra LSF_QUEUES <<<"$(cfg LSF_QUEUES normal)"
LSF_DASHES=------------------------------------------------------------------------------

lsf_id() { [[ $1 =~ ^([0-9]+)(\[[0-9]+\])?$ ]] && printf '%s' "${BASH_REMATCH[1]}"; }
lsf_t() { fmt_time '%a %b %e %H:%M:%S' "$1"; } # event time stamps, no year (LSB_DISPLAY_YEAR=n)

lsf_status() { # PEND RUN DONE EXIT
  local -n _s=$1
  case ${_s[state]} in
    queued) printf PEND ;;
    running) printf RUN ;;
    *) if [[ ${_s[kind]} == normal && ${_s[exit_code]:-1} == 0 && ${_s[signal]:-0} == 0 ]]; then printf DONE; else printf EXIT; fi ;;
  esac
}

# prtline: LSF's prtLine() over stdin: lines of at most 79 characters, continuations indented by 21
# spaces; a space at a break is dropped
prtline() {
  perl -e '
    local $/; my $s = <STDIN>; my $cursor = 0; my $out = "";
    my @c = split //, $s;
    for (my $i = 0; $i <= $#c; $i++) {
      if ($cursor == 80) { $out .= "\n" . (" " x 21); $cursor = 22; $i++ if $c[$i] eq " "; last if $i > $#c; }
      $out .= $c[$i]; $cursor = 0 if $c[$i] eq "\n"; $cursor++;
    }
    print $out;'
}

lsf_cwd_display() { # CWD <$HOME/...> like LSF: relative to the home dir when below it
  local cwd=$1 home=$2
  if [[ $cwd == "$home" ]]; then printf '$HOME'
  elif [[ $cwd == "$home"/* ]]; then printf '$HOME/%s' "${cwd#"$home"/}"
  else printf '%s' "$cwd"; fi
}
lsf_hosts() { local n=$1 h=$2; if ((n > 1)); then printf '%d*%s' "$n" "$h"; else printf '%s' "$h"; fi; }
lsf_mb() { local kb=${1:-0}; kb=$(((kb + 512) / 1024)); ((kb < 1)) && kb=1; printf '%d' "$kb"; }
lsf_term_reason() { # TERM_* keyword and text of a killed job, empty otherwise
  local -n _r=$1
  case ${_r[kind]:-} in
    cancel)
      if [[ ${_r[cancel_uid]:-${_r[uid]}} != "${_r[uid]}" ]]; then printf 'TERM_ADMIN: job killed by root or LSF administrator'
      else printf 'TERM_OWNER: job killed by owner'; fi
      ;;
    walltime) printf 'TERM_RUNLIMIT: job killed after reaching LSF run time limit' ;;
    lost) printf 'TERM_ZOMBIE: job exited while LSF is not available' ;;
    failed) printf 'TERM_CWD_NOTEXIST: current working directory is not accessible or does not exist on the execution host' ;;
  esac
}

# lsf_submit_line ARRAY: "<time>: Submitted from host <h>, CWD <..>, ...;" (unwrapped, with "\n")
lsf_submit_line() {
  local -n _b=$1
  local s
  s="$(lsf_t "${_b[ctime]}"): Submitted from host <${_b[host]}>, CWD <${_b[cwd_display]}>"
  [[ -n ${_b[spec_cwd]:-} ]] && s+=", Specified CWD <${_b[spec_cwd]}>"
  [[ -n ${_b[in_spec]:-} ]] && s+=", Input File <${_b[in_spec]}>"
  if [[ -n ${_b[out_spec]:-} ]]; then
    if [[ ${_b[out_mode]} == append ]]; then s+=", Output File <${_b[out_spec]}>"; else s+=", Output File (overwrite) <${_b[out_spec]}>"; fi
  fi
  if [[ -n ${_b[err_spec]:-} ]]; then
    if [[ ${_b[err_mode]} == append ]]; then s+=", Error File <${_b[err_spec]}>"; else s+=", Error File (overwrite) <${_b[err_spec]}>"; fi
  fi
  ((${_b[cores]} > 1)) && s+=", ${_b[cores]} Task(s)"
  [[ -n ${_b[res_req]:-} ]] && s+=", Requested Resources <${_b[res_req]}>"
  [[ -n ${_b[login_shell]:-} ]] && s+=", Login Shell <${_b[login_shell]}>"
  printf '%s;\n' "$s"
}

# lsf_long ARRAY: one bjobs -l record (wrapped), starting with an empty line
lsf_long() {
  local -n _l=$1
  local st t hosts
  st=$(lsf_status "$1")
  hosts=$(lsf_hosts "${_l[cores]}" "${_l[exec_host]:-$FAKE_SHORTHOST}")
  {
    printf '\nJob <%s>,' "${_l[id]}"
    [[ ${_l[name_given]:-0} == 1 ]] && printf ' Job Name <%s>,' "${_l[name]}"
    printf ' User <%s>, Project <default>, Status <%s>, Queue <%s>, Command <%s>\n' "${_l[owner]}" "$st" \
      "${_l[queue]}" "${_l[command]}"
    lsf_submit_line "$1"
    if [[ -n ${_l[walltime_min]:-} ]]; then
      printf '\n RUNLIMIT\n %s.0 min of %s\n' "${_l[walltime_min]}" "${_l[exec_host]:-$FAKE_SHORTHOST}"
    fi
    if [[ -n ${_l[start_time]:-} && ${_l[started]:-1} == 1 ]]; then
      printf '%s: Started %s Task(s) on Host(s) <%s>, Allocated %s Slot(s) on Host(s) <%s>, Execution Home <%s>, Execution CWD <%s>;\n' \
        "$(lsf_t "${_l[start_time]}")" "${_l[cores]}" "$hosts" "${_l[cores]}" "$hosts" "${_l[home]}" "${_l[workdir]}"
    fi
    case $st in
      PEND)
        printf ' PENDING REASONS:\n'
        if (($(us "$(sub_s "$EPOCHREALTIME" "${_l[ctime]}")") < 2000000)); then printf ' New job is waiting for scheduling;\n'
        else printf ' Job slot limit reached: 1 host;\n'; fi
        ;;
      RUN)
        local cpu=0 rss=0 nthr=0 tm r n p pids=()
        if [[ -n ${_l[pgid]:-} ]]; then
          while read -r p tm r n; do
            cpu=$((cpu + $(secs "${tm//-/:}" 2>/dev/null || echo 0))) rss=$((rss + r)) nthr=$((nthr + n))
            pids+=("$p")
          done < <(ps -o pid=,cputime=,rss=,nlwp= -g "${_l[pgid]}" 2>/dev/null)
        fi
        if ((${#pids[@]})); then
          printf '%s: Resource usage collected.\n' "$(lsf_t "$EPOCHREALTIME")"
          printf '                     The CPU time used is %d seconds.\n' "$cpu"
          printf '                     MEM: %d Mbytes;  SWAP: 0 Mbytes;  NTHREAD: %d\n' "$(lsf_mb "$rss")" "$nthr"
          printf '                     PGID: %s;  PIDs: %s \n' "${_l[pgid]}" "${pids[*]}"
          _l[maxrss_kb]=$rss
        fi
        ;;
      DONE | EXIT)
        t=$(lsf_t "${_l[end_time]}")
        printf '%s: ' "$t"
        if [[ $st == DONE ]]; then printf 'Done successfully.'
        elif ((${_l[signal]:-0} > 0)); then printf 'Exited by signal %s.' "${_l[signal]}"
        elif ((${_l[exit_code]:-0} > 0)); then printf 'Exited with exit code %s.' "${_l[exit_code]}"
        else printf 'Exited.'; fi
        if [[ ${_l[started]:-0} == 1 ]]; then printf ' The CPU time used is %.1f seconds.\n' "${_l[cpu]:-0}"; else printf '\n'; fi
        local reason
        reason=$(lsf_term_reason "$1")
        if [[ $st == DONE ]]; then printf '%s: Completed <done>.\n' "$t"
        elif [[ -n $reason ]]; then printf '%s: Completed <exit>; %s.\n' "$t" "$reason"
        else printf '%s: Completed <exit>.\n' "$t"; fi
        ;;
    esac
    if [[ ($st == RUN || ${_l[started]:-0} == 1) && -n ${_l[maxrss_kb]:-} ]]; then
      printf '\n MEMORY USAGE:\n MAX MEM: %d Mbytes;  AVG MEM: %d Mbytes\n' "$(lsf_mb "${_l[maxrss_kb]}")" "$(lsf_mb "${_l[maxrss_kb]}")"
    fi
    printf '\n SCHEDULING PARAMETERS:\n'
    printf '           r15s   r1m  r15m   ut      pg    io   ls    it    tmp    swp    mem\n'
    printf ' loadSched   -     -     -     -       -     -    -     -     -      -      -\n'
    printf ' loadStop    -     -     -     -       -     -    -     -     -      -      -\n'
    local combined='select[type == local] order[r15s:pg]'
    [[ -n ${_l[rusage]:-} ]] && combined+=" rusage[${_l[rusage]}]"
    [[ -n ${_l[span]:-} ]] && combined+=" span[${_l[span]}]"
    printf '\n RESOURCE REQUIREMENT DETAILS:\n Combined: %s\n' "$combined"
    if [[ $st == PEND ]]; then printf ' Effective: -\n'; else printf ' Effective: %s\n' "$combined"; fi
  } | prtline
}

# lsf_acct ARRAY: one bacct -l record (wrapped), ending with the dashes line
lsf_acct() {
  local -n _a=$1
  local st t hosts wait turn hog mem reason
  st=$(lsf_status "$1")
  t=$(lsf_t "${_a[end_time]}")
  hosts=$(lsf_hosts "${_a[cores]}" "${_a[exec_host]:-$FAKE_SHORTHOST}")
  turn=$((${_a[end_time]%.*} - ${_a[ctime]%.*}))
  if [[ ${_a[started]:-0} == 1 ]]; then wait=$((${_a[start_time]%.*} - ${_a[ctime]%.*})); else wait=$turn; fi
  hog=$(awk -v c="${_a[cpu]:-0}" -v t="$turn" 'BEGIN { printf "%.4f", (t > 0 ? c / t : 0) }')
  mem=$(lsf_mb "${_a[maxrss_kb]:-0}")M
  [[ ${_a[started]:-0} == 1 ]] || mem=0M
  reason=$(lsf_term_reason "$1")
  {
    printf '\nJob <%s>,' "${_a[id]}"
    [[ ${_a[name_given]:-0} == 1 ]] && printf ' Job Name <%s>,' "${_a[name]}"
    printf ' User <%s>, Project <default>, Status <%s>, Queue <%s>, Command <%s>\n' "${_a[owner]}" "$st" \
      "${_a[queue]}" "${_a[command]}"
    lsf_submit_line "$1"
    if [[ ${_a[started]:-0} == 1 ]]; then
      printf '%s: Dispatched %s Task(s) on Host(s) <%s>, Allocated %s Slot(s) on Host(s) <%s>, Effective RES_REQ <select[type == local] order[r15s:pg] >;\n' \
        "$(lsf_t "${_a[start_time]}")" "${_a[cores]}" "$hosts" "${_a[cores]}" "$hosts"
    fi
    if [[ $st == DONE ]]; then printf '%s: Completed <done>.\n' "$t"
    elif [[ -n $reason ]]; then printf '%s: Completed <exit>; %s.\n' "$t" "$reason"
    else printf '%s: Completed <exit>.\n' "$t"; fi
    printf '\nAccounting information about this job:\n'
    printf '     CPU_T     WAIT     TURNAROUND   STATUS     HOG_FACTOR    MEM    SWAP\n'
    printf '%10.2f %8d %14d %8s %14.4f %6s %7s\n' "${_a[cpu]:-0}" "$wait" "$turn" "${st,,}" "$hog" "$mem" "$mem"
    printf '%s\n' "$LSF_DASHES"
  } | prtline
}

# lsf_report J S E: the job report LSF writes at the top of the -o/-oo file (LRMS_FAKE_LSF_REPORT=1)
lsf_report() {
  local -n _j=$1 _s=$2 _e=$3
  local result
  if [[ ${_e[kind]} == normal && ${_e[exit_code]} == 0 && ${_e[signal]} == 0 ]]; then result=Done; else result=Exited; fi
  printf 'Sender: LSF System <lsfadmin@%s>\n' "$FAKE_SHORTHOST"
  printf 'Subject: Job %s: <%s> in cluster <%s> %s\n\n' "${_j[id]}" "${_j[command]}" "$LSF_CLUSTER" "$result"
  printf 'Job <%s> was submitted from host <%s> by user <%s> in cluster <%s> at %s\n' "${_j[command]}" \
    "${_j[host]}" "${_j[owner]}" "$LSF_CLUSTER" "$(fmt_time '%a %b %e %H:%M:%S %Y' "${_j[ctime]}")"
  printf 'Job was executed on host(s) <%s>, in queue <%s>, as user <%s> in cluster <%s> at %s\n' \
    "$(lsf_hosts "${_j[cores]}" "$FAKE_SHORTHOST")" "${_j[queue]}" "${_j[owner]}" "$LSF_CLUSTER" \
    "$(fmt_time '%a %b %e %H:%M:%S %Y' "${_s[start_time]}")"
  printf '<%s> was used as the home directory.\n<%s> was used as the working directory.\n' "${_j[home]}" "${_j[workdir]}"
  printf 'Started at %s\nTerminated at %s\nResults reported at %s\n\n' \
    "$(fmt_time '%a %b %e %H:%M:%S %Y' "${_s[start_time]}")" "$(fmt_time '%a %b %e %H:%M:%S %Y' "${_e[end_time]}")" \
    "$(fmt_time '%a %b %e %H:%M:%S %Y' "${_e[end_time]}")"
  printf 'Your job looked like:\n\n------------------------------------------------------------\n# LSBATCH: User input\n%s\n------------------------------------------------------------\n\n' "${_j[command]}"
  if [[ $result == Done ]]; then printf 'Successfully completed.\n'
  elif ((_e[signal] > 0)); then printf 'Exited with signal termination: %s.\n' "${_e[signal]}"
  else printf 'Exited with exit code %s.\n' "${_e[exit_code]}"; fi
  printf '\nResource usage summary:\n\n'
  printf '    CPU time :                                   %.2f sec.\n' "${_e[cpu]}"
  printf '    Max Memory :                                 %d MB\n' "$(lsf_mb "${_e[maxrss_kb]}")"
  printf '    Run time :                                   %d sec.\n' "$(($(us "${_e[wall]}") / 1000000))"
  printf '    Turnaround time :                            %d sec.\n\n' "$(($(us "$(sub_s "${_e[end_time]}" "${_j[ctime]}")") / 1000000))"
  printf 'The output (if any) follows:\n\n'
}
