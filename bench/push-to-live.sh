#!/usr/bin/env bash
# Push-to-live: a commit of a small Python web app whose dependencies did
# not change, from the deployment's POST to the new version answering
# through Slipway's proxy, with requests flowing through the proxy the
# whole time (any that fails is counted and named). Prints each round, the
# median against the 400 ms goal, and the breakdown (queue + ref
# resolution + plan, build, start + health wait, proxy switch).
#
#   bench/push-to-live.sh [ROUNDS] [-- SERVER FLAGS…]   (default 11 rounds)
#
# e.g. bench/push-to-live.sh 11 -- --unsandboxed shows what the sandbox costs.
set -euo pipefail
rounds=${1:-11}
shift || true
[ "${1:-}" = "--" ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/slipway-push-bin.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-buildvcs=false
go build -o "$work/slipway" "$root/cmd/slipway"
go build -o "$work/pushtolive" "$root/bench/pushtolive"
"$work/pushtolive" -slipway "$work/slipway" -rounds "$rounds" -server-flags "$*"
