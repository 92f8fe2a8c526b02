#!/usr/bin/env bash
# Static checks in one command: ruff (lint + format), mypy --strict, import-linter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
"$BIN/ruff" check app server devtools tests scripts
"$BIN/ruff" format --check app server devtools tests scripts
"$BIN/mypy"
"$BIN/lint-imports"
