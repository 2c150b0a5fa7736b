#!/usr/bin/env bash
# A private one-node Slurm cluster on this machine, for the sweep tests and for trying
# `robustmsa sweep --slurm`: its own munged (socket and key in DIR), slurmctld and slurmd, on
# free ports, with everything (config, state, logs, pid files) under DIR. Needs root and Debian's
# slurm-wlm. Stops only the daemons it started (by their pid files).
#   scripts/slurm_local.sh start DIR    # then: export SLURM_CONF=DIR/slurm.conf; sbatch ...
#   scripts/slurm_local.sh stop DIR
# Exit code 3: slurm (or root) is not available here.
set -euo pipefail
cmd=${1:?usage: slurm_local.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm_local.sh start|stop DIR}")

stop() {
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    if [[ -s "$dir/$f" ]]; then
      pid=$(cat "$dir/$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/$f"
    fi
  done
}

case "$cmd" in
stop) stop ;;
start)
  for b in munged slurmctld slurmd sbatch sinfo; do
    command -v "$b" >/dev/null 2>&1 ||
      { echo "slurm_local: $b not found (Debian: apt install slurm-wlm)" >&2; exit 3; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "slurm_local: slurmd needs root" >&2; exit 3; }
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/seed" \
    --log-file="$dir/log/munged.log" 2>>"$dir/log/start.log"
  # Two free ports (the kernel picks them).
  read -r p1 p2 < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  cat >"$dir/slurm.conf" <<CONF
ClusterName=robustmsa
SlurmctldHost=localhost
SlurmctldPort=$p1
SlurmdPort=$p2
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeHostname=$(hostname) CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -c 2>>"$dir/log/start.log" || { stop; cat "$dir/log/start.log" >&2; exit 3; }
  slurmd 2>>"$dir/log/start.log" || { stop; cat "$dir/log/start.log" >&2; exit 3; }
  for _ in $(seq 100); do
    if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
    sleep 0.2
  done
  echo "slurm_local: the node did not come up; see $dir/log" >&2
  tail -5 "$dir"/log/*.log >&2 || true
  stop
  exit 3
  ;;
*) echo "usage: slurm_local.sh start|stop DIR" >&2; exit 2 ;;
esac
