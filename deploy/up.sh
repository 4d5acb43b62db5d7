#!/usr/bin/env bash
# The run command: installs dependencies, builds berth, installs the binaries into
# /usr/local/bin, starts berth-containerd and berthd (as systemd units when systemd runs the
# machine, otherwise as background processes with pid files), and shows `berth info`.
# Stop everything with deploy/down.sh.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "up.sh: run as root" >&2
  exit 1
fi
deploy/install-deps.sh

CACHE="${BERTH_BAZEL_CACHE:-$HOME/.cache/berth-bazel}"
mkdir -p "$CACHE"
bazel build --disk_cache="$CACHE" //engine:berthd //engine/cli:berth //containerd:berth-containerd \
  //containerd/ctr:berth-ctr //shim:berth-shim //runc:berth-runc //registry:berth-registry
bin=$(bazel info bazel-bin 2>/dev/null)
install -m 0755 "$bin/engine/berthd" "$bin/containerd/berth-containerd" "$bin/engine/cli/berth" \
  "$bin/containerd/ctr/berth-ctr" "$bin/shim/berth-shim" "$bin/runc/berth-runc" "$bin/registry/berth-registry" /usr/local/bin/
bazel shutdown >/dev/null 2>&1 || true

wait_for_socket() {  # path, name, log
  for _ in $(seq 1 100); do
    [[ -S $1 ]] && return 0
    sleep 0.1
  done
  echo "up.sh: $2 did not come up; its log:" >&2
  tail -n 20 "$3" >&2 || true
  return 1
}

if [[ -d /run/systemd/system ]]; then
  install -m 0644 deploy/systemd/*.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now berth-containerd.service berthd.service
else
  # No systemd as PID 1 (containers, some VMs): run the daemons in their own sessions.
  mkdir -p /var/log/berth /run/berth /run/berth-containerd
  start() {  # name, pidfile, log, args...
    local name=$1 pidfile=$2 log=$3
    shift 3
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "up.sh: $name already running (pid $(cat "$pidfile"))"
      return 0
    fi
    setsid "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  }
  start berth-containerd /run/berth-containerd/berth-containerd.pid \
    /var/log/berth/berth-containerd.log /usr/local/bin/berth-containerd
  wait_for_socket /run/berth-containerd/containerd.sock berth-containerd \
    /var/log/berth/berth-containerd.log
  start berthd /run/berth/berthd.pid /var/log/berth/berthd.log /usr/local/bin/berthd
fi
wait_for_socket /run/berth/berthd.sock berthd /var/log/berth/berthd.log

berth version
echo
berth info
echo

# A base image made offline from Debian's busybox-static (Docker Hub is not reachable): a
# rootfs with /bin/busybox and a link per applet, imported as busybox:latest.
if ! berth image inspect busybox >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | berth import --change 'CMD ["sh"]' - busybox
fi
berth run --rm busybox echo hello from berth

cat <<'TRY'

berthd and berth-containerd keep running. Try:
  berth run -it --rm busybox sh          # an interactive shell (Ctrl-P Ctrl-Q detaches)
  berth run -d --name web busybox httpd -f -p 8080
  berth ps; berth logs web; berth exec web ps; berth stop web; berth rm web
  berth images; berth info
  berth-registry --root /tmp/reg &       # a local registry on 127.0.0.1:5000, then:
  berth tag busybox 127.0.0.1:5000/demo/busybox && berth push 127.0.0.1:5000/demo/busybox
Stop everything with deploy/down.sh.
TRY
