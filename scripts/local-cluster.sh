#!/usr/bin/env bash
# Brings up a local cluster on this machine: 3 real Docker engines (node-1..node-3, with region
# labels) and a swarm manager in front of them, then prints the DOCKER_HOST to export.
# Installs the Debian packages and runs `npm ci` first where they are missing. Needs root
# (dockerd runs as root). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "run as root: the engines are real dockerd processes" >&2
  exit 1
fi

packages=(docker.io containerd runc busybox-static util-linux gcc g++ make python3)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ ! -f core/dist/cli/main.js ]; then
  echo "installing npm dependencies and building ..."
  npm ci --no-audit --no-fund >/dev/null
fi

exec node scripts/local-cluster.mjs "$@"
