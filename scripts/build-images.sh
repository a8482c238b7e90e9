#!/usr/bin/env bash
# Builds the engine and operator images from engine/Dockerfile and operator/Dockerfile:
#   engram.io/engine:$VERSION and engram.io/operator:$VERSION (VERSION: the chart's appVersion).
# Bases: BUILD_IMAGE (default node:20-bookworm) and RUNTIME_IMAGE (default node:20-bookworm-slim).
#   --local-base  build on local stand-ins for those bases (test/images/make-base-images.sh:
#                 debootstrap + this machine's Node 20), for machines that reach no image registry.
#   --registry R  tag as R/engram-engine and R/engram-operator instead, ready to push.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/engram-operator/Chart.yaml")"
build_image="${BUILD_IMAGE:-node:20-bookworm}"
runtime_image="${RUNTIME_IMAGE:-node:20-bookworm-slim}"
engine_repo=engram.io/engine
operator_repo=engram.io/operator
while [ $# -gt 0 ]; do
  case "$1" in
    --local-base)
      bash "$root/test/images/start-dockerd.sh"
      read -r build_image runtime_image < <(bash "$root/test/images/make-base-images.sh" | tail -1) ;;
    --registry) engine_repo="$2/engram-engine"; operator_repo="$2/engram-operator"; shift ;;
    *) echo "usage: $0 [--local-base] [--registry REGISTRY]" >&2; exit 2 ;;
  esac
  shift
done
for component in engine operator; do
  repo_var="${component}_repo"
  tag="${!repo_var}:$version"
  echo "building $tag (bases $build_image, $runtime_image)" >&2
  docker build --network host -f "$root/$component/Dockerfile" \
    --build-arg "BUILD_IMAGE=$build_image" --build-arg "RUNTIME_IMAGE=$runtime_image" -t "$tag" "$root"
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^(${engine_repo}|${operator_repo}):${version} "
