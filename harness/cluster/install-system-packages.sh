#!/usr/bin/env bash
# Installs the Debian packages mcpwarm needs when they are missing: with apt-get when run as root,
# otherwise it names them and fails. Usage: install-system-packages.sh [--check]
set -euo pipefail

# command-on-PATH:debian-package
required=(
  docker-registry:docker-registry
  skopeo:skopeo
  runc:runc
  bwrap:bubblewrap
  setfattr:attr
  zstd:zstd
  dockerd:docker.io
  openssl:openssl
  mount:mount
  tar:tar
  ip:iproute2
  tc:iproute2
  kubectl:kubernetes-client
)

missing=()
for pair in "${required[@]}"; do
  command=${pair%%:*}
  package=${pair##*:}
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null 2>&1; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "${1:-}" = "--check" ] || [ "$(id -u)" -ne 0 ]; then
  echo "mcpwarm needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# One package can provide several commands.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
