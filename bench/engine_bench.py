#!/usr/bin/env python3
"""berthd + berth-containerd against dockerd 20.10 + containerd 1.6 (and podman 4.3) (issue #5).

1. `run --rm busybox true`, sequential, interleaved (berth docker podman berth ...): median, p90.
2. N concurrent `run -d busybox sleep 300`: wall time of the batch (median over rounds,
   interleaved), then `rm -f` of the batch.
3. Churn: 200 `run -d` activations with 20 in flight; each worker removes its previous container
   (`rm -f`, in the background) while starting the next one: per-activation p50/p99/max.
4. Daemon start to API ready (median of 5 restarts, interleaved: berthd until `berth version`
   answers, dockerd until `docker version` answers) and idle RSS of the daemon pairs (VmRSS of
   berthd + berth-containerd against dockerd + containerd, freshly restarted, no containers).

Every daemon runs from a private temp dir and is stopped and removed at the end: berth-containerd
and berthd with their own root/state/sockets, containerd with its own config, dockerd with its
own --data-root/--exec-root/--pidfile/--host/--config-file/--cgroup-parent, pointed at that
containerd and started with --iptables=false --ip-forward=false --ip-masq=false --bridge=none
(the host's firewall and sysctls are not touched), podman with private containers.conf and
storage.conf. Every container of every engine runs with `--network none`. Each engine gets a
busybox image made offline from /bin/busybox (busybox-static) and `import`ed.
Runs as root. Build first:
  bazel build //engine:berthd //engine/cli:berth //containerd:berth-containerd \
      //shim:berth-shim //runc:berth-runc
Usage: bench/engine_bench.py [-n 20] [--concurrent 20] [--rounds 3] [--churn 200]
           [--in-flight 20] [--starts 5] [--skip-docker] [--skip-podman]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "bazel-bin")
DOCKER_CLI = "/usr/bin/docker"  # Debian's 20.10 CLI; `docker` on PATH may be a newer client
# Debian's docker.io puts dockerd in /usr/sbin.
DOCKERD = next((p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.path.exists(p)),
               "/usr/sbin/dockerd")
APPLETS = ("true", "sh", "sleep", "echo", "cat", "ls")


def berth_bin(rel):
    return os.path.realpath(os.path.join(BIN, rel))


def make_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "sys", "dev", "tmp", "etc", "run"):
        os.makedirs(os.path.join(path, d))
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))


def make_tar(rootfs, out):
    """What `tar -C rootfs -c .` writes: the rootfs at ./ ."""
    with tarfile.open(out, "w") as t:
        t.add(rootfs, arcname=".")


def require_built(rels):
    """Exits with a hint unless every bazel-bin/<rel> is there and executable."""
    for rel in rels:
        if not os.access(berth_bin(rel), os.X_OK):
            sys.exit(f"bazel-bin/{rel} missing: build it first (see --help)")


def pct(sorted_ts, q):
    """Nearest-rank percentile of a sorted list."""
    k = max(1, -(-len(sorted_ts) * q // 100))  # ceil(n*q/100)
    return sorted_ts[int(k) - 1]


def ms(seconds):
    return f"{seconds * 1000:7.1f} ms"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for_path(path, proc, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        time.sleep(0.001)
    raise RuntimeError(f"{path} did not appear")


def stop_proc(proc, timeout=30):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # only this pid, which we started
        proc.wait()


class Failed(Exception):
    pass


class Engine:
    """A daemon (or daemonless tool) and its CLI, all under self.dir."""
    name = "?"
    env = None

    def cli(self, *args):
        raise NotImplementedError

    def call(self, *args, check=True, stdin=subprocess.DEVNULL, timeout=300):
        p = subprocess.run(self.cli(*args), stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.env, timeout=timeout)
        if check and p.returncode != 0:
            raise Failed(f"{self.name}: {' '.join(args)} failed ({p.returncode}): "
                         f"{p.stderr.decode(errors='replace').strip()}")
        return p

    def timed(self, *args):
        """Wall time of one CLI call; raises Failed on a non-zero exit."""
        start = time.perf_counter()
        p = subprocess.run(self.cli(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=self.env)
        elapsed = time.perf_counter() - start
        if p.returncode != 0:
            raise Failed(f"{self.name}: {' '.join(args)} failed ({p.returncode}): "
                         f"{p.stderr.decode(errors='replace').strip()}")
        return elapsed

    def import_image(self, tar_path):
        with open(tar_path, "rb") as f:
            self.call(*self.import_args(), stdin=f)

    def run_rm(self):
        return ("run", "--rm", "--network", "none", "busybox", "true")

    def run_d(self, name):
        return ("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "300")

    def rm_f(self, names):
        return ("rm", "-f") + tuple(names)

    def leftover_containers(self):
        p = self.call("ps", "-aq", check=False)
        return p.stdout.decode().split()


class Berth(Engine):
    name = "berth"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "berth")
        os.makedirs(self.dir)
        self.cgroup_parent = "/" + os.path.basename(tmp) + "-berth"  # removed at the end
        self.containerd_sock = os.path.join(self.dir, "containerd.sock")
        self.sock = os.path.join(self.dir, "berthd.sock")
        self.berth = berth_bin("engine/cli/berth")
        self.containerd = None
        self.daemon = None
        self.logs = []
        self.start_containerd()
        self.first_ready = self.start_daemon()  # empty root: the first start ever

    def _log(self, name):
        f = open(os.path.join(self.dir, name), "a")
        self.logs.append(f)
        return f

    def start_containerd(self):
        env = dict(os.environ, PATH=os.path.dirname(berth_bin("runc/berth-runc")) + ":" +
                   os.environ["PATH"])
        log = self._log("containerd.log")
        self.containerd = subprocess.Popen(
            [berth_bin("containerd/berth-containerd"), "--root", self.dir + "/containerd-root",
             "--state", self.dir + "/containerd-state", "--address",
             "unix://" + self.containerd_sock, "--metrics_addr", "127.0.0.1:0",
             "--shim", berth_bin("shim/berth-shim")],
            stdout=log, stderr=log, env=env)
        wait_for_path(self.containerd_sock, self.containerd)

    def start_daemon(self):
        """Spawns berthd; returns seconds from spawn until `berth version` answers."""
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        log = self._log("berthd.log")
        start = time.perf_counter()
        self.daemon = subprocess.Popen(
            [berth_bin("engine/berthd"), "--root", self.dir + "/root", "--exec-root",
             self.dir + "/exec", "--host", "unix://" + self.sock, "--containerd",
             "unix://" + self.containerd_sock, "--metrics-addr", "127.0.0.1:0",
             "--cgroup_parent", self.cgroup_parent],
            stdout=log, stderr=log)
        wait_for_path(self.sock, self.daemon)
        while subprocess.run(self.cli("version"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode != 0:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"berthd exited with {self.daemon.returncode}")
        return time.perf_counter() - start

    def stop_daemon(self):
        stop_proc(self.daemon)

    def restart_all(self):
        self.stop_daemon()
        stop_proc(self.containerd)
        self.start_containerd()
        self.start_daemon()

    def daemon_pids(self):
        return {"berthd": self.daemon.pid, "berth-containerd": self.containerd.pid}

    def cli(self, *args):
        return [self.berth, "-H", "unix://" + self.sock] + list(args)

    def import_args(self):
        return ("import", "-", "busybox")

    def version(self):
        p = self.call("version", "--format", "json", check=False)
        return "berth (this tree)" if p.returncode == 0 else "berth (version failed)"

    def stop(self):
        stop_proc(self.daemon)
        stop_proc(self.containerd)
        for f in self.logs:
            f.close()


class Docker(Engine):
    name = "docker"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "docker")
        os.makedirs(self.dir)
        self.cgroup_parent = "/" + os.path.basename(tmp) + "-docker"
        self.containerd_sock = os.path.join(self.dir, "containerd.sock")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.dir, "cli-config"))
        for k in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self.env.pop(k, None)
        self.config_file = os.path.join(self.dir, "daemon.json")
        with open(self.config_file, "w") as f:  # else dockerd writes /etc/docker/key.json
            f.write('{"deprecated-key-path": "%s/key.json"}\n' % self.dir)
        self.containerd = None
        self.daemon = None
        self.logs = []
        self.start_containerd()
        self.first_ready = self.start_daemon()  # empty root: the first start ever

    def _log(self, name):
        f = open(os.path.join(self.dir, name), "a")
        self.logs.append(f)
        return f

    def start_containerd(self):
        d = self.dir
        cfg = os.path.join(d, "containerd.toml")
        with open(cfg, "w") as f:
            f.write(f'version = 2\nroot = "{d}/containerd-root"\nstate = "{d}/containerd-state"\n'
                    f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.containerd_sock}"\n'
                    f'[ttrpc]\n  address = "{self.containerd_sock}.ttrpc"\n'
                    f'[debug]\n  address = "{self.containerd_sock}.debug"\n'
                    f'[metrics]\n  address = ""\n')
        log = self._log("containerd.log")
        self.containerd = subprocess.Popen(["containerd", "--config", cfg], stdout=log,
                                           stderr=log)
        wait_for_path(self.containerd_sock, self.containerd)

    def start_daemon(self):
        """Spawns dockerd; returns seconds from spawn until `docker version` answers."""
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        log = self._log("dockerd.log")
        start = time.perf_counter()
        self.daemon = subprocess.Popen(
            [DOCKERD, "--data-root", self.dir + "/data", "--exec-root", self.dir + "/exec",
             "--pidfile", self.dir + "/dockerd.pid", "--host", "unix://" + self.sock,
             "--containerd", self.containerd_sock, "--config-file", self.config_file,
             "--storage-driver", "overlay2", "--exec-opt", "native.cgroupdriver=cgroupfs",
             "--cgroup-parent", self.cgroup_parent, "--iptables=false", "--ip-forward=false",
             "--ip-masq=false", "--bridge=none", "--userland-proxy=false"],
            stdout=log, stderr=log)
        wait_for_path(self.sock, self.daemon)
        while subprocess.run(self.cli("version"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=self.env).returncode != 0:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.daemon.returncode}")
        return time.perf_counter() - start

    def stop_daemon(self):
        stop_proc(self.daemon)

    def restart_all(self):
        self.stop_daemon()
        stop_proc(self.containerd)
        self.start_containerd()
        self.start_daemon()

    def daemon_pids(self):
        return {"dockerd": self.daemon.pid, "containerd": self.containerd.pid}

    def cli(self, *args):
        return [DOCKER_CLI, "-H", "unix://" + self.sock] + list(args)

    def import_args(self):
        return ("import", "-", "busybox:latest")

    def version(self):
        p = self.call("version", "--format", "{{.Server.Version}}", check=False)
        c = subprocess.run(["containerd", "--version"], capture_output=True)
        return (f"dockerd {p.stdout.decode().strip()}, "
                f"{c.stdout.decode().split()[2] if c.returncode == 0 else '?'} containerd")

    def stop(self):
        stop_proc(self.daemon)
        stop_proc(self.containerd)
        for f in self.logs:
            f.close()


class Podman(Engine):
    name = "podman"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "podman")
        os.makedirs(self.dir)
        self.cgroup_parent = "/" + os.path.basename(tmp) + "-podman"
        d = self.dir
        conf = os.path.join(d, "containers.conf")
        storage = os.path.join(d, "storage.conf")
        with open(conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                    'runtime = "runc"\n'  # crun refuses this host's hybrid cgroups
                    f'tmp_dir = "{d}/tmp"\n')
        # No static_dir here: conmon's exit command (`podman container cleanup`) is given
        # --root but not static_dir, looks in <graphroot>/libpod, misses the container, and
        # every `podman run --rm` then waits 20 s for an exit code.
        with open(storage, "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\nrunroot = "{d}/run"\n'
                    f'graphroot = "{d}/graph"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage)

    def cli(self, *args):
        if args and args[0] == "run":  # its containers' cgroups under a private parent
            args = ("run", "--cgroup-parent", self.cgroup_parent) + tuple(args[1:])
        return ["podman"] + list(args)

    def import_args(self):
        return ("import", "-", "busybox")

    def version(self):
        p = subprocess.run(["podman", "--version"], capture_output=True)
        return p.stdout.decode().strip()

    def stop(self):
        subprocess.run(self.cli("rm", "-a", "-f", "-t", "0"), env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(self.cli("system", "reset", "-f"), env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- the measurements ----

def run_rm_latency(engines, n, failures):
    times = {e.name: [] for e in engines}
    for i in range(n + 2):
        for e in engines:
            try:
                t = e.timed(*e.run_rm())
            except Failed as err:
                failures.append(str(err))
                continue
            if i >= 2:  # the first two warm caches
                times[e.name].append(t)
    return times


def concurrent_batch(e, count, tag, failures):
    """Wall time of `count` concurrent `run -d`, and of removing them."""
    names = [f"bench-{tag}-{i}" for i in range(count)]
    start = time.perf_counter()
    procs = [subprocess.Popen(e.cli(*e.run_d(n)), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e.env)
             for n in names]
    errors = [(p, p.communicate()[1]) for p in procs]
    batch = time.perf_counter() - start
    for p, err in errors:
        if p.returncode != 0:
            failures.append(f"{e.name}: run -d failed ({p.returncode}): "
                            f"{err.decode(errors='replace').strip()}")
    start = time.perf_counter()
    p = e.call(*e.rm_f(names), check=False)
    removal = time.perf_counter() - start
    if p.returncode != 0:
        failures.append(f"{e.name}: rm -f of the batch failed: {p.stderr.decode().strip()}")
    ok = sum(1 for p, _ in errors if p.returncode == 0)
    return batch, removal, ok


def churn(e, total, in_flight, failures):
    """`total` activations (`run -d`) from `in_flight` workers; each worker removes its previous
    container in the background while its next activation runs. Returns sorted latencies."""
    lock = threading.Lock()
    counter = iter(range(total))
    latencies = []

    def next_index():
        with lock:
            return next(counter, None)

    def worker():
        prev = None
        while True:
            i = next_index()
            if i is None:
                break
            remover = None
            if prev is not None:
                remover = subprocess.Popen(e.cli(*e.rm_f([prev])), stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                           env=e.env)
            name = f"churn-{i}"
            try:
                t = e.timed(*e.run_d(name))
                with lock:
                    latencies.append(t)
            except Failed as err:
                with lock:
                    failures.append(str(err))
            if remover is not None:
                _, err = remover.communicate()
                if remover.returncode != 0:
                    with lock:
                        failures.append(f"{e.name}: rm -f {prev} failed: "
                                        f"{err.decode(errors='replace').strip()}")
            prev = name
        if prev is not None:
            p = e.call(*e.rm_f([prev]), check=False)
            if p.returncode != 0:
                with lock:
                    failures.append(f"{e.name}: rm -f {prev} failed: {p.stderr.decode().strip()}")

    threads = [threading.Thread(target=worker) for _ in range(in_flight)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies), time.perf_counter() - start


def daemon_rss(e):
    pids = e.daemon_pids()
    parts = {name: rss_kib(pid) for name, pid in pids.items()}
    return sum(parts.values()), parts


def goal(label, ratio, limit):
    verdict = "met" if ratio <= limit else "NOT met"
    return f"  goal {label} <= {limit:.2f}x: {ratio:.2f}x -> {verdict}"


# ---- cleanup of what the daemons made under the temp dir ----

def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


def unmount_all(path):
    for mp in sorted(set(mounts_under(path)), key=lambda m: -m.count("/")):
        if subprocess.run(["umount", mp], stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def remove_cgroup_tree(name):
    """rmdir (bottom-up) the cgroup /<name> in every hierarchy; only empty ones go."""
    left = []
    for root in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", root, name.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


def stray_processes(tmp):
    """Processes still mentioning our temp dir on their command line (shims left behind)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if tmp in cmd:
            out.append((int(p), cmd.replace("\0", " ").strip()))
    return out


def clean_up(tmp, engines, host_dirs, failures):
    """Stops `engines` and removes everything they and the benchmark made under `tmp` (plus
    `host_dirs`, created by dockerd and absent before), then prints `failures` and whatever was
    left behind. Used by the other benchmarks that start these engines too."""
    for e in engines:
        try:
            e.stop()
        except Exception as err:  # keep cleaning up the others
            failures.append(f"stop {e.name}: {err}")
    # Shims outliving their manager would still hold mounts: report them and end them (we
    # started them, through our daemons: their command lines name our temp dir).
    for pid, cmd in stray_processes(tmp):
        failures.append(f"left running, killed: {pid} {cmd}")
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    unmount_all(tmp)
    for e in engines:
        for d in remove_cgroup_tree(e.cgroup_parent):
            failures.append(f"cgroup not removable: {d}")
    shutil.rmtree(tmp, ignore_errors=True)
    for d in host_dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as err:
            failures.append(f"{d} left behind: {err}")
    if os.path.exists(tmp):
        failures.append(f"{tmp} not fully removed")
    if failures:
        print(f"\n== {len(failures)} failure(s):")
        for f in failures[:40]:
            print("  " + f)
        if len(failures) > 40:
            print(f"  ... and {len(failures) - 40} more")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20, help="sequential run --rm per engine")
    ap.add_argument("--concurrent", type=int, default=20, help="size of the run -d batch")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the batch")
    ap.add_argument("--churn", type=int, default=200, help="activations in the churn test")
    ap.add_argument("--in-flight", type=int, default=20)
    ap.add_argument("--starts", type=int, default=5, help="daemon restarts to time")
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-podman", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    require_built(("engine/berthd", "engine/cli/berth", "containerd/berth-containerd",
                   "shim/berth-shim", "runc/berth-runc"))

    tmp = tempfile.mkdtemp(prefix="berth-bench-engine-")
    # dockerd makes these whatever its flags say (plugin discovery); removed at the end if
    # they were not there before and are empty.
    host_dirs = [d for d in ("/run/docker/plugins", "/run/docker") if not os.path.exists(d)]
    engines = []
    failures = []
    berth = docker = podman = None
    try:
        rootfs = os.path.join(tmp, "rootfs")
        make_rootfs(rootfs)
        tar_path = os.path.join(tmp, "busybox.tar")
        make_tar(rootfs, tar_path)

        print("== berthd + berth-containerd vs dockerd + containerd vs podman (issue #5)")
        print(f"  machine: {os.cpu_count()} CPUs, load average at start "
              f"{os.getloadavg()[0]:.2f}; other builds/tests may be running on it, so absolute "
              f"times drift: compare the ratios")
        print("  every container runs with --network none (no networking set up by any engine);"
              " dockerd has --iptables=false --ip-forward=false --ip-masq=false --bridge=none")
        berth = Berth(tmp)
        engines.append(berth)
        if args.skip_docker:
            print("  docker: skipped (--skip-docker)")
        elif not (os.path.exists(DOCKERD) and os.path.exists(DOCKER_CLI)
                  and shutil.which("containerd")):
            print(f"  docker: {DOCKERD}, {DOCKER_CLI} or containerd missing; skipped")
        else:
            docker = Docker(tmp)
            engines.append(docker)
        if args.skip_podman:
            print("  podman: skipped (--skip-podman)")
        elif shutil.which("podman") is None:
            print("  podman: not installed; skipped")
        else:
            podman = Podman(tmp)
            engines.append(podman)
        for e in list(engines):
            try:
                e.import_image(tar_path)
            except Failed as err:
                print(f"  {e.name}: image import failed, engine skipped: {err}")
                engines.remove(e)
                if e is docker:
                    docker = None
                if e is podman:
                    podman = None
        for e in engines:
            print(f"  {e.name:7} {e.version()}")
        daemons = [e for e in engines if e is not podman]

        # 1. sequential run --rm
        print(f"\n== 1. `run --rm busybox true`, sequential, n={args.n} each, interleaved "
              f"({' '.join(e.name for e in engines)} ...), 2 warm-up runs each not counted")
        times = run_rm_latency(engines, args.n, failures)
        for name, ts in times.items():
            ts.sort()
            if ts:
                print(f"  {name:7} median {ms(statistics.median(ts))}  p90 {ms(pct(ts, 90))}"
                      f"  (n={len(ts)})")
            else:
                print(f"  {name:7} no successful run")
        if docker and times["berth"] and times["docker"]:
            b, d = statistics.median(times["berth"]), statistics.median(times["docker"])
            print(goal("berth/docker median", b / d, 0.25))
        if podman and times["berth"] and times["podman"]:
            b, p = statistics.median(times["berth"]), statistics.median(times["podman"])
            print(f"  berth/podman median: {b / p:.2f}x")

        # 2. concurrent run -d
        print(f"\n== 2. {args.concurrent} concurrent `run -d busybox sleep 300`, wall time of the"
              f" batch, {args.rounds} rounds interleaved; then `rm -f` of the batch")
        batches = {e.name: [] for e in daemons}
        removals = {e.name: [] for e in daemons}
        for r in range(args.rounds):
            for e in daemons:
                batch, removal, ok = concurrent_batch(e, args.concurrent, f"c{r}", failures)
                if ok == args.concurrent:
                    batches[e.name].append(batch)
                    removals[e.name].append(removal)
                else:
                    print(f"  {e.name}: round {r}: only {ok}/{args.concurrent} started; "
                          f"round not counted")
        for name in batches:
            if batches[name]:
                print(f"  {name:7} batch median {ms(statistics.median(batches[name]))}"
                      f"  (rounds: {', '.join(f'{t * 1000:.0f}' for t in batches[name])} ms)"
                      f"   rm -f of the batch: median {ms(statistics.median(removals[name]))}")
        if docker and batches["berth"] and batches["docker"]:
            print(goal("berth/docker batch", statistics.median(batches["berth"]) /
                       statistics.median(batches["docker"]), 0.25))

        # 3. churn
        print(f"\n== 3. churn: {args.churn} `run -d` activations, {args.in_flight} in flight,"
              f" each worker `rm -f`-ing its previous container meanwhile")
        churns = {}
        for e in daemons:
            lat, wall = churn(e, args.churn, args.in_flight, failures)
            churns[e.name] = lat
            if lat:
                over = sum(1 for t in lat if t > 1.0)
                print(f"  {e.name:7} p50 {ms(pct(lat, 50))}  p99 {ms(pct(lat, 99))}  max "
                      f"{ms(lat[-1])}  over 1 s: {over}  ok {len(lat)}/{args.churn}  "
                      f"(all in {wall:.1f} s)")
            else:
                print(f"  {e.name:7} no successful activation")
        if docker and churns.get("berth") and churns.get("docker"):
            print(goal("berth/docker p99", pct(churns["berth"], 99) / pct(churns["docker"], 99),
                       0.25))
        if churns.get("berth"):
            over = sum(1 for t in churns["berth"] if t > 1.0)
            print(f"  goal no berth activation over 1 s: max {ms(churns['berth'][-1])} -> "
                  f"{'met' if over == 0 and len(churns['berth']) == args.churn else 'NOT met'}")

        for e in daemons:
            left = e.leftover_containers()
            if left:
                failures.append(f"{e.name}: containers left after the tests: {' '.join(left)}")
                e.call("rm", "-f", *left, check=False)

        # 4. start to ready, idle RSS
        print(f"\n== 4. daemon start to API ready, median of {args.starts} restarts interleaved "
              f"(spawn until its socket exists, then `version` through the CLI until it "
              f"answers; includes one CLI run)")
        after_workload = {e.name: daemon_rss(e) for e in daemons}
        ready = {e.name: [] for e in daemons}
        for _ in range(args.starts):
            for e in daemons:
                e.stop_daemon()
                ready[e.name].append(e.start_daemon())
        for e in daemons:
            ts = sorted(ready[e.name])
            print(f"  {e.name:7} median {ms(statistics.median(ts))}  min {ms(ts[0])}  max "
                  f"{ms(ts[-1])}   (first start, empty root: {ms(e.first_ready)})")
        b = statistics.median(ready["berth"])
        print(f"  goal berthd ready <= 100 ms: {b * 1000:.1f} ms -> "
              f"{'met' if b <= 0.100 else 'NOT met'}")
        if docker:
            print(f"  berthd/dockerd ready: {b / statistics.median(ready['docker']):.2f}x")

        print("\n   idle RSS (VmRSS) of the daemon pair, both restarted, image present, no "
              "containers, 3 s after ready")
        for e in daemons:
            e.restart_all()
        time.sleep(3)
        rss = {}
        for e in daemons:
            total, parts = daemon_rss(e)
            rss[e.name] = total
            detail = " + ".join(f"{k} {v / 1024:.1f}" for k, v in parts.items())
            aw_total, _ = after_workload[e.name]
            print(f"  {e.name:7} {total / 1024:6.1f} MiB  ({detail} MiB)   before the restart, "
                  f"after the tests above: {aw_total / 1024:.1f} MiB")
        if docker:
            print(goal("RSS berth/docker", rss["berth"] / rss["docker"], 0.5))
    finally:
        print(f"\n  load average at end {os.getloadavg()[0]:.2f}")
        clean_up(tmp, engines, host_dirs, failures)

if __name__ == "__main__":
    main()
