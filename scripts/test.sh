#!/usr/bin/env bash
# The test suite: lint (ruff, configured in pyproject.toml), then unit tests, the installed
# wheel (tests/package), and integration tests that build real plateaus (root).
# The debian-12 image is built once (about a minute) and cached in /var/lib/tai-lab/images.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -m ruff --version >/dev/null 2>&1; then
    echo "ruff is missing: pip install -e '.[test]'" >&2
    exit 1
fi
python3 -m ruff check .
exec python3 -m pytest tests -v -p no:cacheprovider "$@"
