#!/usr/bin/env bash
# Sets everything up and runs the demo: the server on its embedded SQLite store
# with the demo project, and the Cordon client connected to it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/run_demo.py" "$@"
