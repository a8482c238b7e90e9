#!/usr/bin/env bash
# Builds the pinned helm from its upstream Go module (helm.sh/helm/v3/cmd/helm, pinned with its
# dependencies in build/helm/go.mod and go.sum) into a cache outside the repo, reused when present.
# Prints the binary's path on its last line. Cold build on 2 cores: about 3.5 minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
HELM_VERSION=v3.22.0
cache="${ENGRAM_TOOLS_CACHE:-$HOME/.cache/engram-stream/tools}/helm-${HELM_VERSION}"
mkdir -p "$cache"
if [ ! -x "$cache/helm" ]; then
  echo "building helm $HELM_VERSION (cached in $cache)" >&2
  (cd "$here/build/helm" && go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    -o "$cache/helm.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$cache/helm.tmp" "$cache/helm"
fi
echo "$cache/helm"
