#!/usr/bin/env bash
# Makes local stand-ins for the public base images the Dockerfiles name by default, because no
# image registry is reachable here:
#   engram.io/base/node:20-bookworm-slim  Debian bookworm (debootstrap, minbase) + this machine's Node 20
#   engram.io/base/node:20-bookworm       the same + g++, make, python3 (what node:20-bookworm has for node-gyp)
#                                         and this machine's CA bundle (its registries sit behind a TLS proxy)
# Users build from node:20-bookworm / node:20-bookworm-slim instead (the Dockerfiles' defaults).
# The debootstrap tree is cached as a tarball in ~/.cache so a fresh Docker data root re-imports it in seconds.
set -euo pipefail
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${ENGRAM_IMAGES_CACHE:-$HOME/.cache/engram-stream/images}"
node_version="$(node --version)"
case "$node_version" in v20.*) ;; *) echo "need Node 20 on the host to put in the base image, have $node_version" >&2; exit 1 ;; esac
slim="engram.io/base/node:20-bookworm-slim"
full="engram.io/base/node:20-bookworm"
mkdir -p "$cache"

if ! docker image inspect "$slim" >/dev/null 2>&1; then
  tarball="$cache/debian-$SUITE-minbase.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap not found: apt-get install debootstrap (npm run tools does)" >&2; exit 1; }
    rootfs="$(mktemp -d)"
    echo "debootstrap $SUITE (minbase) from $MIRROR" >&2
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >&2
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  # Node where the official images have it: /usr/local/bin/node, npm under /usr/local/lib/node_modules,
# headers under /usr/local/include/node.
  ctx="$(mktemp -d)"
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  mkdir -p "$ctx/usr/local/bin" "$ctx/usr/local/lib/node_modules" "$ctx/usr/local/include"
  cp "$node_bin" "$ctx/usr/local/bin/node"
  # headers too (the official images have them), so node-gyp needs no download: npm_config_nodedir=/usr/local
  cp -a "$(dirname "$(dirname "$node_bin")")/include/node" "$ctx/usr/local/include/node"
  cp -a "$npm_dir" "$ctx/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/usr/local/bin/npx"
  docker import "$tarball" "engram.io/base/debian:$SUITE" >/dev/null
  printf 'FROM engram.io/base/debian:%s\nCOPY usr /usr\nENV NODE_VERSION=%s\nCMD ["node"]\n' "$SUITE" "${node_version#v}" > "$ctx/Dockerfile"
  docker build -q -t "$slim" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

if ! docker image inspect "$full" >/dev/null 2>&1; then
  # This machine reaches the npm registry through a TLS proxy whose CA is in the host's bundle:
  # the build base trusts that bundle too (NODE_EXTRA_CA_CERTS, as on the host).
  ctx="$(mktemp -d)"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-certificates.crt"
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM $slim
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY host-ca-certificates.crt /usr/local/share/engram/host-ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/engram/host-ca-certificates.crt
DOCKERFILE
  docker build --network host -q -t "$full" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
echo "$full $slim"
