#!/usr/bin/env python3
"""berth-registry against docker-registry 2.8 (distribution), side by side (issue #6).

Both registries run at once, each from its own temp root on its own loopback port, and every
measurement alternates between them (A B, then B A, ...) so that drift on a shared machine hits
both alike. Per registry:
  1. idle RSS right after start (VmRSS, after a short settle), and again after the workload
     (plus VmHWM, the peak);
  2. parallel blob PUT: --parallel threads each upload one blob of --blob-mib MiB of random data
     (POST /v2/<repo>/blobs/uploads/, then PUT <location>?digest=<d> with the whole body, the
     monolithic upload both registries take); throughput = bytes / wall time of the batch;
  3. parallel blob GET: --parallel threads each GET one of those blobs to the end;
  4. manifest GET latency: --manifest-gets sequential GETs of a small OCI manifest by tag, on one
     keep-alive connection, with its Accept header: p50 and p99.
Each round uploads fresh blobs (a different first block per round and registry), so no registry
sees a blob it already holds. Reports medians over --rounds and the ratio berth/docker
(for throughput higher is better, for RSS and latency lower is better).

Only the Python standard library (http.client and threads). The client shares the machine's
CPUs with the registry it measures, for both alike. Builds nothing; run as root (docker-registry
does not need it, but the numbers in the notes were taken so), after
  bazel build //registry:berth-registry
Usage: bench/registry_bench.py [--berth bazel-bin/registry/berth-registry] [--rounds 3]
           [--parallel 16] [--blob-mib 32] [--manifest-gets 1000] [--berth-flag=--fsync=false]
"""
import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BERTH = os.path.join(HERE, "..", "bazel-bin", "registry", "berth-registry")
DOCKER_REGISTRY = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MIB = 1 << 20


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(address, path="/v2/"):
    host, port = address.rsplit(":", 1)
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=2)
        c.request("GET", path)
        status = c.getresponse().status
        c.close()
        return status == 200
    except OSError:
        return False


class Registry:
    name = "?"

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, self.name)
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "log"), "a")
        self.proc = None
        self.address = None

    def wait_ready(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            if self.address and http_ok(self.address):
                return
            self.find_address()
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready in {timeout}s: {self.log_tail()}")

    def find_address(self):
        pass

    def log_tail(self):
        with open(self.log.name) as f:
            return "".join(f.readlines()[-10:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # only the pid we started
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def version(self):
        return "?"


class BerthRegistry(Registry):
    name = "berth-registry"

    def __init__(self, tmp, binary, extra_flags):
        super().__init__(tmp)
        self.binary = binary
        self.extra_flags = extra_flags

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--listen=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
             "--root=" + os.path.join(self.dir, "root")] + list(self.extra_flags),
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.wait_ready()

    def find_address(self):
        with open(self.log.name) as f:
            for line in f:
                at = line.find("registry listening address=")
                if at >= 0:
                    self.address = line[at:].split("=", 1)[1].split()[0]
                    return

    def version(self):
        with open(self.log.name) as f:
            for line in f:
                at = line.find("registry started version=")
                if at >= 0:
                    return "berth-registry " + line[at:].split("=", 1)[1].split()[0]
        return "berth-registry"


class DockerRegistry(Registry):
    name = "docker-registry"

    def __init__(self, tmp):
        super().__init__(tmp)
        self.address = f"127.0.0.1:{free_port()}"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
                    "  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: {self.address}\n")
        self.config = config

    def start(self):
        self.proc = subprocess.Popen([DOCKER_REGISTRY, "serve", self.config], stdout=self.log,
                                     stderr=self.log, stdin=subprocess.DEVNULL)
        self.wait_ready()

    def version(self):
        p = subprocess.run([DOCKER_REGISTRY, "--version"], capture_output=True, text=True)
        return p.stdout.strip().split(" ", 1)[-1] if p.returncode == 0 else "docker-registry"


# ---- the client side ----

class Failed(Exception):
    pass


def connect(address):
    host, port = address.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=300)


def upload_blob(address, repo, data, digest):
    """POST an upload session, then PUT the whole blob to it with its digest."""
    c = connect(address)
    try:
        c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        r = c.getresponse()
        r.read()
        if r.status != 202:
            raise Failed(f"POST upload: {r.status}")
        loc = urllib.parse.urlsplit(r.getheader("Location"))
        query = (loc.query + "&" if loc.query else "") + "digest=" + urllib.parse.quote(digest)
        c.request("PUT", f"{loc.path}?{query}", body=data,
                  headers={"Content-Type": "application/octet-stream",
                           "Content-Length": str(len(data))})
        r = c.getresponse()
        r.read()
        if r.status != 201:
            raise Failed(f"PUT upload: {r.status}")
    finally:
        c.close()


def get_blob(address, repo, digest):
    """GETs a blob to the end, returns its length."""
    c = connect(address)
    try:
        c.request("GET", f"/v2/{repo}/blobs/{digest}")
        r = c.getresponse()
        if r.status != 200:
            r.read()
            raise Failed(f"GET blob: {r.status}")
        n = 0
        while True:
            chunk = r.read(MIB)
            if not chunk:
                break
            n += len(chunk)
        return n
    finally:
        c.close()


def parallel(fn, items):
    """Runs fn(item) for every item on its own thread; returns wall time, raises the first error."""
    errors = []
    results = [None] * len(items)

    def run(i, item):
        try:
            results[i] = fn(item)
        except Exception as e:  # reported after the batch
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, it)) for i, it in enumerate(items)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return wall, results


def push_manifest(address, repo, tag):
    """A small OCI image (config + one 4 KiB layer) tagged `tag`; returns the manifest digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(4096)
    descs = []
    for data, media in ((config, "application/vnd.oci.image.config.v1+json"),
                        (layer, "application/vnd.oci.image.layer.v1.tar+gzip")):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        upload_blob(address, repo, data, d)
        descs.append({"mediaType": media, "digest": d, "size": len(data)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descs[0],
                           "layers": descs[1:]}).encode()
    c = connect(address)
    c.request("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
              headers={"Content-Type": OCI_MANIFEST})
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 201:
        raise Failed(f"PUT manifest: {r.status}")
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def manifest_latencies(address, repo, tag, n, digest):
    c = connect(address)
    times = []
    for i in range(n + 20):
        start = time.perf_counter()
        c.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        r = c.getresponse()
        r.read()
        elapsed = time.perf_counter() - start
        if r.status != 200 or r.getheader("Docker-Content-Digest") != digest:
            raise Failed(f"GET manifest: {r.status} {r.getheader('Docker-Content-Digest')}")
        if i >= 20:  # warm-up
            times.append(elapsed)
    c.close()
    return sorted(times)


def pct(sorted_ts, q):
    """Nearest-rank percentile of a sorted list."""
    k = max(1, -(-len(sorted_ts) * q // 100))
    return sorted_ts[int(k) - 1]


def make_blobs(base, count, tag):
    """`count` blobs sharing `base` but for a unique first 64 bytes; (data, digest) pairs."""
    blobs = []
    for i in range(count):
        head = f"{tag}-{i}-".encode().ljust(64, b".")
        data = head + base[64:]
        blobs.append((data, "sha256:" + hashlib.sha256(data).hexdigest()))
    return blobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--berth", default=DEFAULT_BERTH, help="berth-registry binary")
    ap.add_argument("--berth-flag", action="append", default=[],
                    help="extra flag for berth-registry (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--blob-mib", type=int, default=32)
    ap.add_argument("--manifest-gets", type=int, default=1000)
    args = ap.parse_args()

    berth_bin = os.path.realpath(args.berth)
    if not os.access(berth_bin, os.X_OK):
        sys.exit(f"{berth_bin}: not found (bazel build //registry:berth-registry)")
    if not os.access(DOCKER_REGISTRY, os.X_OK):
        sys.exit(f"{DOCKER_REGISTRY}: not found (apt-get install docker-registry)")

    tmp = tempfile.mkdtemp(prefix="berth-bench-registry-")
    registries = []
    try:
        berth = BerthRegistry(tmp, berth_bin, args.berth_flag)
        docker = DockerRegistry(tmp)
        for r in (berth, docker):
            registries.append(r)  # stopped in `finally` even if it fails to come up
            r.start()
        time.sleep(1.0)  # let start-up allocations settle
        idle = {r.name: rss_kib(r.proc.pid) for r in registries}

        base = os.urandom(args.blob_mib * MIB)
        size = len(base)
        puts = {r.name: [] for r in registries}
        gets = {r.name: [] for r in registries}
        lat = {r.name: [] for r in registries}
        for rnd in range(args.rounds):
            order = registries if rnd % 2 == 0 else registries[::-1]
            for r in order:
                repo = f"bench/round{rnd}"
                blobs = make_blobs(base, args.parallel, f"{r.name}-{rnd}")
                wall, _ = parallel(lambda b, r=r, repo=repo: upload_blob(r.address, repo, *b),
                                   blobs)
                puts[r.name].append(size * len(blobs) / wall / MIB)
                wall, lengths = parallel(
                    lambda b, r=r, repo=repo: get_blob(r.address, repo, b[1]), blobs)
                if any(n != size for n in lengths):
                    raise Failed(f"{r.name}: short blob read: {lengths}")
                gets[r.name].append(size * len(blobs) / wall / MIB)
                digest = push_manifest(r.address, repo, "v1")
                lat[r.name].append(manifest_latencies(r.address, repo, "v1",
                                                      args.manifest_gets, digest))
            # One GET per round checked to the byte (hashing inside the timed batches would
            # measure the client).
            for r in registries:
                data, d = make_blobs(base, 1, f"{r.name}-{rnd}")[0]
                c = connect(r.address)
                c.request("GET", f"/v2/bench/round{rnd}/blobs/{d}")
                body = c.getresponse().read()
                c.close()
                if hashlib.sha256(body).hexdigest() != d.split(":")[1]:
                    raise Failed(f"{r.name}: blob {d} came back different")
            print(f"round {rnd + 1}/{args.rounds}: " + ", ".join(
                f"{r.name} PUT {puts[r.name][-1]:.0f} GET {gets[r.name][-1]:.0f} MiB/s"
                for r in registries), flush=True)

        time.sleep(2.0)
        after = {r.name: rss_kib(r.proc.pid) for r in registries}
        peak = {r.name: rss_kib(r.proc.pid, "VmHWM") for r in registries}

        def merged(name):
            return sorted(t for run in lat[name] for t in run)

        rows = [
            ("idle RSS after start (MiB)", idle, lambda v: v / 1024, "{:.1f}", "lower"),
            ("RSS after workload (MiB)", after, lambda v: v / 1024, "{:.1f}", "lower"),
            ("peak RSS, VmHWM (MiB)", peak, lambda v: v / 1024, "{:.1f}", "lower"),
            (f"blob PUT {args.parallel}x{args.blob_mib} MiB (MiB/s, median)",
             {k: statistics.median(v) for k, v in puts.items()}, lambda v: v, "{:.0f}",
             "higher"),
            (f"blob GET {args.parallel}x{args.blob_mib} MiB (MiB/s, median)",
             {k: statistics.median(v) for k, v in gets.items()}, lambda v: v, "{:.0f}",
             "higher"),
            ("manifest GET p50 (ms)", {k: pct(merged(k), 50) for k in lat},
             lambda v: v * 1000, "{:.3f}", "lower"),
            ("manifest GET p99 (ms)", {k: pct(merged(k), 99) for k in lat},
             lambda v: v * 1000, "{:.3f}", "lower"),
        ]
        print()
        print(f"{berth.version()} vs {docker.version()}; {args.rounds} rounds interleaved, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'':44} {'berth-registry':>15} {'docker-registry':>16} {'berth/docker':>13}")
        for label, values, conv, fmt, better in rows:
            b, d = conv(values[berth.name]), conv(values[docker.name])
            ratio = b / d if d else float("nan")
            print(f"{label:44} {fmt.format(b):>15} {fmt.format(d):>16} {ratio:>12.2f}x"
                  f"  ({better} is better)")
        print("per round, PUT MiB/s: " + "; ".join(
            f"{k} {' '.join(f'{x:.0f}' for x in v)}" for k, v in puts.items()))
        print("per round, GET MiB/s: " + "; ".join(
            f"{k} {' '.join(f'{x:.0f}' for x in v)}" for k, v in gets.items()))
    finally:
        for r in registries:
            r.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
