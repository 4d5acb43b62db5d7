#!/usr/bin/env python3
"""berth push/pull against docker push/pull, through docker-registry 2.8 and berth-registry (#6).

The images: "big", a busybox base plus 4 layers of one 50 MiB file of os.urandom each (~212 MB,
incompressible: a push is bound by compression and upload, a pull by download, verification
and unpacking), and "small", the busybox base alone. Both are written once as a docker-archive
tarball (what `docker save` makes) and loaded into each engine with `load`.

Engines (as in engine_bench.py, all private under one temp dir): berthd + berth-containerd, and
dockerd 20.10 + containerd 1.6 (--iptables=false --bridge=none ...). Registries (as in
registry_bench.py): docker-registry 2.8 and berth-registry, on free loopback ports (plain HTTP:
both engines treat 127.0.0.0/8 registries as insecure).

Each round, for each registry (order alternating between rounds) and each engine (order
alternating too):
  1. a fresh registry is started on empty storage, so nothing can be skipped or mounted;
  2. the engine's images are removed and the archive is loaded afresh (not timed), so a push
     always starts from uncompressed layers, as after a build or a load;
  3. `push` big, then `push` small (timed: CLI wall time);
  4. every image removed, `pull` big (timed); every image removed, `pull` small (timed); the
     pulled image's repo digest (`image inspect`) is checked against the one the push reported.
Docker 20.10 compresses with Go's gzip and keeps no compressed copy; berth compresses with its
parallel block gzip (incompressible blocks stored, see engine/distribution/gzip.h) and keeps no
compressed copy either, so every push here compresses.
Reports medians over --rounds, per registry, with the ratio berth/docker and the goals of
issue #6 (push <= 0.25x, pull <= 0.5x docker).

Runs as root; builds nothing. Build first:
  bazel build //engine:berthd //engine/cli:berth //containerd:berth-containerd \\
      //shim:berth-shim //runc:berth-runc //registry:berth-registry
Usage: bench/distribution_bench.py [--rounds 3] [--layer-mib 50] [--layers 4]
           [--registries docker-registry,berth-registry] [--engines docker,berth]
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engine_bench as eb  # noqa: E402  (the private daemons and their cleanup)
import registry_bench as rb  # noqa: E402  (the private registries)

MIB = 1 << 20


# ---- the images, as a docker-archive tarball ----

def tar_bytes(add):
    """An uncompressed tar made by add(tarfile), as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return buf.getvalue()


def busybox_layer(tmp):
    rootfs = os.path.join(tmp, "rootfs")
    eb.make_rootfs(rootfs)
    data = tar_bytes(lambda t: t.add(rootfs, arcname="."))
    shutil.rmtree(rootfs)
    return data


def random_layer(index, mib):
    def add(t):
        d = tarfile.TarInfo("data")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        t.addfile(d)
        f = tarfile.TarInfo(f"data/blob{index}")
        f.size = mib * MIB
        f.mode = 0o644
        t.addfile(f, io.BytesIO(os.urandom(f.size)))
    return tar_bytes(add)


def write_archive(path, images):
    """images: {"name:tag": [layer tar bytes, ...]} -> a docker-archive with all of them."""
    manifest = []
    with tarfile.open(path, "w") as out:
        written = set()

        def put(name, data):
            if name in written:
                return
            written.add(name)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            out.addfile(info, io.BytesIO(data))

        for tag, layers in images.items():
            diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
            config = json.dumps({
                "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"}
                            for i in range(len(layers))],
            }, sort_keys=True).encode()
            config_name = hashlib.sha256(config).hexdigest() + ".json"
            put(config_name, config)
            names = []
            for d, l in zip(diff_ids, layers):
                name = d.split(":")[1] + "/layer.tar"
                put(name, l)
                names.append(name)
            manifest.append({"Config": config_name, "RepoTags": [tag], "Layers": names})
        put("manifest.json", json.dumps(manifest).encode())


# ---- engines ----

def remove_all_images(e):
    """Every image of engine `e` removed (and with it the layers nothing else uses)."""
    p = e.call("images", "-q", "--no-trunc", check=False)
    ids = sorted(set(p.stdout.decode().split()))
    if ids:
        e.call("rmi", "-f", *ids, check=False)
    if e.name == "docker":
        e.call("image", "prune", "-af", check=False)
    left = e.call("images", "-q", check=False).stdout.decode().split()
    if left:
        raise eb.Failed(f"{e.name}: images left after rmi: {left}")


def pushed_digest(output):
    m = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    return m.group(1) if m else None


def timed(e, *args):
    """(seconds, stdout) of one CLI call; raises Failed on a non-zero exit."""
    start = time.perf_counter()
    p = subprocess.run(e.cli(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e.env, timeout=600)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        raise eb.Failed(f"{e.name}: {' '.join(args)} failed ({p.returncode}): "
                        f"{p.stderr.decode(errors='replace').strip()}")
    return elapsed, p.stdout.decode(errors="replace")


def image_digest(e, ref):
    """The repo digests the engine records for `ref` (after a pull), from `image inspect`."""
    p = e.call("image", "inspect", ref, check=False)
    try:
        return [d.split("@", 1)[1] for d in json.loads(p.stdout.decode())[0]["RepoDigests"]]
    except (ValueError, IndexError, KeyError, TypeError):
        return []


# ---- registries ----

def start_registry(kind, tmp, serial):
    """A registry of `kind` on empty storage in its own dir, started."""
    parent = os.path.join(tmp, "registries", str(serial))
    os.makedirs(parent)
    if kind == "docker-registry":
        r = rb.DockerRegistry(parent)
    else:
        r = rb.BerthRegistry(parent, eb.berth_bin("registry/berth-registry"), [])
    r.start()
    return r


def stop_registry(r):
    r.stop()
    shutil.rmtree(r.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--layer-mib", type=int, default=50)
    ap.add_argument("--registries", default="docker-registry,berth-registry")
    ap.add_argument("--engines", default="docker,berth")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    eb.require_built(("engine/berthd", "engine/cli/berth", "containerd/berth-containerd",
                      "shim/berth-shim", "runc/berth-runc", "registry/berth-registry"))
    engine_names = args.engines.split(",")
    registry_kinds = args.registries.split(",")

    tmp = tempfile.mkdtemp(prefix="berth-bench-dist-")
    # dockerd makes these whatever its flags say (plugin discovery); removed at the end if
    # they were not there before and are empty.
    host_dirs = [d for d in ("/run/docker/plugins", "/run/docker") if not os.path.exists(d)]
    engines, registries, failures = [], [], []
    try:
        print("making the images ...", flush=True)
        base = busybox_layer(tmp)
        big_layers = [base] + [random_layer(i, args.layer_mib) for i in range(args.layers)]
        archive = os.path.join(tmp, "images.tar")
        write_archive(archive, {"big:latest": big_layers, "small:latest": [base]})
        big_mb = sum(len(l) for l in big_layers) / 1e6
        del big_layers
        print(f"  big: {args.layers + 1} layers, {big_mb:.0f} MB; small: {len(base) / 1e6:.1f} MB",
              flush=True)

        for name in engine_names:
            engines.append(eb.Docker(tmp) if name == "docker" else eb.Berth(tmp))
        versions = [e.version() for e in engines]
        for kind in registry_kinds:
            r = start_registry(kind, tmp, len(registries))
            registries.append(r)
            versions.append(r.version())
            stop_registry(r)

        # results[(registry, what)][engine] = [seconds per round]
        results = {}
        for rnd in range(args.rounds):
            korder = registry_kinds if rnd % 2 == 0 else registry_kinds[::-1]
            for kind in korder:
                eorder = engines if rnd % 2 == 0 else engines[::-1]
                for e in eorder:
                    # Empty storage every time: nothing can be skipped or mounted.
                    r = start_registry(kind, tmp, len(registries))
                    registries.append(r)
                    remove_all_images(e)
                    e.call("load", "-i", archive)
                    line = [f"round {rnd + 1} {r.name:15} {e.name:6}"]
                    digests = {}
                    for image in ("big", "small"):
                        ref = f"{r.address}/bench/{image}:r{rnd}"
                        e.call("tag", f"{image}:latest", ref)
                        secs, out = timed(e, "push", ref)
                        digests[image] = pushed_digest(out)
                        results.setdefault((r.name, f"push {image}"), {}).setdefault(
                            e.name, []).append(secs)
                        line.append(f"push {image} {secs:6.2f}s")
                    for image in ("big", "small"):
                        ref = f"{r.address}/bench/{image}:r{rnd}"
                        remove_all_images(e)
                        secs, _ = timed(e, "pull", ref)
                        got = image_digest(e, ref)
                        if digests[image] and digests[image] not in got:
                            failures.append(f"{e.name} pull {ref}: digest {got}, pushed "
                                            f"{digests[image]}")
                        results.setdefault((r.name, f"pull {image}"), {}).setdefault(
                            e.name, []).append(secs)
                        line.append(f"pull {image} {secs:6.2f}s")
                    remove_all_images(e)
                    stop_registry(r)
                    print("  ".join(line), flush=True)

        print()
        print("; ".join(versions))
        print(f"{args.rounds} rounds, interleaved; images: big {big_mb:.0f} MB "
              f"({args.layers} x {args.layer_mib} MiB random + busybox), small "
              f"{len(base) / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}")
        goals = {"push big": 0.25, "pull big": 0.5}
        for kind in registry_kinds:
            print(f"\nregistry: {kind} (medians, seconds)")
            print(f"  {'':10} {'berth':>8} {'docker':>8} {'berth/docker':>13}")
            for what in ("push big", "pull big", "push small", "pull small"):
                v = results.get((kind, what), {})
                b = statistics.median(v["berth"]) if "berth" in v else float("nan")
                d = statistics.median(v["docker"]) if "docker" in v else float("nan")
                ratio = b / d if d == d and d else float("nan")
                goal = ""
                if what in goals and ratio == ratio:
                    goal = (f"  goal <= {goals[what]}x: "
                            f"{'met' if ratio <= goals[what] else 'NOT met'}")
                print(f"  {what:10} {b:8.2f} {d:8.2f} {ratio:12.2f}x{goal}")
            for what in ("push big", "pull big"):
                v = results.get((kind, what), {})
                print(f"  per round, {what}: " + "; ".join(
                    f"{k} {' '.join(f'{x:.2f}' for x in xs)}" for k, xs in sorted(v.items())))
    finally:
        print(f"\n  load average at end {os.getloadavg()[0]:.2f}")
        for r in registries:
            try:
                r.stop()
            except Exception as err:  # keep cleaning up the others
                failures.append(f"stop {r.name}: {err}")
        eb.clean_up(tmp, engines, host_dirs, failures)

if __name__ == "__main__":
    main()
