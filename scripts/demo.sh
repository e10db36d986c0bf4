#!/usr/bin/env bash
# Sets everything up, builds the bundled demo dataset and its maps on first use, then serves them
# on http://127.0.0.1:5000 (later runs reuse the build). Extra arguments go to `dkmap demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/dkmap demo --serve "$@"
