set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q dnsmasq
cat > /etc/dnsmasq.d/dhcp.conf <<EOT
# DHCP for the users' VLAN, reached through the router's relay
dhcp-range=$FIRST,$LAST,255.255.255.0,1h
dhcp-option=option:router,$GW_USERS
dhcp-option=option:dns-server,$SRV
dhcp-option=option:domain-name,$DOMAIN
dhcp-authoritative
EOT
# DHCP only for now: no DNS yet
echo "port=0" > /etc/dnsmasq.d/nodns.conf
systemctl enable dnsmasq
systemctl restart dnsmasq
