#!/usr/bin/env bash
# Builds the Kubernetes test control plane from the Go module proxy and
# prints the directory that holds it:
#
#   etcd  kube-apiserver  kube-controller-manager  kube-scheduler  kwok
#   kwok-stages.yaml  (kwok's node and pod stages, from its module)
#
# The versions are pinned by two modules of their own, kept out of
# Slipway's go.mod: tools/kube (k8s.io/kubernetes and etcd, at upstream's
# pins) and tools/kube/kwok (kwok, whose newer grpc and otel would move the
# apiserver's). The directory is
#
#   ${SLIPWAY_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway/kube/<key>}
#
# where <key> hashes both modules' go.mod and go.sum, the Go version and
# this script: a change of any of them builds anew into a new directory.
# A stamp holding the key is written last, so a directory with its stamp
# is whole; a warm call only checks it. Two calls at once build once: the
# second waits on a lock and then finds the stamp. The directory goes to
# stdout, progress to stderr. A cold build takes 6-7 minutes on 2 idle
# cores (much longer on busy ones) and about 3 GB of GOCACHE; with GOCACHE
# warm, a change of key costs about a minute of linking. Directories of
# old keys are left for the user to delete: another checkout may still use
# them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mods=$root/tools/kube
GO=${GO:-go}
# The modules are built as they are, whatever the caller's workspace or
# flags.
export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"

key=$(cat "$mods/go.mod" "$mods/go.sum" "$mods/kwok/go.mod" "$mods/kwok/go.sum" "${BASH_SOURCE[0]}" |
	{ cat; "$GO" env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)
dir=${SLIPWAY_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway/kube/$key}
stamp=$dir/.stamp

if [[ -f $stamp && $(<"$stamp") == "$key" ]]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	echo "kube-bin: waiting for another build of $dir" >&2
	flock 9
fi
if [[ -f $stamp && $(<"$stamp") == "$key" ]]; then
	echo "$dir"
	exit 0
fi
rm -f "$stamp"

k8s=$(cd "$mods" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes)
kwok=$(cd "$mods/kwok" && "$GO" list -m -f '{{.Version}}' sigs.k8s.io/kwok)
[[ $k8s =~ ^v([0-9]+)\.([0-9]+)\. ]] || { echo "kube-bin: no k8s.io/kubernetes version in $mods/go.mod" >&2; exit 1; }
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}

t0=$SECONDS
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "kube-bin: building kube-apiserver, kube-controller-manager, kube-scheduler $k8s and etcd into $dir (cold: 6-7 min on 2 idle cores)" >&2
# Without the version ldflags the servers report v0.0.0-master+$Format:%H$,
# which clients fail to parse.
cv=k8s.io/component-base/version
(cd "$mods" && "$GO" build -trimpath -o "$tmp/" -ldflags="-s -w -X $cv.gitVersion=$k8s -X $cv.gitMajor=$major -X $cv.gitMinor=$minor -X $cv.gitTreeState=clean" tool)
# etcd's main package is go.etcd.io/etcd/server/v3, so go build names it
# "server".
mv "$tmp/server" "$tmp/etcd"

echo "kube-bin: building kwok $kwok" >&2
(cd "$mods/kwok" && "$GO" build -trimpath -o "$tmp/" -ldflags="-s -w" tool)

# kwok does nothing without stages ("no stages found"): its module ships
# them as kustomize files; one file of them all does for --config.
stages=$(cd "$mods/kwok" && "$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
	echo ---
	cat "$stages/$f"
done >"$tmp/kwok-stages.yaml"

for f in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwok-stages.yaml; do
	mv -f "$tmp/$f" "$dir/$f"
done
echo "$key" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "kube-bin: built in $((SECONDS - t0)) s" >&2
echo "$dir"
