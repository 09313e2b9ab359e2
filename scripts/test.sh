#!/usr/bin/env bash
# The test suite: unit tests, then integration tests that build real plateaus (root).
# The debian-12 image is built once (about a minute) and cached in /var/lib/tai-lab/images.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest tests -v -p no:cacheprovider "$@"
