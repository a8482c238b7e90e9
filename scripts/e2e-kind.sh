#!/usr/bin/env bash
# End to end on kind, for machines with Docker, kind, kubectl and helm (it cannot run on the
# project's CI machines: they reach no image registry, so kind's node image cannot be pulled).
# Creates a kind cluster (or reuses it), builds the images, loads them into the cluster, installs
# the chart, applies the example EngramStream, waits for it to be Ready, streams 5,000 observations
# to it through a port-forward and recalls one. KIND_CLUSTER names the cluster (default engram-e2e);
# KEEP_CLUSTER=1 leaves it running.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cluster="${KIND_CLUSTER:-engram-e2e}"
for tool in docker kind kubectl helm node; do
  command -v "$tool" >/dev/null || { echo "e2e:kind needs $tool on PATH" >&2; exit 1; }
done
[ -f "$root/engine/dist/cli/main.js" ] || { echo "run npm ci first (the engram CLI streams to the cluster)" >&2; exit 1; }
version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/engram-operator/Chart.yaml")"

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
kubectl config use-context "kind-$cluster" >/dev/null
cleanup() {
  [ -n "${forward:-}" ] && kill "$forward" 2>/dev/null || true
  [ "${KEEP_CLUSTER:-0}" = 1 ] || kind delete cluster --name "$cluster"
}
trap cleanup EXIT

bash "$root/scripts/build-images.sh"
kind load docker-image --name "$cluster" "engram.io/engine:$version" "engram.io/operator:$version"

helm upgrade --install engram-operator "$root/charts/engram-operator" --namespace engram-system --create-namespace --wait --timeout 5m
kubectl apply -f "$root/examples/engramstream.yaml"
kubectl wait engramstream/memory --for=condition=Ready --timeout=300s
kubectl get engramstreams

port=$((20000 + RANDOM % 20000))
kubectl port-forward svc/memory "$port:50051" >/dev/null 2>&1 &
forward=$!
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
engram() { node "$root/engine/dist/cli/main.js" "$@" --address "127.0.0.1:$port"; }
engram observe --space acme-e2e --tenant acme --generate 5000
engram recall --space acme-e2e --random --k 5
engram stats
echo "e2e:kind passed"
