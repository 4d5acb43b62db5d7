#!/usr/bin/env python3
"""Shim memory per running container (issue #4): N berth-shims, each the parent of a busybox
container running `sleep`, started directly the way tests/shim does (`berth-shim start`, then
Task.Create + Task.Start through bench/shim_ctl), measured from /proc/<pid>/smaps_rollup and
/proc/<pid>/status: mean RSS, PSS, Pss_Anon, Pss_File and threads per shim. With --containerd
(and containerd + ctr installed) the same for N containerd-shim-runc-v2 started by `ctr run -d`
(task_bench.py's private containerd).

Everything is cleaned up: Task.Shutdown(NOW) per shim (which kills and deletes the container),
`berth-shim delete` for any shim that did not go, the temp dir last. Runs as root. Build first:
  bazel build //shim:berth-shim //runc:berth-runc //bench:shim_ctl
Usage: bench/shim_mem.py [-n 20] [--shim PATH] [--containerd] [--detail] [--settle SECONDS]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "bazel-bin")
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File")


def berth_bin(rel):
    return os.path.realpath(os.path.join(BIN, rel))


def proc_mem(pid):
    """{Rss, Pss, Pss_Anon, Pss_File (KiB), Threads} of a live pid."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in FIELDS:
                out[key] = int(rest.split()[0])
    with open(f"/proc/{pid}/status") as f:
        out["Threads"] = next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
    return out


def top_mappings(pid, n=12):
    """The n mappings with the most PSS: (pss_kib, anon_kib, name)."""
    rows = []
    name, pss, anon = None, 0, 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and ":" not in parts[0]:
                if name is not None:
                    rows.append((pss, anon, name))
                name = parts[5] if len(parts) > 5 else "[anon]"
                name = f"{name} {parts[1]}"
                pss, anon = 0, 0
            elif parts[0] == "Pss:":
                pss = int(parts[1])
            elif parts[0] == "Anonymous:":
                anon = int(parts[1])
    if name is not None:
        rows.append((pss, anon, name))
    merged = {}
    for p, a, nm in rows:
        q = merged.setdefault(nm, [0, 0])
        q[0] += p
        q[1] += a
    return sorted(((p, a, nm) for nm, (p, a) in merged.items()), reverse=True)[:n]


def thread_names(pid):
    names = []
    for t in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def summary(figures):
    return {k: statistics.mean(f[k] for f in figures) for k in FIELDS + ("Threads",)}


def print_row(label, count, s):
    print(f"  {label:26} n={count:3}  RSS {s['Rss']/1024:6.2f} MiB  PSS {s['Pss']/1024:6.2f} MiB"
          f"  Pss_Anon {s['Pss_Anon']/1024:5.2f} MiB  Pss_File {s['Pss_File']/1024:5.2f} MiB"
          f"  threads {s['Threads']:4.1f}")


def make_rootfs(path):
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for applet in ("sh", "sleep"):
        os.symlink("busybox", os.path.join(path, "bin", applet))


class BerthShims:
    def __init__(self, tmp, shim, runc, ctl):
        self.tmp, self.shim, self.runc, self.ctl = tmp, shim, runc, ctl
        self.state = os.path.join(tmp, "state")
        self.root = os.path.join(tmp, "root")
        os.makedirs(self.state)
        self.started = []  # (id, bundle, address, shim pid)

    def args(self, command, cid, bundle):
        return [self.shim, command, "--namespace=bench", f"--id={cid}", f"--bundle={bundle}",
                f"--state_dir={self.state}", f"--address=unix://{self.tmp}/none.sock",
                f"--runtime={self.runc}", f"--runtime_root={self.root}", "--log_level=warning"]

    def start(self, i):
        cid = f"shimmem{os.getpid()}x{i}"
        bundle = os.path.join(self.tmp, f"b{i}")
        make_rootfs(os.path.join(bundle, "rootfs"))
        subprocess.run([self.runc, "spec", "--bundle", bundle], check=True)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["sleep", "3600"]
        spec["root"]["readonly"] = False
        spec["linux"]["cgroupsPath"] = "/" + cid
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        p = subprocess.run(self.args("start", cid, bundle), cwd=bundle, check=True,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        params = json.loads(next(l for l in p.stdout.splitlines() if l.startswith("{")))
        address, pid = params["address"], int(params["shimPid"])
        self.started.append((cid, bundle, address, pid))
        subprocess.run([self.ctl, "run", f"--address={address}", f"--id={cid}",
                        f"--bundle={bundle}"], check=True, stdout=subprocess.DEVNULL)
        return pid

    def cleanup(self):
        for cid, bundle, address, pid in self.started:
            subprocess.run([self.ctl, "shutdown", f"--address={address}", f"--id={cid}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 15
        while time.time() < end and any(os.path.exists(f"/proc/{s[3]}") for s in self.started):
            time.sleep(0.05)
        for cid, bundle, address, pid in self.started:
            # Whatever Shutdown left (a shim that did not go, the container, mounts, socket).
            r = subprocess.run(self.args("delete", cid, bundle), cwd=bundle,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"berth-shim delete {cid}: {r.stderr.strip()}", file=sys.stderr)
            for h in ("", "memory/", "pids/", "cpu,cpuacct/", "freezer/"):
                d = f"/sys/fs/cgroup/{h}{cid}"
                if os.path.isdir(d):
                    try:
                        os.rmdir(d)
                    except OSError as e:
                        print(f"cgroup {d} left: {e}", file=sys.stderr)


def measure_berth(tmp, args):
    shims = BerthShims(tmp, args.shim, args.runc, args.ctl)
    try:
        pids = [shims.start(i) for i in range(args.n)]
        time.sleep(args.settle)
        figures = [proc_mem(p) for p in pids]
        if args.detail:
            print(f"  threads of one shim: {', '.join(thread_names(pids[0]))}")
            print("  largest mappings of one shim (PSS KiB, anonymous KiB):")
            for pss, anon, name in top_mappings(pids[0]):
                print(f"    {pss:6} {anon:6}  {name}")
        return len(pids), figures
    finally:
        shims.cleanup()


def measure_containerd(tmp, n, settle):
    sys.path.insert(0, HERE)
    import task_bench  # the private containerd and its image import

    rootfs = os.path.join(tmp, "ctr-rootfs")
    task_bench.make_rootfs(rootfs)
    layer = os.path.join(tmp, "layer.tar")
    task_bench.make_layer(rootfs, layer)
    m = task_bench.Containerd(tmp)
    ids = [f"mem{i}" for i in range(n)]
    try:
        m.prepare(layer, rootfs)
        for cid in ids:
            task_bench.run(m.run_detached(cid), stdout=subprocess.DEVNULL)
        time.sleep(settle)
        pids = m.shim_pids()
        return len(pids), [proc_mem(p) for p in pids]
    finally:
        for cid in ids:
            m.remove(cid)
        m.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--shim", default=berth_bin("shim/berth-shim"))
    ap.add_argument("--runc", default=berth_bin("runc/berth-runc"))
    ap.add_argument("--ctl", default=berth_bin("bench/shim_ctl"))
    ap.add_argument("--label", default="berth-shim")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between start and measure")
    ap.add_argument("--detail", action="store_true", help="threads and largest mappings")
    ap.add_argument("--containerd", action="store_true",
                    help="also containerd-shim-runc-v2 through a private containerd")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    # Short: the shim sockets live under it and must fit sun_path.
    tmp = tempfile.mkdtemp(prefix="berth-shimmem-", dir="/tmp")
    try:
        print(f"== shim memory with {args.n} running containers (mean per shim)")
        count, figs = measure_berth(tmp, args)
        print_row(args.label, count, summary(figs))
        if args.containerd and shutil.which("containerd") and shutil.which("ctr"):
            count, figs = measure_containerd(tmp, args.n, args.settle)
            print_row("containerd-shim-runc-v2", count, summary(figs))
    finally:
        subprocess.run(["umount", "-R", tmp], stderr=subprocess.DEVNULL)
        with open("/proc/self/mountinfo") as f:
            if tmp in f.read():
                sys.exit(f"mounts left under {tmp}; not removing it")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
