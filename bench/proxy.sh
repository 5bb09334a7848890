#!/bin/sh
# The front door under load (issue 16): 2,000 requests/s over 50 published
# tools for 10 s on loopback, to the apps directly and then through the
# proxy; prints p50/p99 of each, what the proxy adds at p99 (goal < 1 ms)
# and the errors (goal 0). SLIPWAY_BENCH_PROXY_SECONDS and SLIPWAY_BENCH_PROXY_RATE change them.
set -eu
cd "$(dirname "$0")/.."
exec ${GO:-go} test -run '^$' -bench BenchmarkProxyLoad -benchtime 1x -timeout 5m ./internal/edge/
