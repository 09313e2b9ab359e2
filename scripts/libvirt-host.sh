#!/usr/bin/env bash
# Prepare this host for the libvirt backend (idempotent): QEMU runs as root, and the
# libvirt daemons run (started here when systemd is not PID 1, as in CI containers).
#
# Why root: on hosts where /dev/kvm exists but is not usable by libvirt's qemu user,
# libvirt 9.0 re-probes QEMU's capabilities on every call ("KVM was enabled when probing,
# but it is not available now"), so each domain start takes tens of seconds. tai-lab
# domains also carry a static root DAC label (their files live in the lab's directory).
set -euo pipefail
conf=/etc/libvirt/qemu.conf
if [ -f "$conf" ]; then
  changed=0
  grep -qE '^user = "root"' "$conf" || { sed -i -E 's/^#?user = .*/user = "root"/' "$conf"; changed=1; }
  grep -qE '^group = "root"' "$conf" || { sed -i -E 's/^#?group = .*/group = "root"/' "$conf"; changed=1; }
  if [ "$changed" = 1 ] && pid=$(pgrep -x libvirtd); then
    # Reload the configuration of the libvirtd this script (or CI) started.
    if [ "$(cat /proc/1/comm)" = systemd ]; then systemctl restart libvirtd; else kill "$pid"; sleep 1; fi
  fi
fi
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  systemctl start virtlogd libvirtd
else
  pgrep -x virtlogd >/dev/null || virtlogd -d
  pgrep -x libvirtd >/dev/null || libvirtd -d
fi
# Wait until the daemon answers.
for _ in $(seq 50); do virsh -c qemu:///system version >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "libvirtd does not answer on qemu:///system" >&2
exit 1
