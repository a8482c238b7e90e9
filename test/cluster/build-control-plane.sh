#!/usr/bin/env bash
# Builds the test control plane from pinned upstream Go modules: kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl (the tests drive the cluster with it as users do) from k8s.io/kubernetes (staging modules replaced by
# their published versions in build/control-plane/go.mod) and etcd from go.etcd.io/etcd/server/v3
# (build/etcd/go.mod). Binaries go to a cache outside the repo keyed by the versions and are
# reused when present. Prints the cache directory on its last line.
# Cold build on 2 cores: about 10 minutes (9 min 3 s measured with modules already downloaded). No product code is written in Go.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
KUBE_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
cache="${ENGRAM_CLUSTER_CACHE:-$HOME/.cache/engram-stream/control-plane}/k8s-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
mkdir -p "$cache"

minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

for component in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [ ! -x "$cache/$component" ]; then
    echo "building $component $KUBE_VERSION (cached in $cache)" >&2
    (cd "$here/build/control-plane" && go build -trimpath -ldflags "$kube_ldflags" -o "$cache/$component.tmp" "k8s.io/kubernetes/cmd/$component")
    mv "$cache/$component.tmp" "$cache/$component"
  fi
done
if [ ! -x "$cache/etcd" ]; then
  echo "building etcd $ETCD_VERSION (cached in $cache)" >&2
  (cd "$here/build/etcd" && go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" -o "$cache/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$cache/etcd.tmp" "$cache/etcd"
fi
echo "$cache"
