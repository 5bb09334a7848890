#!/usr/bin/env bash
# Installs the Debian packages Slipway's tests and demo need when they are
# missing. Idempotent; a no-op on a machine that has them.
set -euo pipefail
need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
# The sandbox every tool runs in: bubblewrap, and setpriv and prlimit
# (util-linux).
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)
# scripts/kube-bin.sh locks its cache with flock (util-linux).
command -v flock >/dev/null 2>&1 || need+=(util-linux)
# nftables keeps tools off each other's ports.
command -v nft >/dev/null 2>&1 || need+=(nftables)
# PostgreSQL, for the tests against a real server (internal/pgtest starts a
# throwaway one from /usr/lib/postgresql/*/bin).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
# Chromium, for the web UI's browser tests (internal/browsertest drives
# /usr/bin/chromium headless), and npm, which fetches axe-core for their
# accessibility checks at test time (npm pack, into .cache/).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
# Node runs the TypeScript client's tests (clients/), whose compiler npm
# installs into .cache/ from clients/typescript/package-lock.json.
command -v node >/dev/null 2>&1 || need+=(nodejs)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
