#!/usr/bin/env bash
# Fresh Debian 12 → the standard plateau up, prep phase proven, jury phase proven.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-host-deps.sh
python3 -m pip install -q -e .
scenario=${1:-scenarios/tai-standard.yaml}
tai-lab image build debian-12
tai-lab image build debian-12-desktop     # pc1's desktop (a copy of debian-12 + Xfce, about 2.5 min)
tai-lab validate "$scenario"
tai-lab up "$scenario"
tai-lab status
tai-lab phase prep
tai-lab verify           # Internet unreachable, pods isolated
tai-lab phase jury
tai-lab verify           # Internet back
echo "The plateau is up. Reset a pod: tai-lab reset --pod 1 — remove everything: tai-lab down"
