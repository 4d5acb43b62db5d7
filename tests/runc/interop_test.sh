#!/bin/bash
# Interop: Debian's containerd (ctr run --runc-binary) and podman (--runtime) drive berth-runc as
# their OCI runtime (issue #3, acceptance "Interop").
#
# Root only. Each part skips cleanly when its tool is absent. Nothing is pulled: the image is a
# busybox rootfs (Debian's busybox-static) that this script packs as an OCI image layout tar.
# Everything lives under one short temp dir (/tmp/berth-interop-XXXXXX) and cgroups named after it;
# the EXIT trap stops only the processes this script started (by PID, or by membership of its own
# cgroups) and removes every dir, mount, socket and cgroup it made.
#
# Usage: interop_test.sh [path/to/berth-runc]
#   (under `bazel test //tests/runc:interop_test` the binary comes from runfiles)
set -u
set -o pipefail

readonly IMAGE_REF="localhost/berth-busybox:interop"
FAILURES=0

say() { echo "interop: $*"; }
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}
# expect NAME WANT GOT: passes when GOT contains the line WANT.
expect_line() {
  if grep -qxF -- "$2" <<<"$3"; then
    pass "$1"
  else
    fail "$1: want line '$2', got: $(head -c 2000 <<<"$3")"
  fi
}

# check NAME DETAIL CMD...: passes when CMD succeeds, else fails with DETAIL.
check() {
  local name=$1 detail=$2
  shift 2
  if "$@"; then
    pass "$name"
  else
    fail "$name: $detail"
    return 1
  fi
}

# Prints the memory limit in bytes of process PID's cgroup (cgroup v1 or v2).
memory_limit_of() {
  local path
  path=$(awk -F: '$2 == "memory" {print $3}' "/proc/$1/cgroup" 2>/dev/null)
  if [[ -n $path ]]; then
    cat "/sys/fs/cgroup/memory$path/memory.limit_in_bytes"
  else
    path=$(awk -F: '$1 == "0" {print $3}' "/proc/$1/cgroup" 2>/dev/null)
    cat "/sys/fs/cgroup$path/memory.max"
  fi
}

# Polls `$@` every 50 ms until it succeeds or `deadline_s` seconds pass.
wait_for() {
  local deadline_s=$1
  shift
  local end=$((SECONDS + deadline_s))
  until "$@"; do
    ((SECONDS >= end)) && return 1
    sleep 0.05
  done
}

# ---------------------------------------------------------------------------------------------
# podman part, run in a private mount namespace: `interop_test.sh --podman-inner` (see below).
# ---------------------------------------------------------------------------------------------
podman_inner() {
  # Globals: the EXIT trap uses them after this function returns.
  PT=$INTEROP_DIR/p
  PCG=$INTEROP_CGROUP-podman
  mkdir -p "$PT"/{tmp,home,net}
  # Writes to /var/lib and /run go to overlays seen only in this mount namespace:
  # - containers/image keeps a blob-info cache in /var/lib/containers/cache for root, whatever
  #   containers.conf says;
  # - podman 4.3 does not pass --runtime-flag (e.g. root=DIR) to the `podman container cleanup`
  #   that conmon runs when a container exits, so that one calls `berth-runc delete --force`
  #   with the default --root and misses state kept elsewhere. berth-runc therefore runs with
  #   its default root, /run/berth-runc, which this overlay keeps private.
  local dir
  for dir in /var/lib /run; do
    local up=$PT/overlay${dir//\//-}
    mkdir -p "$up/upper" "$up/work"
    if ! mount -t overlay overlay -o "lowerdir=$dir,upperdir=$up/upper,workdir=$up/work" \
        "$dir"; then
      fail "podman: private overlay over $dir"
      return 1
    fi
  done
  cat >"$PT/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[network]
network_config_dir = "$PT/net"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PT/events.log"
tmp_dir = "$PT/libpod"
lock_type = "file"
# podman passes --log-format=json --log FILE only to runtimes named here.
runtime_supports_json = ["crun", "runc", "berth-runc"]
EOF
  cat >"$PT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PT/storage"
runroot = "$PT/run"
EOF
  export CONTAINERS_CONF=$PT/containers.conf CONTAINERS_STORAGE_CONF=$PT/storage.conf
  export TMPDIR=$PT/tmp HOME=$PT/home
  unset XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_DATA_HOME CONTAINER_HOST
  P() {
    timeout 120 podman --runtime "$BERTH_RUNC" "$@"
  }
  podman_cleanup() {
    P rm -af -t 0 >/dev/null 2>&1
    # conmon and the `podman container cleanup` it runs on exit live in our cgroup parent.
    cgroup_empty() {
      [[ -z $(find /sys/fs/cgroup/{,*/}"$PCG" -name cgroup.procs -exec cat {} + 2>/dev/null) ]]
    }
    wait_for 10 cgroup_empty
    P rmi -af >/dev/null 2>&1
    P system reset -f >/dev/null 2>&1
    # Anything podman left mounted in this namespace (it dies with it, but be tidy).
    awk -v p="$PT/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m"; done
  }
  trap podman_cleanup EXIT
  # Prints berth-runc's error logs (podman's oci-log files) after a failure.
  dump_logs() {
    find "$PT/storage" "$PT/run" -name oci-log -size +0 2>/dev/null | while read -r f; do
      echo "--- $f"
      tail -n 20 "$f"
    done
  }

  local out
  if out=$(P load -i "$INTEROP_DIR/image/busybox-oci.tar" 2>&1) && P image exists "$IMAGE_REF"; then
    pass "podman: load OCI archive as $IMAGE_REF"
  else
    fail "podman: load: $out"
    return 1
  fi

  # Container state dirs (64-hex ids) under berth-runc's default root before podman runs
  # anything: other processes (berth-containerd's per-namespace roots, parallel tests) may
  # own other entries there, so only new container ids count as left behind.
  container_dirs() {
    find /run/berth-runc -mindepth 1 -maxdepth 1 -regextype posix-extended \
      -regex '.*/[0-9a-f]{64}' -printf '%f\n' 2>/dev/null | sort
  }
  local before_dirs
  before_dirs=$(container_dirs)

  # Foreground run: stdio through conmon, the runtime's create/start/delete.
  out=$(P run --rm --network none --cgroup-parent "/$PCG" "$IMAGE_REF" \
    /bin/sh -c 'echo hello-from-berth-runc; echo pid=$$' 2>&1)
  local rc=$?
  check "podman: run --rm exits 0" "rc=$rc: $out" test "$rc" = 0 || dump_logs
  expect_line "podman: run --rm prints hello" hello-from-berth-runc "$out"
  expect_line "podman: container's sh is pid 1" pid=1 "$out"

  # Detached container: exec (plain and with a tty), pause/unpause, update, stop, rm.
  local name=${INTEROP_NAME}-bg
  if out=$(P run -d --name "$name" --network none --cgroup-parent "/$PCG" "$IMAGE_REF" \
      /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done' 2>&1); then
    pass "podman: run -d"
  else
    fail "podman: run -d: $out"
    dump_logs
    return 1
  fi
  out=$(P exec "$name" /bin/sh -c 'echo exec-ok; id -u' 2>&1)
  expect_line "podman: exec" exec-ok "$out"
  out=$(P exec -t "$name" /bin/tty </dev/null 2>&1 | tr -d '\r')
  expect_line "podman: exec -t gets a pty (console socket)" /dev/pts/0 "$out"
  # A failing exec: podman reads berth-runc's error from its --log (JSON) file.
  out=$(P exec "$name" /nonexistent 2>&1)
  rc=$?
  check "podman: berth-runc's exec error reaches podman" "$out" \
    grep -qF 'exec: "/nonexistent"' <<<"$out"
  # podman turns a "no such file or directory" runtime error into exit status 127.
  check "podman: exec of a missing binary exits 127" "rc=$rc" test "$rc" = 127
  P pause "$name" >/dev/null 2>&1
  out=$(P inspect -f '{{.State.Status}}' "$name" 2>&1)
  expect_line "podman: pause" paused "$out"
  P unpause "$name" >/dev/null 2>&1
  out=$(P inspect -f '{{.State.Status}}' "$name" 2>&1)
  expect_line "podman: unpause" running "$out"
  local pid
  pid=$(P inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
  if out=$(P update --memory 64m "$name" 2>&1); then
    out=$(memory_limit_of "$pid" 2>&1)
    expect_line "podman: update --memory reaches the container's cgroup" 67108864 "$out"
  else
    fail "podman: update: $out"
  fi
  if out=$(P stop -t 10 "$name" 2>&1); then pass "podman: stop"; else fail "podman: stop: $out"; fi
  out=$(P inspect -f '{{.State.ExitCode}}' "$name" 2>&1)
  expect_line "podman: container exited 0 on SIGTERM" 0 "$out"
  if out=$(P rm "$name" 2>&1); then pass "podman: rm"; else fail "podman: rm: $out"; fi
  if [[ -n $pid ]] && wait_for 10 test ! -e "/proc/$pid"; then
    pass "podman: container init gone"
  else
    fail "podman: container init $pid still exists"
  fi
  # podman's cleanup of an exited container runs asynchronously (conmon's exit command).
  new_container_dirs() { comm -13 <(echo "$before_dirs") <(container_dirs); }
  no_runtime_state() { [[ -z $(new_container_dirs) ]]; }
  if wait_for 10 no_runtime_state; then
    pass "podman: no berth-runc state left"
  else
    fail "podman: berth-runc state left: $(new_container_dirs)"
  fi
  ((FAILURES == 0)) || dump_logs
  return 0
}

if [[ ${1:-} == --podman-inner ]]; then
  podman_inner
  exit $((FAILURES > 0))  # the EXIT trap set in podman_inner cleans up
fi

# ---------------------------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------------------------
if [[ $(id -u) != 0 ]]; then
  echo "SKIP: interop tests need root"
  exit 0
fi

BERTH_RUNC=${1:-${BERTH_RUNC:-}}
if [[ -z $BERTH_RUNC ]]; then
  for c in "${RUNFILES_DIR:-}/${TEST_WORKSPACE:-}/runc/berth-runc" \
    "${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/runc/berth-runc" \
    "$(dirname "$(readlink -f "$0")")/../../bazel-bin/runc/berth-runc"; do
    if [[ -x $c ]]; then
      BERTH_RUNC=$c
      break
    fi
  done
fi
if [[ -z $BERTH_RUNC || ! -x $BERTH_RUNC ]]; then
  echo "FAIL: berth-runc not found (pass its path as \$1 or build //runc:berth-runc)"
  exit 1
fi
BERTH_RUNC=$(readlink -f "$BERTH_RUNC")
for tool in python3 unshare /bin/busybox; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed"
    exit 0
  fi
done

INTEROP_DIR=$(mktemp -d /tmp/berth-interop-XXXXXX) || exit 1
# The suffix names everything else: the containerd namespace (and so its cgroup parent), the
# podman cgroup parent, container names.
INTEROP_NAME=berth-interop-${INTEROP_DIR##*-}
INTEROP_CGROUP=$INTEROP_NAME
CT=$INTEROP_DIR/c
CONTAINERD_PID=
CTR_IDS=()
PARTS_RUN=()
# Whether /run/containerd{,/s} existed before: the shim puts its sockets there whatever the
# config says, and we remove what we created.
RUN_CONTAINERD_EXISTED=0
[[ -e /run/containerd ]] && RUN_CONTAINERD_EXISTED=1
RUN_CONTAINERD_S_EXISTED=0
[[ -e /run/containerd/s ]] && RUN_CONTAINERD_S_EXISTED=1
export BERTH_RUNC INTEROP_DIR INTEROP_NAME INTEROP_CGROUP

# Sends SIGKILL to every process in this test's cgroups, then removes them (deepest first).
clean_cgroups() {
  local d
  # (v1: one dir per controller, /sys/fs/cgroup/*/NAME; v2: /sys/fs/cgroup/NAME.)
  for d in /sys/fs/cgroup/{,*/}"$INTEROP_CGROUP"{,-podman}; do
    [[ -d $d ]] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
      kill -KILL "$p" 2>/dev/null
    done
  done
  for d in /sys/fs/cgroup/{,*/}"$INTEROP_CGROUP"{,-podman}; do
    [[ -d $d ]] || continue
    # A killed process leaves its cgroup a moment after the signal.
    wait_for 5 find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
      say "cannot remove cgroup $d"
  done
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n $CONTAINERD_PID ]]; then
    if kill -0 "$CONTAINERD_PID" 2>/dev/null; then
      local t
      for t in $(ctrc task ls -q 2>/dev/null); do
        ctrc task kill -s KILL "$t" >/dev/null 2>&1
        ctrc task delete -f "$t" >/dev/null 2>&1
      done
      for t in $(ctrc containers ls -q 2>/dev/null); do
        ctrc containers rm "$t" >/dev/null 2>&1
      done
      kill -TERM "$CONTAINERD_PID"
      wait_for 10 test ! -e "/proc/$CONTAINERD_PID" || kill -KILL "$CONTAINERD_PID"
    fi
    wait "$CONTAINERD_PID" 2>/dev/null
  fi
  # Shims this containerd started: their command line names our (unique) containerd address.
  local p shims=()
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $CT/containerd.sock "; then
      kill -KILL "${p#/proc/}" 2>/dev/null && shims+=("${p#/proc/}")
    fi
  done
  for p in "${shims[@]}"; do wait_for 5 test ! -e "/proc/$p"; done
  clean_cgroups
  # Shim sockets: /run/containerd/s/<sha256(address/namespace/id)>.
  local id
  for id in "${CTR_IDS[@]}"; do
    local h
    h=$(printf '%s' "$CT/containerd.sock/$INTEROP_NAME/$id" | sha256sum | cut -d' ' -f1)
    rm -f "/run/containerd/s/$h" "/run/containerd/s/$h.debug"
  done
  ((RUN_CONTAINERD_S_EXISTED)) || rmdir /run/containerd/s 2>/dev/null
  ((RUN_CONTAINERD_EXISTED)) || rmdir /run/containerd 2>/dev/null
  # Mounts in our namespace under the temp dir (containerd and podman mount in private ones).
  awk -v p="$INTEROP_DIR/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$INTEROP_DIR"
  if ((rc == 0 && FAILURES > 0)); then rc=1; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# The image: busybox-static + applet links, as an OCI image layout tar (one uncompressed layer).
# ---------------------------------------------------------------------------------------------
mkdir -p "$INTEROP_DIR/image"
if ! python3 - "$INTEROP_DIR/image/busybox-oci.tar" "$IMAGE_REF" <<'EOF'; then
import hashlib, io, json, subprocess, sys, tarfile

out, ref = sys.argv[1], sys.argv[2]
applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                         check=True).stdout.split()

def entry(name, **kw):
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for d in ["bin", "dev", "etc", "proc", "sys", "tmp", "root"]:
        t.addfile(entry(d, type=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755))
    with open("/bin/busybox", "rb") as f:
        data = f.read()
    t.addfile(entry("bin/busybox", size=len(data), mode=0o755), io.BytesIO(data))
    for a in applets:
        if a != "busybox":
            t.addfile(entry("bin/" + a, type=tarfile.SYMTYPE, linkname="busybox", mode=0o777))
layer = layer.getvalue()

with tarfile.open(out, "w") as t:
    def add(name, data):
        t.addfile(entry(name, size=len(data), mode=0o644), io.BytesIO(data))
    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        add("blobs/sha256/" + digest[7:], data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}
    layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
    }
    config_desc = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = blob(json.dumps(manifest).encode(),
                         "application/vnd.oci.image.manifest.v1+json")
    # containerd names the image from io.containerd.image.name; podman's oci-archive reader
    # from org.opencontainers.image.ref.name.
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    manifest_desc["annotations"] = {"io.containerd.image.name": ref,
                                    "org.opencontainers.image.ref.name": ref}
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}).encode())
EOF
  fail "build the busybox OCI image"
  exit 1
fi
say "berth-runc: $BERTH_RUNC; temp dir: $INTEROP_DIR"

# ---------------------------------------------------------------------------------------------
# containerd part
# ---------------------------------------------------------------------------------------------
ctrc() { timeout 60 ctr --address "$CT/containerd.sock" --namespace "$INTEROP_NAME" "$@"; }
# ctr run/exec with berth-runc as the runc shim's binary, its state and FIFOs under $CT.
ctr_run() {
  ctrc run --runc-binary "$BERTH_RUNC" --runc-root "$CT/runc" --fifo-dir "$CT/fifo" "$@"
}
# Prints the shim's and berth-runc's logs for a container after a failure.
ctr_dump_logs() {
  local b=$CT/state/io.containerd.runtime.v2.task/$INTEROP_NAME/$1
  [[ -s $b/log.json ]] && { echo "--- $b/log.json (berth-runc)"; tail -n 20 "$b/log.json"; }
  echo "--- containerd.log"
  grep -E 'level=(error|warning)' "$CT/containerd.log" | tail -n 20
}
task_status() { ctrc task ls 2>/dev/null | awk -v t="$1" '$1 == t {print $3}'; }
task_status_is() { [[ $(task_status "$1") == "$2" ]]; }
# expect_status NAME ID WANT DEADLINE_S: passes when task ID reaches status WANT in time.
expect_status() {
  if wait_for "$4" task_status_is "$2" "$3"; then
    pass "$1"
  else
    fail "$1: want status $3, got '$(task_status "$2")'"
    return 1
  fi
}

containerd_part() {
  local tool
  for tool in containerd ctr containerd-shim-runc-v2; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: containerd part: $tool is not installed"
      return 0
    fi
  done
  PARTS_RUN+=(containerd)
  mkdir -p "$CT"
  cat >"$CT/config.toml" <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CT/containerd.sock"
[ttrpc]
  address = "$CT/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CT/opt"
EOF
  # A private mount namespace: the snapshot and rootfs mounts of containerd and its shims
  # vanish with them even if this script is killed.
  unshare -m --propagation private -- containerd --config "$CT/config.toml" \
    >"$CT/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  if ! wait_for 20 test -S "$CT/containerd.sock"; then
    fail "containerd: did not start: $(tail -n 5 "$CT/containerd.log")"
    return 1
  fi
  local out rc
  if out=$(ctrc images import "$INTEROP_DIR/image/busybox-oci.tar" 2>&1) &&
    ctrc images check 2>/dev/null | grep -q "^$IMAGE_REF .*complete"; then
    pass "containerd: import OCI archive as $IMAGE_REF"
  else
    fail "containerd: import: $out"
    return 1
  fi

  # Foreground: create, start, wait, delete through containerd-shim-runc-v2.
  local id=run
  CTR_IDS+=("$id")
  out=$(ctr_run --rm "$IMAGE_REF" "$id" \
    /bin/sh -c 'echo hello-from-berth-runc; hostname; echo pid=$$' 2>&1)
  rc=$?
  check "containerd: ctr run --rm exits 0" "rc=$rc: $out" test "$rc" = 0 || ctr_dump_logs "$id"
  expect_line "containerd: ctr run prints hello" hello-from-berth-runc "$out"
  # ctr sets no hostname: the container's new UTS namespace starts as a copy of the host's.
  expect_line "containerd: hostname" "$(cat /proc/sys/kernel/hostname)" "$out"
  expect_line "containerd: container's sh is pid 1" pid=1 "$out"

  # Detached: exec, exec with a tty, ps, metrics, pause/resume, kill, delete.
  id="bg"
  CTR_IDS+=("$id")
  if out=$(ctr_run -d "$IMAGE_REF" "$id" \
      /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done' 2>&1) &&
    wait_for 10 task_status_is "$id" RUNNING; then
    pass "containerd: ctr run -d"
  else
    fail "containerd: ctr run -d: $out"
    ctr_dump_logs "$id"
    return 1
  fi
  local pid
  pid=$(ctrc task ls 2>/dev/null | awk -v t="$id" '$1 == t {print $2}')
  out=$(ctrc task exec --fifo-dir "$CT/fifo" --exec-id e1 "$id" \
    /bin/sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "; echo' 2>&1)
  expect_line "containerd: ctr task exec" exec-ok "$out"
  expect_line "containerd: exec sees the container's init as pid 1" \
    '/bin/sh -c trap "exit 0" TERM; while :; do sleep 0.2; done ' "$out"
  # A failing exec: the shim reads berth-runc's error from its --log (JSON) file.
  out=$(ctrc task exec --fifo-dir "$CT/fifo" --exec-id e-missing "$id" /nonexistent 2>&1)
  check "containerd: berth-runc's exec error reaches ctr through log.json" "$out" \
    grep -qF 'OCI runtime exec failed: exec: "/nonexistent"' <<<"$out"
  if command -v script >/dev/null; then
    # ctr wants a terminal on stdin for -t: script(1) gives it one.
    # (timeout outside: inside, it would put ctr in a background process group of the pty).
    out=$(timeout 60 script -qec "ctr --address $CT/containerd.sock --namespace $INTEROP_NAME \
      task exec -t --fifo-dir $CT/fifo --exec-id e2 $id /bin/tty" /dev/null </dev/null 2>&1 |
      tr -d '\r\0^@')
    expect_line "containerd: ctr task exec -t gets a pty (console socket)" /dev/pts/0 "$out"
  else
    echo "SKIP: containerd: exec -t needs script(1)"
  fi
  out=$(ctrc task ps "$id" 2>&1)
  if awk 'NR > 1 {print $1}' <<<"$out" | grep -qxF "$pid"; then
    pass "containerd: ctr task ps (berth-runc ps --format json) lists the init"
  else
    fail "containerd: ctr task ps: want pid $pid in: $out"
  fi
  out=$(ctrc task metrics "$id" 2>&1)
  check "containerd: ctr task metrics" "$out" grep -q '^pids.current' <<<"$out"
  # ctr 1.6 has no `task update` and reads metrics from cgroupfs itself, so make the two calls the
  # shim makes for CRI (UpdateContainerResources, Stats) ourselves, exactly as it makes them.
  local rt=("$BERTH_RUNC" --root "$CT/runc/$INTEROP_NAME" --log \
    "$CT/state/io.containerd.runtime.v2.task/$INTEROP_NAME/$id/log.json" --log-format json)
  if out=$(echo '{"memory":{"limit":67108864}}' | "${rt[@]}" update --resources - "$id" 2>&1); then
    out=$(memory_limit_of "$pid" 2>&1)
    expect_line "containerd: berth-runc update --resources - (as the shim calls it)" 67108864 "$out"
  else
    fail "containerd: berth-runc update --resources -: $out"
  fi
  out=$("${rt[@]}" events --stats "$id" 2>&1)
  check "containerd: berth-runc events --stats" "$out" grep -q '"type":"stats"' <<<"$out"
  ctrc task pause "$id" >/dev/null 2>&1
  expect_status "containerd: pause" "$id" PAUSED 5
  ctrc task resume "$id" >/dev/null 2>&1
  expect_status "containerd: resume" "$id" RUNNING 5
  ctrc task kill "$id" >/dev/null 2>&1
  expect_status "containerd: ctr task kill (SIGTERM)" "$id" STOPPED 10 || ctr_dump_logs "$id"
  out=$(ctrc task delete "$id" 2>&1)
  rc=$?
  check "containerd: ctr task delete" "rc=$rc: $out" test "$rc" = 0
  ctrc containers rm "$id" >/dev/null 2>&1
  if [[ ! -e $CT/runc/$INTEROP_NAME/$id && ! -e /proc/$pid ]] &&
    ! ls -d /sys/fs/cgroup/{,*/}"$INTEROP_CGROUP/$id" >/dev/null 2>&1; then
    pass "containerd: no berth-runc state, process or cgroup left for $id"
  else
    fail "containerd: leftovers for $id: $(ls -d "$CT/runc/$INTEROP_NAME/$id" /proc/"$pid" \
      /sys/fs/cgroup/{,*/}"$INTEROP_CGROUP/$id" 2>/dev/null)"
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------
# podman part: in a private mount namespace (see podman_inner).
# ---------------------------------------------------------------------------------------------
podman_part() {
  local tool
  for tool in podman conmon; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: podman part: $tool is not installed"
      return 0
    fi
  done
  PARTS_RUN+=(podman)
  unshare -m --propagation private -- "$BASH" "$(readlink -f "$0")" --podman-inner
  (($? == 0)) || FAILURES=$((FAILURES + 1))
}

containerd_part
podman_part

if ((FAILURES == 0 && ${#PARTS_RUN[@]} == 0)); then
  echo "SKIP: interop: neither containerd nor podman is installed"
elif ((FAILURES == 0)); then
  echo "PASS: interop (${PARTS_RUN[*]} with berth-runc)"
else
  echo "FAIL: interop: $FAILURES failure(s)"
fi
