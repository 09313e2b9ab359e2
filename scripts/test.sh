#!/usr/bin/env bash
# The test suite: lint (ruff) and types (mypy), both configured in pyproject.toml, then unit tests, the installed
# wheel (tests/package), and integration tests that build real plateaus (root; test_installed.py with the wheel).
# The debian-12 image is built once (about a minute) and cached in /var/lib/tai-lab/images.
#
# The integration tests run as two streams at once, each under its own lab names (TAI_LAB_TEST_TAG):
# the VMs (libvirt under TCG, Vagrant: long waits on QEMU) with the directory's and the service desk's
# plateaus (their own images and labs), and the other container tests — so that the two take about as
# long. Each stream prints its lines with its tag; the suite fails if either does. With arguments, pytest
# runs just those (one stream).
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
if [ $# -gt 0 ]; then
    exec python3 -m pytest -v -p no:cacheprovider "$@"
fi
python3 -m pytest tests/unit tests/package -v -p no:cacheprovider

vms=(tests/integration/test_libvirt.py tests/integration/test_libvirt_multihost.py tests/integration/test_vagrant.py
     tests/integration/test_directory.py tests/integration/test_servicedesk.py)
stream() {   # stream TAG PYTEST-ARGS…: one pytest, its lines prefixed with [TAG]; its exit status
    local tag=$1
    shift
    set +e
    TAI_LAB_TEST_TAG=$tag python3 -m pytest -v -p no:cacheprovider "$@" 2>&1 | sed -u "s/^/[$tag] /"
    local rc=${PIPESTATUS[0]}
    set -e
    echo "[$tag] pytest exit status: $rc"
    return "$rc"
}
stream v "${vms[@]}" &
vm_pid=$!
ignore=()
for f in "${vms[@]}"; do ignore+=("--ignore=$f"); done
containers=0
stream c tests/integration "${ignore[@]}" || containers=$?
vm=0
wait "$vm_pid" || vm=$?
echo "integration tests: containers exit $containers, VMs exit $vm"
[ "$containers" -eq 0 ] && [ "$vm" -eq 0 ]
