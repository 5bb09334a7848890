#!/usr/bin/env bash
# Many tools on one host: N tools (default 1,000), each with one idle
# continuous process, sandboxed and limited as the server's defaults are,
# deployed from one client over keep-alive. Prints the deploy time, the
# server's RSS, its CPU while nothing changes, the processes and memory a
# tool costs, `deployment show` and `config` read latency at 1,000
# requests/s spread over the tools, and the data directory's size.
#
#   bench/scale-tools.sh [N] [-- SERVER FLAGS…]
#
# SCALE_FLAGS passes more flags to the driver (e.g. "-idle 10s -read 5s").
set -euo pipefail
n=${1:-1000}
shift || true
[ "${1:-}" = "--" ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/slipway-scale-bin.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-buildvcs=false
go build -o "$work/slipway" "$root/cmd/slipway"
go build -o "$work/scaletools" "$root/bench/scaletools"
# shellcheck disable=SC2086 # SCALE_FLAGS is a list of flags
"$work/scaletools" -slipway "$work/slipway" -tools "$n" ${SCALE_FLAGS:-} -server-flags "$*"
