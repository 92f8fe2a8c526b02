#!/usr/bin/env bash
# The whole test suite, headless: set-up, static checks, then every test.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
"$ROOT/scripts/lint.sh"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
PY="$ROOT/.venv/bin/python"
if (($#)); then
    exec "$PY" -m pytest "$@"
fi
"$PY" -m pytest
# The server tests again as a production site runs: every data directory's database on a
# private PostgreSQL server (devtools/postgres.py), owned by the role the server connects
# as, with row-level security keyed by project on, and its recordings in a bucket of moto's
# S3 emulation on 127.0.0.1 (tests/conftest.py), and the real client through each role's
# path against it; the few about SQLite itself are left out.
CORDON_TEST_DATABASE=postgresql CORDON_TEST_ROW_SECURITY=on CORDON_TEST_BLOBS=s3 "$PY" -m pytest tests/server \
    tests/e2e/test_annotate_flow.py tests/e2e/test_review_cycle.py \
    tests/e2e/test_manager_desk.py tests/e2e/test_refusals.py -m "not sqlite_only"
# Clipboard, focus and screenshots need a real X server (a private Xvfb) and the
# xcb platform: a second pytest process, since a process has one QApplication.
CORDON_X11_TESTS=1 QT_QPA_PLATFORM=xcb "$PY" -m pytest tests/x11
