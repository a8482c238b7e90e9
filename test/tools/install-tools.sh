#!/usr/bin/env bash
# The tools the tests use besides Node and Go, installed when missing:
#   prometheus, promtool  Debian's `prometheus` package (alert rule tests, dashboard queries)
#   dockerd, docker       Debian's `docker.io` (image builds; the tests start dockerd themselves)
#   debootstrap           the local stand-in for the public base images (no image registry here)
#   helm, grpcurl         built from their pinned upstream Go modules (build-helm.sh, build-grpcurl.sh, cached)
# Installing Debian packages needs root; without it the script says what to install and stops.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (as root: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # policy-rc.d: the packages must not try to start services (no init system; tests start them)
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=true
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi
fi
command -v docker >/dev/null || { echo "no docker client: apt-get install docker.io" >&2; exit 1; }
helm="$(bash "$here/build-helm.sh" | tail -1)"
grpcurl="$(bash "$here/build-grpcurl.sh" | tail -1)"
echo "tools: $(prometheus --version 2>&1 | head -1); $(docker --version); helm $("$helm" version --short); $("$grpcurl" --version 2>&1)"
