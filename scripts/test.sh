#!/usr/bin/env bash
# The test suite: lint (ruff) and types (mypy), both configured in pyproject.toml, then unit tests, the installed
# wheel (tests/package), and integration tests that build real plateaus (root; test_installed.py with the wheel).
# The debian-12 image is built once (about a minute) and cached in /var/lib/tai-lab/images.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in ruff mypy; do
    if ! python3 -m "$tool" --version >/dev/null 2>&1; then
        echo "$tool is missing: pip install -e '.[test]'" >&2
        exit 1
    fi
done
python3 -m ruff check .
python3 -m mypy          # configured in pyproject.toml (files, stubs, the plugin for pydantic)
exec python3 -m pytest tests -v -p no:cacheprovider "$@"
