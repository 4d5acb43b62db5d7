#!/usr/bin/env python3
"""berth-containerd + berth-shim against containerd 1.6 + containerd-shim-runc-v2 (issue #4).

1. Task latency: create+start+wait+delete of /bin/true in a busybox container, through the
   manager's API, with the manager's own CLI:
     berth-ctr run --rm --snapshot busybox ID /bin/true   (rootfs from an overlay snapshot)
     ctr run --rm busybox:bench ID /bin/true               (image unpacked into a snapshot)
   and both with --rootfs DIR (no snapshot), interleaved (A B A B ...), median and p90.
2. Shim memory: N containers running `sleep`, started detached; RSS, PSS (smaps_rollup) and
   threads of every shim, mean per shim; against containerd-shim-runc-v2 and, if podman is
   installed, conmon (podman run -d --rootfs).

Both managers run from private temp dirs (containerd with its own config; its shim sockets still
go to /run/containerd/s). Runs as root. Build first:
  bazel build //containerd:berth-containerd //containerd/ctr:berth-ctr //shim:berth-shim \
      //runc:berth-runc
Usage: bench/task_bench.py [-n 30] [--shims 20] [--skip-podman]
"""
import argparse
import io
import json
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "bazel-bin")


def berth_bin(rel):
    return os.path.realpath(os.path.join(BIN, rel))


def make_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc", "run"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for applet in ("true", "sh", "sleep", "echo", "cat"):
        os.symlink("busybox", os.path.join(path, "bin", applet))


def make_layer(rootfs, out):
    with tarfile.open(out, "w") as t:
        for name in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, name), arcname=name)


def make_docker_archive(layer, out, ref):
    """A `docker save` archive of one layer, for `ctr images import`."""
    data = open(layer, "rb").read()
    diff_id = "sha256:" + hashlib.sha256(data).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [ref],
                            "Layers": ["layer/layer.tar"]}]).encode()
    with tarfile.open(out, "w") as t:
        for name, blob in ((config_name, config), ("manifest.json", manifest),
                           ("layer/layer.tar", data)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            t.addfile(info, io.BytesIO(blob))


def wait_for_socket(path, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{path} did not appear")


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, **kw)


def timed(argv):
    start = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError(f"{argv} failed ({p.returncode}): {p.stderr.decode()}")
    return elapsed


def proc_mem(pid):
    """(rss_kib, pss_kib, threads) of a live pid."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    with open(f"/proc/{pid}/status") as f:
        threads = next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
    return rss, pss, threads


def pids_of(exe_basename):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.path.basename(os.readlink(f"/proc/{p}/exe")) == exe_basename:
                out.append(int(p))
        except OSError:
            pass
    return out


class Berth:
    name = "berth-containerd"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "berth")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.ctr = berth_bin("containerd/ctr/berth-ctr")
        env = dict(os.environ, PATH=os.path.dirname(berth_bin("runc/berth-runc")) + ":" +
                   os.environ["PATH"])
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen(
            [berth_bin("containerd/berth-containerd"), "--root", self.dir + "/root",
             "--state", self.dir + "/state", "--address", "unix://" + self.sock,
             "--metrics_addr", "127.0.0.1:0", "--shim", berth_bin("shim/berth-shim")],
            stdout=self.log, stderr=self.log, env=env)
        wait_for_socket(self.sock, self.proc)

    def cli(self, *args):
        return [self.ctr, "--address", "unix://" + self.sock, "--namespace", "bench"] + list(args)

    def prepare(self, layer, rootfs):
        run(self.cli("snapshots", "unpack", "busybox", layer), stdout=subprocess.DEVNULL)
        self.rootfs = rootfs

    def run_rm(self, cid, snapshot):
        src = ["--snapshot", "busybox"] if snapshot else ["--rootfs", self.rootfs]
        return self.cli("run", "--rm", *src, cid, "/bin/true")

    def run_detached(self, cid):
        return self.cli("run", "-d", "--snapshot", "busybox", cid, "sleep", "3600")

    def shim_pids(self):
        return [p for p in pids_of("berth-shim")
                if self.dir in open(f"/proc/{p}/cmdline").read()]

    def remove(self, cid):
        subprocess.run(self.cli("tasks", "kill", "-s", "9", cid), capture_output=True)
        subprocess.run(self.cli("tasks", "wait", cid), capture_output=True)
        subprocess.run(self.cli("tasks", "delete", cid), capture_output=True)
        subprocess.run(self.cli("containers", "rm", cid), capture_output=True)
        subprocess.run(self.cli("snapshots", "rm", cid), capture_output=True)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class Containerd:
    name = "containerd"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "containerd")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "containerd.sock")
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{self.dir}/root"\nstate = "{self.dir}/state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.sock}"\n'
                    f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
                    f'[debug]\n  address = "{self.sock}.debug"\n'
                    f'[metrics]\n  address = ""\n')
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stdout=self.log,
                                     stderr=self.log)
        wait_for_socket(self.sock, self.proc)

    def cli(self, *args):
        return ["ctr", "--address", self.sock, "--namespace", "bench"] + list(args)

    def prepare(self, layer, rootfs):
        archive = os.path.join(self.dir, "busybox.tar")
        make_docker_archive(layer, archive, "docker.io/library/busybox:bench")
        run(self.cli("images", "import", archive), stdout=subprocess.DEVNULL)
        self.rootfs = rootfs

    def run_rm(self, cid, snapshot):
        if snapshot:
            return self.cli("run", "--rm", "docker.io/library/busybox:bench", cid, "/bin/true")
        return self.cli("run", "--rm", "--rootfs", self.rootfs, cid, "/bin/true")

    def run_detached(self, cid):
        return self.cli("run", "-d", "docker.io/library/busybox:bench", cid, "sleep", "3600")

    def shim_pids(self):
        return [p for p in pids_of("containerd-shim-runc-v2")
                if "-namespace bench" in open(f"/proc/{p}/cmdline").read().replace("\0", " ")
                and self.sock in open(f"/proc/{p}/cmdline").read()]

    def remove(self, cid):
        subprocess.run(self.cli("tasks", "kill", "-s", "SIGKILL", cid), capture_output=True)
        time.sleep(0.05)
        subprocess.run(self.cli("tasks", "delete", "-f", cid), capture_output=True)
        subprocess.run(self.cli("containers", "rm", cid), capture_output=True)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def latency(managers, n, snapshot):
    times = {m.name: [] for m in managers}
    for i in range(n + 2):
        for m in managers:
            t = timed(m.run_rm(f"lat{'s' if snapshot else 'r'}{i}", snapshot))
            if i >= 2:  # first runs warm caches
                times[m.name].append(t)
    return times


def shim_memory(m, count):
    ids = [f"mem{i}" for i in range(count)]
    try:
        for cid in ids:
            run(m.run_detached(cid), stdout=subprocess.DEVNULL)
        time.sleep(1)
        pids = m.shim_pids()
        figures = [proc_mem(p) for p in pids]
    finally:
        for cid in ids:
            m.remove(cid)
    return len(pids), figures


def podman_memory(tmp, rootfs, count):
    """conmon per container, with podman run -d --rootfs; None when podman is absent."""
    if shutil.which("podman") is None:
        return None
    d = os.path.join(tmp, "podman")
    os.makedirs(d)
    conf = os.path.join(d, "containers.conf")
    storage = os.path.join(d, "storage.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                f'tmp_dir = "{d}/tmp"\n')
    with open(storage, "w") as f:
        f.write(f'[storage]\ndriver = "overlay"\nrunroot = "{d}/run"\ngraphroot = "{d}/graph"\n')
    env = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage)
    names = [f"benchmem{i}" for i in range(count)]
    try:
        for name in names:
            subprocess.run(["podman", "run", "-d", "--name", name, "--network", "none",
                            "--rootfs", rootfs, "sleep", "3600"], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        pids = [p for p in pids_of("conmon") if d in open(f"/proc/{p}/cmdline").read()]
        figures = [proc_mem(p) for p in pids]
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0"] + names, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["podman", "system", "reset", "-f"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return len(pids), figures


def summary(figures):
    rss = statistics.mean(f[0] for f in figures) / 1024
    pss = statistics.mean(f[1] for f in figures) / 1024
    thr = statistics.mean(f[2] for f in figures)
    return rss, pss, thr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--shims", type=int, default=20)
    ap.add_argument("--skip-podman", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    tmp = tempfile.mkdtemp(prefix="berth-bench-")
    managers = []
    try:
        rootfs = os.path.join(tmp, "rootfs")
        make_rootfs(rootfs)
        layer = os.path.join(tmp, "layer.tar")
        make_layer(rootfs, layer)
        managers.append(Berth(tmp))
        if shutil.which("containerd") and shutil.which("ctr"):
            managers.append(Containerd(tmp))
        for m in managers:
            m.prepare(layer, rootfs)

        print(f"== task create+start+wait+delete of /bin/true, n={args.n}, interleaved")
        for snapshot in (True, False):
            times = latency(managers, args.n, snapshot)
            label = "snapshot/image rootfs" if snapshot else "--rootfs DIR"
            for name, ts in times.items():
                ts.sort()
                print(f"  {label:22} {name:18} median {statistics.median(ts)*1000:7.1f} ms"
                      f"  p90 {ts[int(len(ts)*0.9)-1]*1000:7.1f} ms")
            if len(times) == 2:
                b = statistics.median(times["berth-containerd"])
                c = statistics.median(times["containerd"])
                print(f"  {label:22} ratio berth/ctr {b / c:.2f}x")

        if args.skip_memory:
            return
        print(f"== shim memory with {args.shims} running containers (mean per shim)")
        for m in managers:
            count, figs = shim_memory(m, args.shims)
            rss, pss, thr = summary(figs)
            print(f"  {m.name:18} shims {count:3}  RSS {rss:6.2f} MiB  PSS {pss:6.2f} MiB"
                  f"  threads {thr:4.1f}")
        if not args.skip_podman:
            try:
                res = podman_memory(tmp, rootfs, args.shims)
            except subprocess.CalledProcessError as e:
                print(f"  conmon (podman): podman failed here ({e}); skipped")
                res = None
            if res:
                count, figs = res
                rss, pss, thr = summary(figs)
                print(f"  {'conmon (podman)':18} shims {count:3}  RSS {rss:6.2f} MiB"
                      f"  PSS {pss:6.2f} MiB  threads {thr:4.1f}")
    finally:
        for m in managers:
            try:
                m.stop()
            except Exception as e:  # keep cleaning up the others
                print(f"stop {m.name}: {e}", file=sys.stderr)
        subprocess.run(["umount", "-R", tmp], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
        # berth-ctr's containers live in /berth-ctr/bench/<id>; the runtime removed each
        # container's cgroup, the empty parents are the benchmark's to remove.
        import glob
        for d in sorted(glob.glob("/sys/fs/cgroup/*/berth-ctr/bench") +
                        glob.glob("/sys/fs/cgroup/*/berth-ctr"), key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass
        try:
            os.rmdir("/run/berth-runc/bench")
        except OSError:
            pass


if __name__ == "__main__":
    main()
