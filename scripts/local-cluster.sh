#!/usr/bin/env bash
# Brings up a local cluster on this machine: 3 real Docker engines (node-1..node-3, with region
# labels) and a swarm manager in front of them, then prints the DOCKER_HOST to export.
# Installs the Debian packages and runs `npm ci` first where they are missing. Needs root
# (dockerd runs as root). Ctrl-C stops everything it started.
#
# With --simulated N the engines are N simulated ones in one process (bench/fleet): no root, no
# dockerd and no Debian packages, only Node.js and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

simulated=0
for arg in "$@"; do
  case "$arg" in
    --simulated | --simulated=*) simulated=1 ;;
  esac
done

if [ "$simulated" -eq 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: the engines are real dockerd processes (or use --simulated N)" >&2
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
fi

if [ ! -d node_modules ] || [ ! -f core/dist/cli/main.js ]; then
  echo "installing npm dependencies and building ..."
  npm ci --no-audit --no-fund >/dev/null
fi

if [ "$simulated" -eq 1 ] && [ ! -f bench/dist/fleet/cli.js ]; then
  echo "building the simulated fleet ..."
  npx tsc -p bench/fleet
fi

exec node scripts/local-cluster.mjs "$@"
