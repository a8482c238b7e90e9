#!/usr/bin/env bash
# Starts Debian's dockerd (package docker.io) by hand when no Docker engine answers: no init system
# runs services here. Leaves it running for later runs; its log is in $ENGRAM_DOCKERD_LOG.
set -euo pipefail
log="${ENGRAM_DOCKERD_LOG:-/tmp/engram-dockerd.log}"
if docker info >/dev/null 2>&1; then exit 0; fi
command -v dockerd >/dev/null || { echo "dockerd not found: apt-get install docker.io (npm run tools does)" >&2; exit 1; }
echo "starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not answer within 30 s; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1
