#!/usr/bin/env bash
# Installs everything DKMap needs into .venv/ at the repo root and builds the frontend.
# Idempotent: re-running skips what is already in place (keyed on the dependency files' hashes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP_DIR="$VENV/.dkmap-stamps"

log() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment in .venv/"
  python3 -m venv "$VENV"
fi
mkdir -p "$STAMP_DIR"

PY_HASH=$(hash_of backend/pyproject.toml)
if [ "$(cat "$STAMP_DIR/python" 2>/dev/null)" != "$PY_HASH" ]; then
  log "installing Python packages (torch CPU build first, so nothing pulls a CUDA build)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet torch==2.13.0
  "$VENV/bin/pip" install --quiet -e "backend[test,dask,notebook]"
  echo "$PY_HASH" > "$STAMP_DIR/python"
else
  log "Python packages up to date"
fi

JS_HASH=$(hash_of frontend/package.json frontend/package-lock.json)
if [ "$(cat "$STAMP_DIR/node" 2>/dev/null)" != "$JS_HASH" ] || [ ! -d frontend/node_modules ]; then
  log "installing frontend packages (npm ci)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  echo "$JS_HASH" > "$STAMP_DIR/node"
else
  log "frontend packages up to date"
fi

SRC_HASH=$(find frontend/src frontend/index.html frontend/vite.config.js -type f -print0 2>/dev/null | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
if [ "$(cat "$STAMP_DIR/frontend-build" 2>/dev/null)" != "$SRC_HASH" ] || [ ! -f frontend/dist/index.html ]; then
  log "building the frontend (vite build)"
  (cd frontend && npm run --silent build)
  echo "$SRC_HASH" > "$STAMP_DIR/frontend-build"
else
  log "frontend build up to date"
fi
