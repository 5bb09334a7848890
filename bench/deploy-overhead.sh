#!/usr/bin/env bash
# Times a one-component Slipway deployment (new commit → fetch, build,
# restart, wait for health) against a shell script doing the same raw steps
# (git clone, go build, stop the old process, start, poll health) on the
# same machine in the same run, alternating, and prints medians and the
# ratio. The app is a stdlib-only Go web server; every side starts from a
# warm Go build cache, so the build does the same work on each.
#
# Slipway runs twice, side by side: with its sandbox (the default: builds
# and processes confined, with limits) and with --unsandboxed (what Slipway
# did before the sandbox), so that the sandbox's own cost shows as a ratio
# of the two in the same run.
#
#   bench/deploy-overhead.sh [ROUNDS]     (default 7)
#
# BASELINE_BIN=/path/to/an/older/slipway adds a fourth side, that binary's
# server (e.g. the last release, built from its commit), so that today's
# ratio can be set against it in the same run.
set -euo pipefail
rounds=${1:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
server_pid="" open_pid="" base_pid="" raw_pid=""
cleanup() {
  [ -n "$raw_pid" ] && kill "$raw_pid" 2>/dev/null || true
  for p in $server_pid $open_pid $base_pid; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP_BENCH:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

export GOCACHE=${GOCACHE:-$(go env GOCACHE)} GOFLAGS=-buildvcs=false
go build -o "$work/slipway" "$root/cmd/slipway"
slipway="$work/slipway"

# The app and its repository.
app="$work/app"
mkdir -p "$app"
cat > "$app/go.mod" <<'GO'
module example.com/bench

go 1.22
GO
cat > "$app/main.go" <<'GO'
package main

import (
	"fmt"
	"net/http"
	"os"
)

var version = "0"

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok", version) })
	fmt.Println(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
GO
echo "web: .bin/app" > "$app/Procfile"
git -C "$app" init -q -b main
commit() { # a new commit that changes the binary
  sed -i "s/^var version = .*/var version = \"$1\"/" "$app/main.go"
  git -C "$app" -c user.name=bench -c user.email=bench@invalid add -A
  git -C "$app" -c user.name=bench -c user.email=bench@invalid commit -q -m "v$1"
}
commit 0

# Slipway: two servers of their own (sandboxed, and --unsandboxed), each with
# one tool with one health-checked component.
export SLIPWAY_TOOL=bench
cat > "$work/tool.yaml" <<YAML
components:
  web:
    component_type: continuous
    build: {repository: "file://$app", ref: main}
    run: {command: web, port: 8000, health_check_http: /healthz}
YAML
start_server() { # BIN DATA [FLAGS…]: starts a server, deploys once (warm-up)
  local bin=$1 data=$2; shift 2
  SLIPWAY_DATA=$data "$bin" server --listen 127.0.0.1:0 --proxy-listen 127.0.0.1:0 "$@" >"$data.log" 2>&1 &
  last_pid=$!
  for _ in $(seq 1 600); do [ -f "$data/server.json" ] && break; sleep 0.05; done
  SLIPWAY_DATA=$data "$bin" components config create "$work/tool.yaml" >/dev/null
  SLIPWAY_DATA=$data "$bin" components deployment create --watch >/dev/null # first build, start
}
start_server "$slipway" "$work/data"
server_pid=$last_pid
start_server "$slipway" "$work/open" --unsandboxed
open_pid=$last_pid
sides="s o r"
if [ -n "${BASELINE_BIN:-}" ]; then
  start_server "$BASELINE_BIN" "$work/base"
  base_pid=$last_pid
  sides="s o b r"
fi
head -3 "$work/data.log" | grep -i sandbox || true

# The raw steps, as a person would script them.
raw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
raw_deploy() {
  rm -rf "$work/raw"
  git clone -q "file://$app" "$work/raw"
  (cd "$work/raw" && CGO_ENABLED=0 go build -trimpath -o .bin/app .)
  if [ -n "$raw_pid" ]; then kill "$raw_pid" 2>/dev/null || true; wait "$raw_pid" 2>/dev/null || true; fi
  (cd "$work/raw" && PORT=$raw_port exec .bin/app >/dev/null 2>&1) &
  raw_pid=$!
  until curl -sf "http://127.0.0.1:$raw_port/healthz" >/dev/null 2>&1; do sleep 0.01; done
}
raw_deploy # warm-up

now() { date +%s%N; }
slip_times=() open_times=() base_times=() raw_times=()
slip_deploy() { # DATA [BIN]
  SLIPWAY_DATA=$1 "${2:-$slipway}" components deployment create --watch >"$work/deploy.out"
  grep -q '^All components deployed$' "$work/deploy.out" || { cat "$work/deploy.out"; exit 1; }
}
round() { # SIDE I
  commit "$1$2"
  local t0 t1
  t0=$(now)
  case $1 in
    s) slip_deploy "$work/data" ;;
    o) slip_deploy "$work/open" ;;
    b) slip_deploy "$work/base" "$BASELINE_BIN" ;;
    r) raw_deploy ;;
  esac
  t1=$(now)
  case $1 in
    s) slip_times+=($(( (t1 - t0) / 1000000 ))) ;;
    o) open_times+=($(( (t1 - t0) / 1000000 ))) ;;
    b) base_times+=($(( (t1 - t0) / 1000000 ))) ;;
    r) raw_times+=($(( (t1 - t0) / 1000000 ))) ;;
  esac
}
# Rotate which side goes first, so that none always runs on a cache or CPU
# state another left behind.
read -ra order <<<"$sides"
for i in $(seq 1 "$rounds"); do
  n=${#order[@]}
  for j in $(seq 0 $((n - 1))); do round "${order[$(( (i + j) % n ))]}" "$i"; done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "${slip_times[@]}") mo=$(median "${open_times[@]}") mr=$(median "${raw_times[@]}")
diffs=() sdiffs=()
for i in "${!slip_times[@]}"; do
  diffs+=($(( slip_times[i] - raw_times[i] )))
  sdiffs+=($(( slip_times[i] - open_times[i] )))
done
md=$(median "${diffs[@]}") msd=$(median "${sdiffs[@]}")
echo "rounds:                  $rounds"
echo "slipway, sandboxed (ms): ${slip_times[*]}  median $ms"
echo "slipway, unsandboxed:    ${open_times[*]}  median $mo"
echo "raw steps (ms):          ${raw_times[*]}  median $mr"
echo "paired diff vs raw (ms): ${diffs[*]}  median $md"
echo "sandbox's cost (ms):     ${sdiffs[*]}  median $msd"
awk -v s="$ms" -v o="$mo" -v r="$mr" -v d="$md" -v sd="$msd" 'BEGIN{
  printf "ratio, sandboxed:        %.3f× of raw (overhead %+d ms, median of paired differences)\n", s/r, d
  printf "ratio, unsandboxed:      %.3f× of raw\n", o/r
  printf "the sandbox:             %.3f× of the unsandboxed overhead ratio (%+d ms a deployment); goal ≤ 1.05×\n", (s/r)/(o/r), sd
}'
if [ -n "${BASELINE_BIN:-}" ]; then
  mb=$(median "${base_times[@]}")
  bdiffs=()
  for i in "${!slip_times[@]}"; do bdiffs+=($(( slip_times[i] - base_times[i] ))); done
  mbd=$(median "${bdiffs[@]}")
  echo "slipway, baseline (ms):  ${base_times[*]}  median $mb"
  echo "vs baseline (ms):        ${bdiffs[*]}  median $mbd"
  awk -v s="$ms" -v b="$mb" -v r="$mr" -v d="$mbd" 'BEGIN{
    printf "ratio, baseline:         %.3f× of raw\n", b/r
    printf "sandboxed vs baseline:   %.3f× of the baseline overhead ratio (%+d ms a deployment, median of paired differences)\n", (s/r)/(b/r), d
  }'
fi
