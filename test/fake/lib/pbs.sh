# shellcheck shell=bash
# PBS/Torque helpers of the fake (sourced by pbs/bin/*): job ids, states, exit status, attributes.
# Formats follow Torque 6 (src/cmds/qstat.c, tracejob) and the recorded vectors; see ../README.md.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
fake_init pbs
PBS_SERVER=$(cfg PBS_SERVER fakepbs)
PBS_NP=$(cfg PBS_NP 8)
read -ra PBS_QUEUES <<<"$(cfg PBS_QUEUES batch)"

# pbs_id ARG: "12", "12.fakepbs" or "12.any.server" -> 12; fails on anything else
pbs_id() { [[ $1 =~ ^([0-9]+)(\..*)?$ ]] && printf '%s' "${BASH_REMATCH[1]}"; }

# pbs_exit_status ARRAY: Torque's exit_status of a finished job (empty: none, e.g. deleted while queued)
#   exit code 0-255; killed by signal N: 256+N; run-time limit: -11 (JOB_EXEC_OVERLIMIT_WT);
#   job lost (runner killed): -3 (JOB_EXEC_RETRY); could not start (bad -d dir...): -1 (JOB_EXEC_FAIL1)
pbs_exit_status() {
  local -n _e=$1
  [[ ${_e[state]} == done ]] || return 0
  case ${_e[kind]} in
    walltime) printf '%s' -11 ;;
    lost) printf '%s' -3 ;;
    failed) printf '%s' -1 ;;
    *)
      [[ ${_e[started]:-0} == 1 ]] || return 0
      if ((${_e[signal]:-0} > 0)); then printf '%d' $((256 + _e[signal])); else printf '%d' "${_e[exit_code]:-0}"; fi
      ;;
  esac
}

pbs_state() { # Q R C
  local -n _s=$1
  case ${_s[state]} in queued) printf Q ;; running) printf R ;; *) printf C ;; esac
}

# pbs_used ARRAY: sets USED_CPUT USED_MEM USED_VMEM USED_WALL (HH:MM:SS / NNNkb), empty while queued
pbs_used() {
  local -n _u=$1
  USED_CPUT= USED_MEM= USED_VMEM= USED_WALL=
  if [[ ${_u[state]} == done ]]; then
    [[ ${_u[started]:-0} == 1 ]] || return 0
    USED_CPUT=$(hms "${_u[cpu]:-0}")
    USED_MEM=${_u[maxrss_kb]:-0}kb
    USED_VMEM=$USED_MEM
    USED_WALL=$(hms "${_u[wall]:-0}")
  elif [[ ${_u[state]} == running ]]; then
    # a live sample of the job's process group, like pbs_mom's periodic update
    local cpu=0 rss=0 t r
    if [[ -n ${_u[pgid]:-} ]]; then
      while read -r t r; do
        cpu=$((cpu + $(secs "${t//-/:}" 2>/dev/null || echo 0))) rss=$((rss + r))
      done < <(ps -o cputime=,rss= -g "${_u[pgid]}" 2>/dev/null)
    fi
    USED_CPUT=$(hms "$cpu")
    USED_MEM=${rss}kb
    USED_VMEM=$USED_MEM
    USED_WALL=$(hms "$(sub_s "$EPOCHREALTIME" "${_u[start_time]}")")
  fi
}

# pbs_attrs ARRAY NAMES VALUES: the job's attributes in Torque 6 qstat -f order
pbs_attrs() {
  local -n _a=$1 _n=$2 _v=$3
  _n=() _v=()
  add() { _n+=("$1") _v+=("$2"); }
  local st es
  st=$(pbs_state "$1")
  es=$(pbs_exit_status "$1")
  pbs_used "$1"
  add Job_Name "${_a[name]}"
  add Job_Owner "${_a[owner]}@${_a[host]}"
  if [[ -n $USED_CPUT ]]; then
    add resources_used.cput "$USED_CPUT"
    add resources_used.energy_used 0
    add resources_used.mem "$USED_MEM"
    add resources_used.vmem "$USED_VMEM"
    add resources_used.walltime "$USED_WALL"
  fi
  add job_state "$st"
  add queue "${_a[queue]}"
  add server "$PBS_SERVER"
  add Checkpoint u
  add ctime "${_a[ctime]}"
  add Error_Path "${_a[host]}:${_a[display_err]}"
  [[ -n ${_a[start_time]:-} && ${_a[started]:-1} == 1 ]] && add exec_host "$(pbs_exec_host "$1")"
  add Hold_Types n
  add Join_Path "${_a[join]:-n}"
  add Keep_Files n
  add Mail_Points a
  local mtime=${_a[end_time]:-${_a[start_time]:-${_a[ctime]}}}
  add mtime "$mtime"
  add Output_Path "${_a[host]}:${_a[display_out]}"
  add Priority 0
  add qtime "${_a[ctime]}"
  add Rerunable True
  [[ -n ${_a[mem_spec]:-} ]] && add Resource_List.mem "${_a[mem_spec]}"
  [[ -n ${_a[ncpus_spec]:-} ]] && add Resource_List.ncpus "${_a[ncpus_spec]}"
  add Resource_List.nodect 1
  add Resource_List.nodes "${_a[nodes_spec]:-1}"
  [[ -n ${_a[select_spec]:-} ]] && add Resource_List.select "${_a[select_spec]}"
  [[ -n ${_a[walltime]:-} ]] && add Resource_List.walltime "$(hms "${_a[walltime]}")"
  [[ -n ${_a[pgid]:-} ]] && add session_id "${_a[pgid]}"
  add Variable_List "${_a[variable_list]}"
  add euser "${_a[owner]}"
  add egroup "${_a[group]}"
  add queue_type E
  add etime "${_a[ctime]}"
  [[ -n $es ]] && add exit_status "$es"
  add submit_args "${_a[submit_args]}"
  if [[ -n ${_a[start_time]:-} && ${_a[started]:-1} == 1 ]]; then
    add start_time "${_a[start_time]}"
    add start_count 1
  fi
  add fault_tolerant False
  [[ $st == C ]] && add comp_time "${_a[end_time]}"
  add job_radix 0
  [[ -n ${_a[wall]:-} ]] && add total_runtime "${_a[wall]}"
  add submit_host "${_a[host]}"
  add init_work_dir "${_a[submit_cwd]}"
  add request_version 1
  unset -f add
}
PBS_TIME_ATTRS=" ctime mtime qtime etime start_time comp_time "

# pbs_exec_host ARRAY: host/0-1 (Torque 6 ranges) or host/3
pbs_exec_host() {
  local -n _x=$1
  local -a c
  IFS=, read -ra c <<<"${_x[cores_list]}"
  if ((${#c[@]} > 1)) && ((c[-1] - c[0] + 1 == ${#c[@]})); then
    printf '%s/%s-%s' "${_x[exec_host]}" "${c[0]}" "${c[-1]}"
  else
    local IFS=+ out=() i
    for i in "${c[@]}"; do out+=("${_x[exec_host]}/$i"); done
    printf '%s' "${out[*]}"
  fi
}

# prt_attrs: Torque's prt_attr() for every NAME\0VALUE\0 pair on stdin: "    NAME = VALUE", long values
# broken after a comma when possible, continuation lines start with a TAB (linesize 77)
prt_attrs() {
  perl -0 -e '
    my $linesize = 77;
    while (defined(my $n = <STDIN>)) {
      chomp $n; my $v = <STDIN>; $v = "" unless defined $v; chomp $v;
      my $start = length($n) + 7; print "    $n = ";
      my @tok = grep { length } split(/,/, $v);   # strtok(): empty tokens vanish
      my $first = 1;
      for my $i (0 .. $#tok) {
        my $c = $tok[$i]; my $l = length($c);
        if ($l + $start < $linesize) { print $c; $start += $l; }
        else {
          if (!$first) { print "\n\t"; $start = 9; }
          for my $ch (split //, $c) { print $ch; if (++$start > $linesize) { $start = 8; print "\n\t"; } }
        }
        if ($i < $#tok) { $first = 0; print ","; }
      }
      print "\n";
    }'
}
