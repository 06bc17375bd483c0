#!/usr/bin/env bash
# Start (or just verify) the OpenSSH server the SSH tests use: 127.0.0.1 only, users lrmskey (keys
# only) and lrmspw (password), everything else in one state dir. Run as root; idempotent.
#   LRMS_SSHD_PORT  listen port (2222)
#   LRMS_SSHD_DIR   state dir (/tmp/effect-lrms-sshd): keys, configs, log, pid file, env
# Writes STATE/env (KEY=VALUE, see README.md) once key login, password login and sftp work.
set -euo pipefail
SCRIPT_NAME=sshd-up
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$(now_ms)
umask 077 # keys, password and env: root only (the tests run as root)
PORT=${LRMS_SSHD_PORT:-2222}
STATE=${LRMS_SSHD_DIR:-/tmp/effect-lrms-sshd}
KEY_USER=lrmskey
PW_USER=lrmspw
SSHD=/usr/sbin/sshd

[ "$(id -u)" -eq 0 ] || die "must run as root (useradd, sshd)"
case $STATE in /?*) ;; *) die "LRMS_SSHD_DIR must be an absolute path, not '$STATE'" ;; esac
ensure_pkgs openssh-server openssh-client openssh-sftp-server sshpass
for bin in $SSHD ssh ssh-keygen sftp sshpass useradd chpasswd flock; do
  command -v "$bin" >/dev/null || die "missing binary: $bin"
done
# PID: our running sshd, if any; otherwise the port must be free
check_running() {
  PID=$(pid_alive "$STATE/sshd.pid" $SSHD "$STATE/sshd_config") && return 0
  PID=
  ! port_open 127.0.0.1 "$PORT" ||
    die "127.0.0.1:$PORT is in use by another process (choose another LRMS_SSHD_PORT)"
}
check_running
# the marker lets sshd-down.sh --purge delete the dir: only one we made
[ -d "$STATE" ] || { mkdir -p "$STATE" && touch "$STATE/.made-by-sshd-up"; }
mkdir -p "$STATE/client"
exec 9>"$STATE/lock"
flock -w 60 9 || die "another sshd-up.sh holds $STATE/lock"
check_running # again: a concurrent sshd-up.sh may just have started it

# put FILE : atomically replace FILE with stdin when the content differs (readers never see a
# half-written file); the names of changed files collect in CHANGED.
CHANGED=
put() {
  cat >"$1.new"
  if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1" && CHANGED+=" ${1##*/}"; fi
}

# --- users ------------------------------------------------------------------------------------
for u in $KEY_USER $PW_USER; do
  getent passwd "$u" >/dev/null && continue
  useradd --create-home --shell /bin/bash "$u"
  echo "$u" >>"$STATE/created-users" # sshd-down.sh --purge deletes these
  log "created user $u"
done
if [ ! -s "$STATE/password" ]; then
  pw=$(head -c 32 /dev/urandom | base64 | tr -dc A-Za-z0-9)
  echo "${pw:0:20}" >"$STATE/password"
fi
PASSWORD=$(cat "$STATE/password")
echo "$PW_USER:$PASSWORD" | chpasswd
usermod -p '*' $KEY_USER # no password, but not locked ('!' would also refuse keys)

# --- keys: one host key, three client keys (all authorized for lrmskey) ------------------------
keygen() { [ -s "$1" ] || ssh-keygen -q -N '' -C "$2" -t "${1##*_}" -f "$1"; }
keygen "$STATE/ssh_host_ed25519" lrms-test-host
for t in ed25519 rsa ecdsa; do keygen "$STATE/client/id_$t" "$KEY_USER-$t"; done
KEY_HOME=$(getent passwd $KEY_USER | cut -d: -f6)
install -d -m 700 -o $KEY_USER -g "$(id -g $KEY_USER)" "$KEY_HOME/.ssh"
cat "$STATE"/client/id_{ed25519,rsa,ecdsa}.pub | put "$KEY_HOME/.ssh/authorized_keys"
chown $KEY_USER "$KEY_HOME/.ssh/authorized_keys"
HOST_KEY=$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519.pub")
echo "[127.0.0.1]:$PORT $HOST_KEY" | put "$STATE/known_hosts"

# --- configs ----------------------------------------------------------------------------------
put "$STATE/sshd_config" <<EOF
# written by test/services/sshd-up.sh: throwaway sshd for the effect-lrms tests, loopback only
ListenAddress 127.0.0.1
Port $PORT
HostKey $STATE/ssh_host_ed25519
PidFile $STATE/sshd.pid
AllowUsers $KEY_USER $PW_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
PrintMotd no
PrintLastLog no
AllowTcpForwarding yes
X11Forwarding no
AcceptEnv LANG LC_*
# MaxSessions 10 is OpenSSH's default; the tests check that a connection stays below it.
MaxSessions 10
MaxStartups 100:30:200
LoginGraceTime 30
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF

common="  HostName 127.0.0.1
  Port $PORT
  UserKnownHostsFile $STATE/known_hosts
  StrictHostKeyChecking yes
  ConnectTimeout 10"
put "$STATE/ssh_config" <<EOF
# ssh -F $STATE/ssh_config lrms-key|lrms-pw|lrms-jump CMD
Host lrms-key
$common
  User $KEY_USER
  IdentityFile $STATE/client/id_ed25519
  IdentitiesOnly yes
  BatchMode yes
Host lrms-pw
$common
  User $PW_USER
  PubkeyAuthentication no
  PreferredAuthentications password
Host lrms-jump
$common
  User $KEY_USER
  IdentityFile $STATE/client/id_ed25519
  IdentitiesOnly yes
  BatchMode yes
  ProxyJump lrms-key
EOF

# --- start, reload or leave alone ---------------------------------------------------------------
mkdir -p /run/sshd # privilege separation dir (compiled-in path)
if [ -n "$PID" ]; then
  if [[ $CHANGED == *sshd_config* ]]; then
    $SSHD -t -f "$STATE/sshd_config" || die "sshd -t rejects $STATE/sshd_config"
    kill -HUP "$PID" # sshd re-executes itself: same pid, new config
    sleep 0.3
    how="reloaded (config changed)"
  else
    how="already running"
  fi
else
  $SSHD -t -f "$STATE/sshd_config" || die "sshd -t rejects $STATE/sshd_config"
  # daemon mode: forks, detaches from our stdio and session, writes the pid file after bind();
  # umask 022 as on a real server (the sessions inherit it)
  (umask 022 && exec $SSHD -f "$STATE/sshd_config" -E "$STATE/sshd.log" </dev/null >/dev/null 2>&1) ||
    die "$SSHD exited with $? (see $STATE/sshd.log)"
  wait_for 10 "the sshd pid file" pid_alive "$STATE/sshd.pid" $SSHD ||
    { tail -5 "$STATE/sshd.log" >&2; die "sshd did not start"; }
  PID=$(cat "$STATE/sshd.pid")
  how="started"
fi
wait_for 10 "127.0.0.1:$PORT" port_open 127.0.0.1 "$PORT" || die "sshd (pid $PID) is not listening"

# --- verify, in parallel: the three key types, the password, sftp -------------------------------
names=() pids=()
verify() { # verify WHAT CMD... : run CMD in the background; checked below
  "${@:2}" </dev/null >"$STATE/verify.${#pids[@]}.log" 2>&1 &
  pids+=($!) names+=("$1")
}
direct=(ssh -p "$PORT" -o BatchMode=yes -o UserKnownHostsFile="$STATE/known_hosts" -o IdentitiesOnly=yes)
verify "key login (ed25519)" ssh -F "$STATE/ssh_config" lrms-key true
verify "key login (rsa)" "${direct[@]}" -i "$STATE/client/id_rsa" $KEY_USER@127.0.0.1 true
verify "key login (ecdsa)" "${direct[@]}" -i "$STATE/client/id_ecdsa" $KEY_USER@127.0.0.1 true
export SSHPASS=$PASSWORD
verify "password login" sshpass -e ssh -F "$STATE/ssh_config" lrms-pw true
verify "sftp" sftp -q -b <(echo pwd) -F "$STATE/ssh_config" lrms-key
failed=
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" && continue
  failed+=" ${names[$i]},"
  sed 's/^/  | /' "$STATE/verify.$i.log" >&2
done
rm -f "$STATE"/verify.*.log
[ -z "$failed" ] || die "failed:${failed%,} (sshd pid $PID, log $STATE/sshd.log)"

put "$STATE/env" <<EOF
LRMS_SSH_HOST=127.0.0.1
LRMS_SSH_PORT=$PORT
LRMS_SSH_KEY_USER=$KEY_USER
LRMS_SSH_KEY=$STATE/client/id_ed25519
LRMS_SSH_RSA_KEY=$STATE/client/id_rsa
LRMS_SSH_ECDSA_KEY=$STATE/client/id_ecdsa
LRMS_SSH_PW_USER=$PW_USER
LRMS_SSH_PASSWORD=$PASSWORD
LRMS_SSH_KNOWN_HOSTS=$STATE/known_hosts
LRMS_SSH_CONFIG=$STATE/ssh_config
LRMS_SSH_HOST_KEY='$HOST_KEY'
LRMS_SSHD_PID=$PID
LRMS_SSHD_DIR=$STATE
LRMS_SSHD_LOG=$STATE/sshd.log
EOF
log "sshd $how: pid $PID on 127.0.0.1:$PORT, verified in $(($(now_ms) - T0)) ms; env: $STATE/env"
