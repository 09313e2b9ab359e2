set -eu
IFACE=${1:-eth0}
cat > /etc/network/interfaces <<EOT
auto lo
iface lo inet loopback

auto $IFACE
iface $IFACE inet dhcp
EOT
ifdown --force "$IFACE" >/dev/null 2>&1 || true
ip -4 addr flush dev "$IFACE"
timeout 30 ifup "$IFACE"
