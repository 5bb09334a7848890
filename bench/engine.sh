#!/usr/bin/env bash
# Two engine benchmarks, each against its stated baseline in the same run:
#  1. DAG parallelism: 8 independent components whose builds each sleep 1 s,
#     on a server with 2 build slots: wall time against the ideal 4 s
#     (goal ≤ 1.15×).
#  2. No-op redeploy: a tool of 10 components from 2 repositories served by
#     git daemon (git://): wall time of a redeploy that builds and restarts
#     nothing, against 2 sequential `git ls-remote` calls (goal ≤ 1.3×).
#
#   bench/engine.sh [ROUNDS]     (default 5)
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/slipway-bench.XXXXXX)
server_pid="" daemon_pid=""
cleanup() {
  [ -n "$server_pid" ] && { kill -INT "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
  [ -n "$daemon_pid" ] && { kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
export GOFLAGS=-buildvcs=false
go build -o "$work/slipway" "$root/cmd/slipway"
slipway="$work/slipway"
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
g() { git -c user.name=bench -c user.email=bench@invalid "$@"; }
repo() { # repo NAME: a repository whose build sleeps 1 s
  mkdir -p "$work/repos/$1/.slipway"
  printf '#!/bin/sh\nsleep 1\n' > "$work/repos/$1/.slipway/build"
  chmod +x "$work/repos/$1/.slipway/build"
  echo "web: exec python3 -m http.server \"\$PORT\" --bind 127.0.0.1" > "$work/repos/$1/Procfile"
  echo "$1" > "$work/repos/$1/index.html"
  g -C "$work/repos/$1" init -q -b main && g -C "$work/repos/$1" add -A && g -C "$work/repos/$1" commit -qm init
}

export SLIPWAY_DATA="$work/data"
"$slipway" server --listen 127.0.0.1:0 --proxy-listen 127.0.0.1:0 --build-slots 2 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do [ -f "$SLIPWAY_DATA/server.json" ] && break; sleep 0.05; done

# 1. DAG parallelism. Scheduled components are "registered" at once, so the
# wall time is the builds'. Each round forces new builds of all 8.
{
  echo "components:"
  for i in $(seq 1 8); do
    repo "p$i"
    printf '  p%s:\n    component_type: scheduled\n    build: {repository: "file://%s", ref: main}\n    run: {command: "true", schedule: "@daily"}\n' "$i" "$work/repos/p$i"
  done
} > "$work/parallel.yaml"
"$slipway" components config create "$work/parallel.yaml" --tool par >/dev/null
par=()
for r in $(seq 1 "$rounds"); do
  t0=$(now); "$slipway" components deployment create --force-build --watch --tool par >"$work/out"; t1=$(now)
  grep -q '^All components deployed$' "$work/out" || { cat "$work/out"; exit 1; }
  par+=("$(ms "$t0" "$t1")")
done
mp=$(median "${par[@]}")
echo "parallel builds (ms):  ${par[*]}  median $mp"
awk -v m="$mp" 'BEGIN{printf "  8 builds × 1 s on 2 slots: %.3f× the ideal 4 s (goal ≤ 1.15×)\n", m/4000}'

# 2. No-op redeploy over git://.
repo a; repo b
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$work/repos" --export-all "$work/repos" >/dev/null 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do git ls-remote "git://127.0.0.1:$port/a" >/dev/null 2>&1 && break; sleep 0.05; done
git ls-remote "git://127.0.0.1:$port/a" >/dev/null || { echo "git daemon did not start"; exit 1; }
{
  echo "components:"
  for i in $(seq 0 9); do
    r=a; (( i >= 5 )) && r=b
    printf '  c%s:\n    build: {repository: "git://127.0.0.1:%s/%s", ref: main}\n    run: {command: web, port: 8000}\n' "$i" "$port" "$r"
  done
} > "$work/noop.yaml"
"$slipway" components deploy "$work/noop.yaml" --tool noop >/dev/null
noop=() lsr=()
for r in $(seq 1 $((rounds * 2))); do
  t0=$(now); "$slipway" components deployment create --watch --tool noop >"$work/out"; t1=$(now)
  grep -q '^All components deployed$' "$work/out" || { cat "$work/out"; exit 1; }
  if grep -Eq 'built|healthy|completed' "$work/out"; then echo "not a no-op:"; cat "$work/out"; exit 1; fi
  noop+=("$(ms "$t0" "$t1")")
  t0=$(now); git ls-remote "git://127.0.0.1:$port/a" main >/dev/null; git ls-remote "git://127.0.0.1:$port/b" main >/dev/null; t1=$(now)
  lsr+=("$(ms "$t0" "$t1")")
done
mn=$(median "${noop[@]}") ml=$(median "${lsr[@]}")
echo "no-op redeploy (ms):   ${noop[*]}  median $mn"
echo "2 × git ls-remote (ms): ${lsr[*]}  median $ml"
awk -v n="$mn" -v l="$ml" 'BEGIN{printf "  no-op redeploy of 10 components from 2 repositories: %.2f× two ls-remote calls (goal ≤ 1.3×), 0 builds, 0 restarts\n", n/l}'
