#!/usr/bin/env bash
# Debian packages the host needs to run tai-lab's embedded backend (and its tests).
set -euo pipefail
pkgs=(systemd-container debootstrap iproute2 util-linux nftables
      # PDF reports and cahier des charges (WeasyPrint from pip draws with pango) and their font
      libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
      dpkg-dev                              # dpkg-scanpackages: the prep phase's package depot
      # jury console tests: headless browser, its driver; pdftotext reads the PDFs back
      chromium chromium-driver poppler-utils
      # libvirt backend (VMs): daemons, QEMU, qcow2 tools, virsh + virt-xml-validate,
      # and what pip needs to build libvirt-python
      libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils e2fsprogs
      libxml2-utils                         # xmllint: virt-xml-validate needs it (not a hard dependency)
      libvirt-dev pkg-config gcc python3-dev openssh-server openssh-client
      # the Vagrantfile is checked with `vagrant validate`; tai-lab's box is used for real in
      # tests and bench (dnsmasq: DHCP of Vagrant's management network)
      vagrant vagrant-libvirt dnsmasq-base)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
modprobe overlay 2>/dev/null || true
