#!/usr/bin/env bash
# Times a one-component Slipway deployment (new commit → fetch, build,
# restart, wait for health) against a shell script doing the same raw steps
# (git clone, go build, stop the old process, start, poll health) on the
# same machine in the same run, alternating, and prints medians and the
# ratio. The app is a stdlib-only Go web server; both sides share the warm
# Go build cache, so the build does the same work on each side.
#
#   bench/deploy-overhead.sh [ROUNDS]     (default 7)
set -euo pipefail
rounds=${1:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
server_pid="" raw_pid=""
cleanup() {
  [ -n "$raw_pid" ] && kill "$raw_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && { kill -INT "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
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

# Slipway: a server of its own, one tool with one health-checked component.
export SLIPWAY_DATA="$work/data" SLIPWAY_TOOL=bench
"$slipway" server --listen 127.0.0.1:0 --proxy-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do [ -f "$SLIPWAY_DATA/server.json" ] && break; sleep 0.05; done
cat > "$work/tool.yaml" <<YAML
components:
  web:
    component_type: continuous
    build: {repository: "file://$app", ref: main}
    run: {command: web, port: 8000, health_check_http: /healthz}
YAML
"$slipway" components config create "$work/tool.yaml" >/dev/null
"$slipway" components deployment create --watch >/dev/null  # warm-up: first build, start

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
slip_times=() raw_times=()
slip_round() {
  commit "s$1"
  t0=$(now); "$slipway" components deployment create --watch >"$work/deploy.out"; t1=$(now)
  grep -q '^All components deployed$' "$work/deploy.out" || { cat "$work/deploy.out"; exit 1; }
  slip_times+=($(( (t1 - t0) / 1000000 )))
}
raw_round() {
  commit "r$1"
  t0=$(now); raw_deploy; t1=$(now)
  raw_times+=($(( (t1 - t0) / 1000000 )))
}
# Alternate which side goes first, so that neither always runs on a cache
# or CPU state the other left behind.
for i in $(seq 1 "$rounds"); do
  if (( i % 2 )); then slip_round "$i"; raw_round "$i"; else raw_round "$i"; slip_round "$i"; fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "${slip_times[@]}") mr=$(median "${raw_times[@]}")
diffs=()
for i in "${!slip_times[@]}"; do diffs+=($(( slip_times[i] - raw_times[i] ))); done
md=$(median "${diffs[@]}")
echo "rounds:           $rounds"
echo "slipway (ms):     ${slip_times[*]}  median $ms"
echo "raw steps (ms):   ${raw_times[*]}  median $mr"
echo "paired diff (ms): ${diffs[*]}  median $md"
awk -v s="$ms" -v r="$mr" -v d="$md" 'BEGIN{printf "ratio:            %.3f× of medians; overhead %+d ms (median of paired differences); goal ≤ 1.05× and < 50 ms\n", s/r, d}'
