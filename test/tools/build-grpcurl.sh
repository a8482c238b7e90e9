#!/usr/bin/env bash
# Builds the pinned grpcurl (github.com/fullstorydev/grpcurl, build/grpcurl/go.mod and go.sum), the
# generic gRPC client users reach for, cached. Prints the binary's path on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/build-go-tool.sh" grpcurl v1.9.4 github.com/fullstorydev/grpcurl/cmd/grpcurl "-X main.version=v1.9.4"
