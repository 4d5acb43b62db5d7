#!/usr/bin/env bash
# Installs every Debian 12 package berth's build, daemons and tests use. Idempotent: it only
# calls apt-get when something is missing. Run as root.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap default-jdk-headless g++ pkg-config python3 git
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libgoogle-glog-dev libgflags-dev prometheus-cpp-dev
  googletest libgtest-dev libgmock-dev
  libssl-dev libsqlite3-dev libarchive-dev libseccomp-dev libcap-dev
  nlohmann-json3-dev libcurl4-openssl-dev libboost-dev libre2-dev libdeflate-dev
  # static archives for the fully static berth-shim (gRPC's own dependencies)
  libc-ares-dev zlib1g-dev liblzma-dev libunwind-dev
  # runtime and tests: promtool (prometheus), base images (busybox-static), networking
  prometheus busybox-static iproute2 iptables curl ca-certificates
  # interop tests and benchmarks: runc (berth-containerd with another OCI runtime), skopeo (a
  # real registry client for berth-registry), dockerd/containerd/docker-registry 2.8 (docker
  # push/pull and ctr pull against berth-registry, berth against docker-registry), openssl (test
  # certificates for TLS); the tests skip cleanly without them
  runc skopeo containerd docker.io docker-registry openssl
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # --no-install-recommends: prometheus would otherwise pull in node-exporter and friends.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The API sockets are 0660 and owned by this group (like docker's).
getent group berth >/dev/null || groupadd --system berth
echo "install-deps.sh: all ${#PACKAGES[@]} packages present"
