set -eu
cat > /etc/network/interfaces <<EOT
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
    address $SRV/24
    gateway $GW_SRV
EOT
printf 'search %s\nnameserver 127.0.0.1\n' "$DOMAIN" > /etc/resolv.conf
ifdown --force eth0 >/dev/null 2>&1 || true
ifup eth0
apt-get update -q --error-on=any   # the depot must answer
