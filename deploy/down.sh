#!/usr/bin/env bash
# Stops the daemons deploy/up.sh started (containers, once there are any, keep running:
# berth's daemons restart without killing them). Data under /var/lib/berth* is kept.
set -uo pipefail
if [[ -d /run/systemd/system ]] && systemctl list-unit-files berthd.service >/dev/null 2>&1; then
  systemctl stop berthd.service berth-containerd.service
  exit 0
fi
stop() {  # pidfile
  [[ -f $1 ]] || return 0
  local pid
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$1"
}
stop /run/berth/berthd.pid
stop /run/berth-containerd/berth-containerd.pid
echo "berthd and berth-containerd stopped"
