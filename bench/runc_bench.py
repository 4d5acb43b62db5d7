#!/usr/bin/env python3
"""berth-runc against runc and crun, side by side, interleaved (A B C A B C ...).

Measures, on one minimal busybox bundle running /bin/true:
  - sequential `run` (N times each), median wall time and peak RSS of the runtime process;
  - `create`, `start`, `delete` separately;
  - 20 concurrent `run`s, wall time for the batch.
Prints medians and the ratios berth-runc / crun and berth-runc / runc.

Runs as root. crun refuses this host's hybrid cgroups while the cgroup2 mount at
/sys/fs/cgroup/unified is visible, so the whole benchmark re-runs itself in a private mount
namespace with that mount hidden (every runtime is measured in the same conditions).
Usage: bench/runc_bench.py [--berth-runc PATH] [-n 100]
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


def reexec_in_private_mount_ns():
    if os.environ.get("BERTH_BENCH_NS") == "1":
        return
    env = dict(os.environ, BERTH_BENCH_NS="1")
    cmd = ("umount /sys/fs/cgroup/unified 2>/dev/null; exec " +
           " ".join(f"'{a}'" for a in [sys.executable] + sys.argv))
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "slave", "sh", "-c", cmd], env)


def make_bundle(dir_, runtime):
    rootfs = os.path.join(dir_, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for applet in ("true", "sh"):
        os.symlink("busybox", os.path.join(rootfs, "bin", applet))
    subprocess.run([runtime, "spec"], cwd=dir_, check=True)
    with open(os.path.join(dir_, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    with open(os.path.join(dir_, "config.json"), "w") as f:
        json.dump(spec, f)


def peak_rss_kib(argv):
    """Peak RSS of the runtime process (and what it reaps), measured by GNU time: wait4's
    ru_maxrss from Python would include the forked interpreter's pages before exec."""
    with tempfile.NamedTemporaryFile(mode="r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return int(out.read().strip().splitlines()[-1])


def timed(argv):
    """Runs argv; returns its wall time in seconds."""
    # stderr goes to a file, not a pipe: after `create` the container's init holds it open
    # until `start`, and reading a pipe to EOF would wait for that forever.
    with tempfile.TemporaryFile() as errf:
        start = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=errf)
        _, status, _ = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{argv} failed: {err}")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--berth-runc", default=os.path.join(
        HERE, "..", "bazel-bin", "runc", "berth-runc"))
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--concurrent", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("runc_bench.py: run as root")
    reexec_in_private_mount_ns()

    runtimes = {"berth-runc": os.path.abspath(args.berth_runc)}
    for name in ("crun", "runc"):
        path = shutil.which(name)
        if path:
            runtimes[name] = path
        else:
            print(f"note: {name} not installed (apt-get install {name}); skipped")
    work = tempfile.mkdtemp(prefix="berth-bench-")
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        make_bundle(bundle, runtimes["berth-runc"])
        roots = {n: os.path.join(work, "root-" + n) for n in runtimes}
        results = {n: {"run": [], "rss": [], "create": [], "start": [], "delete": []}
                   for n in runtimes}
        names = list(runtimes)
        for i in range(args.n):
            # Rotate who goes first: the kernel finishes tearing down the previous
            # container's namespaces and cgroups in the background, and whoever runs right
            # after pays for it.
            for name in names[i % len(names):] + names[:i % len(names)]:
                rt = runtimes[name]
                cid = f"b{os.getpid()}-{i}"
                base = [rt, "--root", roots[name]]
                results[name]["run"].append(timed(base + ["run", "--bundle", bundle, cid + "r"]))
                if i < 10:
                    results[name]["rss"].append(
                        peak_rss_kib(base + ["run", "--bundle", bundle, cid + "m"]))
                results[name]["create"].append(timed(base + ["create", "--bundle", bundle, cid]))
                t = timed(base + ["start", cid])
                results[name]["start"].append(t)
                # /bin/true exits at once; delete needs it stopped.
                for _ in range(200):
                    st = subprocess.run(base + ["state", cid], capture_output=True, text=True)
                    if '"stopped"' in st.stdout:
                        break
                    time.sleep(0.001)
                results[name]["delete"].append(timed(base + ["delete", cid]))

        batch = {}
        for name, rt in runtimes.items():
            base = [rt, "--root", roots[name]]
            start = time.perf_counter()
            procs = [subprocess.Popen(base + ["run", "--bundle", bundle, f"c{os.getpid()}-{k}"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
                     for k in range(args.concurrent)]
            codes = [p.wait() for p in procs]
            batch[name] = time.perf_counter() - start
            if any(codes):
                print(f"warning: {name}: {sum(1 for c in codes if c)} concurrent runs failed")

        def ms(v):
            return f"{statistics.median(v) * 1000:8.2f}"

        print(f"\nberth-runc vs crun vs runc, {args.n} interleaved rounds, busybox /bin/true")
        print(f"{'':22}" + "".join(f"{n:>14}" for n in runtimes))
        for key, label in (("run", "run (ms, median)"), ("create", "create (ms)"),
                           ("start", "start (ms)"), ("delete", "delete (ms)")):
            print(f"{label:22}" + "".join(f"{ms(results[n][key]):>14}" for n in runtimes))
        print(f"{'peak RSS (MiB, median)':22}" + "".join(
            f"{statistics.median(results[n]['rss']) / 1024:14.2f}" for n in runtimes))
        print(f"{f'{args.concurrent} concurrent (ms)':22}" + "".join(
            f"{batch[n] * 1000:14.1f}" for n in runtimes))
        b = results["berth-runc"]
        for other in [n for n in runtimes if n != "berth-runc"]:
            o = results[other]
            print(f"ratio berth-runc/{other}: run "
                  f"{statistics.median(b['run']) / statistics.median(o['run']):.2f}, "
                  f"concurrent {batch['berth-runc'] / batch[other]:.2f}, peak RSS "
                  f"{statistics.median(b['rss']) / statistics.median(o['rss']):.2f}")
    finally:
        for name, rt in runtimes.items():
            if os.path.isdir(roots.get(name, "")):
                for cid in os.listdir(roots[name]):
                    subprocess.run([rt, "--root", roots[name], "delete", "--force", cid],
                                   capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
