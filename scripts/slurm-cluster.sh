#!/usr/bin/env bash
# Start/stop a real single-node SLURM cluster (with accounting) on this machine, for tests.
#
#   scripts/slurm-cluster.sh install   # apt-get the Debian packages that are missing
#   scripts/slurm-cluster.sh start     # write configs, start munged, mariadbd, slurmdbd, slurmctld, slurmd
#   scripts/slurm-cluster.sh status    # sinfo + sacct check; exit 0 only when the cluster is up
#   scripts/slurm-cluster.sh stop      # stop the daemons (reverse order), remove their pid files
#   scripts/slurm-cluster.sh restart   # stop + start
#
# Needs root, no systemd (daemons are started directly). See scripts/README.md.
set -euo pipefail

CLUSTER="${DIFFSEP_SLURM_CLUSTER:-diffsep}"
ACCOUNT="${DIFFSEP_SLURM_ACCOUNT:-diffsep}"
DB_PASS="${DIFFSEP_SLURM_DB_PASS:-slurmdb-local}"
MEM_PERCENT="${DIFFSEP_SLURM_MEM_PERCENT:-90}"
START_TIMEOUT="${DIFFSEP_SLURM_START_TIMEOUT:-60}"
# Seconds a requeued job waits before it may start again (SLURM default 120).
CRED_EXPIRE="${DIFFSEP_SLURM_CRED_EXPIRE:-10}"
# Extra users (space separated) to add to the accounting account; root and $SUDO_USER always are.
EXTRA_USERS="${DIFFSEP_SLURM_USERS:-}"

PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

CONF_DIR=/etc/slurm
SLURM_CONF="$CONF_DIR/slurm.conf"
DBD_CONF="$CONF_DIR/slurmdbd.conf"
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
MYSQL_DATADIR=/var/lib/mysql
MYSQL_RUN=/run/mysqld
MYSQL_SOCK="$MYSQL_RUN/mysqld.sock"
MUNGE_RUN=/run/munge

PID_MUNGED="$MUNGE_RUN/munged.pid"
PID_MARIADB="$MYSQL_RUN/mysqld.pid"
PID_SLURMDBD=/run/slurmdbd.pid
PID_SLURMCTLD=/run/slurmctld.pid
PID_SLURMD=/run/slurmd.pid

LOG_MUNGED="$LOG_DIR/munged.log"
LOG_MARIADB="$LOG_DIR/mariadb.log"
LOG_SLURMDBD="$LOG_DIR/slurmdbd.log"
LOG_SLURMCTLD="$LOG_DIR/slurmctld.log"
LOG_SLURMD="$LOG_DIR/slurmd.log"

# name|pid file|process name (/proc/PID/comm)|log
DAEMONS=(
  "munged|$PID_MUNGED|munged|$LOG_MUNGED"
  "mariadbd|$PID_MARIADB|mariadbd|$LOG_MARIADB"
  "slurmdbd|$PID_SLURMDBD|slurmdbd|$LOG_SLURMDBD"
  "slurmctld|$PID_SLURMCTLD|slurmctld|$LOG_SLURMCTLD"
  "slurmd|$PID_SLURMD|slurmd|$LOG_SLURMD"
)

HOST="$(hostname -s)"

log() { printf '[slurm-cluster] %s\n' "$*" >&2; }

die() {
  log "ERROR: $*"
  exit 1
}

show_logs() {
  # show_logs LOGFILE... : the last lines of each log, for diagnosis
  local f
  for f in "$@"; do
    if [[ -s "$f" ]]; then
      printf -- '----- last lines of %s -----\n' "$f" >&2
      tail -n 25 "$f" >&2 || true
    else
      printf -- '----- %s: missing or empty -----\n' "$f" >&2
    fi
  done
}

fail_start() {
  # fail_start MESSAGE LOGFILE...
  log "ERROR: $1"
  shift
  show_logs "$@"
  exit 1
}

need_root() {
  [[ "$(id -u)" -eq 0 ]] || die "must run as root"
}

# ---------------------------------------------------------------- process helpers
pid_of() {
  # pid_of PIDFILE -> prints pid if the file exists and holds a number
  local f="$1" pid
  [[ -r "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

is_running() {
  # is_running PIDFILE COMM : the pid in PIDFILE is alive and is a COMM process
  local pid comm
  pid="$(pid_of "$1")" || return 1
  [[ -r "/proc/$pid/comm" ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [[ "$comm" == "$2" ]]
}

wait_for() {
  # wait_for SECONDS CMD... : poll CMD every 0.2 s until it succeeds
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

port_listening() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- install
cmd_install() {
  need_root
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "packages already installed: ${PACKAGES[*]}"
    return 0
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
    log "apt-get install failed; running apt-get update and retrying"
    apt-get update -q
    apt-get install "${apt_opts[@]}" "${missing[@]}"
  fi
}

# ---------------------------------------------------------------- configuration
node_line() {
  # NodeName line from `slurmd -C`, with RealMemory lowered to MEM_PERCENT %
  local line mem
  line="$(slurmd -C | grep '^NodeName=' | head -n1)"
  [[ -n "$line" ]] || die "slurmd -C printed no NodeName line"
  mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$line")"
  [[ -n "$mem" ]] || die "no RealMemory in: $line"
  mem=$((mem * MEM_PERCENT / 100))
  sed "s/RealMemory=[0-9]*/RealMemory=$mem/" <<<"$line"
}

write_if_changed() {
  # write_if_changed FILE OWNER MODE  (content on stdin)
  local f="$1" owner="$2" mode="$3" tmp
  tmp="$(mktemp "$f.XXXXXX")"
  cat >"$tmp"
  if [[ -f "$f" ]] && cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$f"
    log "wrote $f"
  fi
  chown "$owner" "$f"
  chmod "$mode" "$f"
}

write_configs() {
  local node cpus mem defmem
  node="$(node_line)"
  cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
  mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
  # jobs that ask for no memory get a per-CPU share, not the whole node (CR_Core_Memory)
  defmem=$((mem / (cpus > 0 ? cpus : 1)))
  install -d -m 0755 "$CONF_DIR"

  write_if_changed "$SLURM_CONF" root:root 0644 <<EOF
# Written by scripts/slurm-cluster.sh (diffsep): single-node test cluster. Edits are overwritten.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job may start again after cred_expire seconds (default 120)
AuthInfo=cred_expire=$CRED_EXPIRE
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5
ReturnToService=2
MailProg=/bin/true
JobRequeue=1
KillWait=5
MinJobAge=60
InactiveLimit=0
Waittime=0
SlurmctldPidFile=$PID_SLURMCTLD
SlurmdPidFile=$PID_SLURMD
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldLogFile=$LOG_SLURMCTLD
SlurmdLogFile=$LOG_SLURMD
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$HOST
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
DefMemPerCPU=$defmem
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  write_if_changed "$DBD_CONF" slurm:slurm 0600 <<EOF
# Written by scripts/slurm-cluster.sh (diffsep). Edits are overwritten.
AuthType=auth/munge
DbdHost=$HOST
DbdPort=6819
SlurmUser=slurm
PidFile=$PID_SLURMDBD
LogFile=$LOG_SLURMDBD
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
}

prepare_system() {
  # the controller host name must resolve
  if ! getent hosts "$HOST" >/dev/null; then
    log "adding $HOST to /etc/hosts"
    printf '127.0.1.1\t%s\n' "$HOST" >>/etc/hosts
  fi
  id slurm >/dev/null 2>&1 || die "user slurm missing (is the slurm package installed?)"
  install -d -o slurm -g slurm -m 0755 "$LOG_DIR" /var/lib/slurm "$STATE_DIR"
  install -d -o root -g root -m 0755 "$SPOOL_DIR"
  local f
  for f in "$LOG_SLURMDBD" "$LOG_SLURMCTLD"; do
    touch "$f" && chown slurm:slurm "$f"
  done
  touch "$LOG_SLURMD"
}

# ---------------------------------------------------------------- daemons
start_munged() {
  if is_running "$PID_MUNGED" munged; then return 0; fi
  [[ -s /etc/munge/munge.key ]] || {
    log "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 0700 /etc/munge
    if command -v mungekey >/dev/null; then
      runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  }
  chown munge:munge /etc/munge/munge.key
  chmod 0600 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 "$MUNGE_RUN"
  install -d -o munge -g munge -m 0700 /var/lib/munge
  touch "$LOG_MUNGED" && chown munge:munge "$LOG_MUNGED"
  rm -f "$PID_MUNGED"
  log "starting munged"
  # munged warns "Logfile is insecure: invalid ownership of /var/log/slurm" (the directory
  # belongs to slurm, not munge); harmless, so that one line is filtered out.
  local err rc=0
  err="$(runuser -u munge -- /usr/sbin/munged --force --log-file="$LOG_MUNGED" --pid-file="$PID_MUNGED" 2>&1)" || rc=$?
  grep -v 'Logfile is insecure' <<<"$err" >&2 || true
  ((rc == 0)) || fail_start "munged did not start (exit $rc)" "$LOG_MUNGED"
  wait_for 15 bash -c 'munge -n | unmunge' || fail_start "munge -n | unmunge fails" "$LOG_MUNGED"
}

mysql_root() {
  mariadb --protocol=socket --socket="$MYSQL_SOCK" -u root "$@"
}

start_mariadb() {
  if ! is_running "$PID_MARIADB" mariadbd; then
    install -d -o mysql -g mysql -m 0755 "$MYSQL_RUN"
    install -d -o mysql -g mysql -m 0755 "$MYSQL_DATADIR"
    touch "$LOG_MARIADB" && chown mysql:mysql "$LOG_MARIADB"
    if [[ ! -d "$MYSQL_DATADIR/mysql" ]]; then
      log "initialising the MariaDB datadir $MYSQL_DATADIR"
      mariadb-install-db --user=mysql --datadir="$MYSQL_DATADIR" --skip-test-db \
        --auth-root-authentication-method=socket >>"$LOG_MARIADB" 2>&1 \
        || fail_start "mariadb-install-db failed" "$LOG_MARIADB"
    fi
    chown -R mysql:mysql "$MYSQL_DATADIR"
    rm -f "$PID_MARIADB"
    log "starting mariadbd (127.0.0.1)"
    setsid /usr/sbin/mariadbd --user=mysql --datadir="$MYSQL_DATADIR" \
      --bind-address=127.0.0.1 --port=3306 --socket="$MYSQL_SOCK" --pid-file="$PID_MARIADB" \
      --log-error="$LOG_MARIADB" --innodb-lock-wait-timeout=900 \
      </dev/null >>"$LOG_MARIADB" 2>&1 &
    disown || true
  fi
  wait_for 30 mariadb-admin --protocol=socket --socket="$MYSQL_SOCK" -u root ping \
    || fail_start "mariadbd is not answering on $MYSQL_SOCK" "$LOG_MARIADB"
  wait_for 10 test -s "$PID_MARIADB" || fail_start "mariadbd wrote no pid file" "$LOG_MARIADB"
  # database user for slurmdbd (idempotent)
  local pass_sql="${DB_PASS//\'/\'\'}"
  mysql_root <<EOF || fail_start "could not create the slurm database user" "$LOG_MARIADB"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass_sql';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass_sql';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
}

start_slurmdbd() {
  if ! is_running "$PID_SLURMDBD" slurmdbd; then
    rm -f "$PID_SLURMDBD"
    log "starting slurmdbd"
    slurmdbd || fail_start "slurmdbd did not start" "$LOG_SLURMDBD"
  fi
  wait_for 30 port_listening 6819 || fail_start "slurmdbd is not listening on port 6819" "$LOG_SLURMDBD" "$LOG_MARIADB"
}

register_accounting() {
  # cluster, account and users in the accounting database (idempotent)
  local out
  wait_for 20 sacctmgr -n -P list cluster format=cluster \
    || fail_start "sacctmgr cannot reach slurmdbd" "$LOG_SLURMDBD"
  out="$(sacctmgr -n -P list cluster format=cluster)"
  if ! grep -qx "$CLUSTER" <<<"$out"; then
    log "registering cluster $CLUSTER in accounting"
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  out="$(sacctmgr -n -P list account format=account)"
  if ! grep -qx "$ACCOUNT" <<<"$out"; then
    log "adding account $ACCOUNT"
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="diffsep tests" Organization=diffsep >/dev/null
  fi
  local users=(root) u
  [[ -n "${SUDO_USER:-}" ]] && users+=("$SUDO_USER")
  # shellcheck disable=SC2206
  [[ -n "$EXTRA_USERS" ]] && users+=($EXTRA_USERS)
  for u in "${users[@]}"; do
    id "$u" >/dev/null 2>&1 || continue
    out="$(sacctmgr -n -P list assoc cluster="$CLUSTER" account="$ACCOUNT" user="$u" format=user)"
    if ! grep -qx "$u" <<<"$out"; then
      log "adding user $u to account $ACCOUNT"
      sacctmgr -i add user "$u" Account="$ACCOUNT" Cluster="$CLUSTER" DefaultAccount="$ACCOUNT" >/dev/null
    fi
  done
}

start_slurmctld() {
  if ! is_running "$PID_SLURMCTLD" slurmctld; then
    rm -f "$PID_SLURMCTLD"
    log "starting slurmctld"
    slurmctld || fail_start "slurmctld did not start" "$LOG_SLURMCTLD"
  fi
  wait_for 30 scontrol ping || fail_start "slurmctld does not answer scontrol ping" "$LOG_SLURMCTLD" "$LOG_SLURMDBD"
}

start_slurmd() {
  if ! is_running "$PID_SLURMD" slurmd; then
    rm -f "$PID_SLURMD"
    log "starting slurmd"
    slurmd || fail_start "slurmd did not start" "$LOG_SLURMD"
  fi
}

node_state() { sinfo -h -o %t 2>/dev/null | head -n1; }

wait_node_up() {
  local deadline=$((SECONDS + START_TIMEOUT)) state resumed=0
  while :; do
    state="$(node_state || true)"
    case "$state" in
      idle | mix | alloc | comp) return 0 ;;
      drain* | drng | down) # down without '*': slurmd answers but the node was left down/drained
        if ((resumed == 0)); then
          log "node is '$state'; resuming it"
          scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
          resumed=1
        fi
        ;;
    esac
    if ((SECONDS >= deadline)); then
      sinfo -R >&2 || true
      fail_start "node did not become idle within ${START_TIMEOUT}s (state '$state')" \
        "$LOG_SLURMD" "$LOG_SLURMCTLD"
    fi
    sleep 0.2
  done
}

all_running() {
  local d name pidf comm logf
  for d in "${DAEMONS[@]}"; do
    IFS='|' read -r name pidf comm logf <<<"$d"
    is_running "$pidf" "$comm" || return 1
  done
}

cmd_start() {
  need_root
  local t0 state
  t0="$(date +%s.%N)"
  if all_running && state="$(node_state)" && [[ -n "$state" ]]; then
    log "already running (node state: $state)"
    return 0
  fi
  cmd_install
  prepare_system
  write_configs
  start_munged
  start_mariadb
  start_slurmdbd
  register_accounting
  start_slurmctld
  start_slurmd
  wait_node_up
  log "cluster '$CLUSTER' up: node $HOST is $(node_state); started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
}

# ---------------------------------------------------------------- stop
stop_daemon() {
  # stop_daemon NAME PIDFILE COMM
  local name="$1" pidf="$2" comm="$3" pid i
  if pid="$(pid_of "$pidf")" && is_running "$pidf" "$comm"; then
    log "stopping $name (pid $pid)"
    local t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do # up to 30 s
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
    fi
    log "$name stopped after $((SECONDS - t0)) s"
  elif [[ -e "$pidf" ]]; then
    log "$name: stale pid file $pidf"
  fi
  # slurmctld/slurmdbd run as 'slurm' and cannot remove their own /run/*.pid
  rm -f "$pidf"
}

cmd_stop() {
  need_root
  local running
  if running="$(squeue -h -t R,CG -o %i 2>/dev/null)" && [[ -n "$running" ]]; then
    log "warning: jobs still running ($(tr '\n' ' ' <<<"$running")); their slurmstepd processes survive slurmd and resume when it restarts"
  fi
  local i d name pidf comm logf
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    IFS='|' read -r name pidf comm logf <<<"${DAEMONS[$i]}"
    stop_daemon "$name" "$pidf" "$comm"
  done
  log "stopped"
}

# ---------------------------------------------------------------- status
cmd_status() {
  local ok=0 d name pidf comm logf
  for d in "${DAEMONS[@]}"; do
    IFS='|' read -r name pidf comm logf <<<"$d"
    if is_running "$pidf" "$comm"; then
      printf '%-10s running (pid %s)\n' "$name" "$(pid_of "$pidf")"
    else
      printf '%-10s NOT running\n' "$name"
      ok=1
    fi
  done
  if sinfo 2>/dev/null; then
    local state
    state="$(node_state)"
    case "$state" in
      idle | mix | alloc | comp) ;;
      *) echo "node state: '$state' (not usable)"; ok=1 ;;
    esac
  else
    echo "sinfo: cluster not reachable"
    ok=1
  fi
  if sacct -n -X -S now-1minutes -o JobID >/dev/null 2>&1; then
    echo "sacct: works (accounting on)"
  else
    echo "sacct: FAILS (no accounting)"
    ok=1
  fi
  return "$ok"
}

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop && cmd_start ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
