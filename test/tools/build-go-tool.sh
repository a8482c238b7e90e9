#!/usr/bin/env bash
# Builds a test tool from its pinned upstream Go module (build/NAME/go.mod and go.sum) into a cache
# outside the repo, reused when present. Prints the binary's path on its last line.
#   build-go-tool.sh NAME VERSION PACKAGE [LDFLAGS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="$1" version="$2" package="$3" ldflags="${4:-}"
cache="${ENGRAM_TOOLS_CACHE:-$HOME/.cache/engram-stream/tools}/${name}-${version}"
mkdir -p "$cache"
if [ ! -x "$cache/$name" ]; then
  echo "building $name $version (cached in $cache)" >&2
  (cd "$here/build/$name" && go build -trimpath -ldflags "-s -w $ldflags" -o "$cache/$name.tmp" "$package")
  mv "$cache/$name.tmp" "$cache/$name"
fi
echo "$cache/$name"
