#!/usr/bin/env bash
# Builds one wheel, dist/dkmap-VERSION-py3-none-any.whl: the backend package with the built frontend
# inside it (dkmap/static/, which the server serves when it is not run from a clone). Installing the
# wheel needs neither node nor a clone. Usage: scripts/build_wheel.sh [OUT_DIR]   (default: dist/)
# PYTHON names the interpreter that builds it (default .venv/bin/python; it needs setuptools >= 70.1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
STATIC="$ROOT/backend/dkmap/static"
SPEC="$ROOT/backend/dkmap/openapi.yaml"   # dkmap.server.openapi serves it

log() { printf '[build_wheel] %s\n' "$*" >&2; }

if [ ! -d frontend/node_modules ]; then
  log "installing frontend packages (npm ci)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
fi
# Always rebuilt: the wheel must carry the frontend of the sources it is built from.
log "building the frontend (vite build)"
(cd frontend && npm run --silent build >/dev/null)
[ -f frontend/dist/index.html ] || { log "frontend/dist/index.html missing after the build"; exit 1; }

# The copy exists only while the wheel is built, so a clone never has two frontends.
trap 'rm -rf "$STATIC" "$SPEC" "$ROOT/backend/build"' EXIT
rm -rf "$STATIC" "$SPEC" "$ROOT/backend/build"
cp -r frontend/dist "$STATIC"
cp docs/openapi.yaml "$SPEC"

log "building the wheel into $OUT"
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$OUT" "$ROOT/backend"
WHEEL=$(ls -t "$OUT"/dkmap-*.whl | head -1)
"$PY" - "$WHEEL" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
if "dkmap/static/index.html" not in names or not any(n.startswith("dkmap/static/assets/") for n in names):
    sys.exit(f"{sys.argv[1]}: the built frontend is missing from the wheel")
if "dkmap/openapi.yaml" not in names:
    sys.exit(f"{sys.argv[1]}: docs/openapi.yaml is missing from the wheel")
PY
echo "$WHEEL"
