set -eu
rm -f /etc/dnsmasq.d/nodns.conf
# Debian starts dnsmasq with --local-service (answers its own subnet only) unless it is
# told where to listen: the users' VLAN is another subnet.
cat > /etc/dnsmasq.d/dns.conf <<EOT
listen-address=127.0.0.1,$SRV
domain=$DOMAIN
local=/$DOMAIN/
no-resolv
server=198.51.100.53
host-record=srv.$DOMAIN,$SRV
host-record=intranet.$DOMAIN,$SRV
host-record=imprimante.$DOMAIN,$PRINTER
host-record=printer.$DOMAIN,$PRINTER
EOT
systemctl restart dnsmasq
