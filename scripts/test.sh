#!/usr/bin/env bash
# Runs every test: Vitest (frontend units), then pytest (backend, API against a real server,
# and Playwright browser tests in Debian's headless Chromium). Installs what is missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

if ! command -v chromium >/dev/null 2>&1; then
  echo "[test] installing Debian's chromium for the browser tests" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "[test] chromium is missing and this user cannot apt-get install it (run as root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "[test] frontend unit tests (vitest)" >&2
(cd frontend && npm test --silent)

echo "[test] backend, API and browser tests (pytest)" >&2
export DKMAP_REQUIRE_BROWSER=1
exec .venv/bin/python -m pytest "$@"
