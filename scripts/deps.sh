#!/usr/bin/env bash
# Install everything paxoskeeper needs to build and test on Debian 12.  Idempotent:
# apt is skipped when every package is already installed.
set -euo pipefail

PKGS=(
  build-essential clang llvm libclang-rt-14-dev pkg-config make git
  libuv1-dev libssl-dev libsasl2-dev libsasl2-modules sasl2-bin
  libzookeeper-mt-dev zookeeper-bin zookeeper default-jre-headless
  libcriterion-dev libedit-dev
  python3 python3-pytest python3-kazoo python3-gevent python3-eventlet python3-pure-sasl python3-mock python3-objgraph python3-pytest-timeout
  procps iproute2
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps.sh: all ${#PKGS[@]} packages present, skipping apt"
  exit 0
fi

echo "deps.sh: installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Retry while another apt/dpkg holds the lock.
for attempt in 1 2 3 4 5 6; do
  if $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    exit 0
  fi
  echo "deps.sh: apt failed (attempt $attempt), retrying in 10 s" >&2
  sleep 10
done
echo "deps.sh: could not install packages" >&2
exit 1
