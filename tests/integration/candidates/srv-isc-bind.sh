set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q isc-dhcp-server bind9
cat > /etc/default/isc-dhcp-server <<EOT
INTERFACESv4="eth0"
INTERFACESv6=""
EOT
cat > /etc/dhcp/dhcpd.conf <<EOT
authoritative;
default-lease-time 3600;
max-lease-time 7200;
option domain-name "$DOMAIN";
option domain-name-servers $SRV;
subnet ${SRV%.*}.0 netmask 255.255.255.0 { }
subnet ${NET_USERS}.0 netmask 255.255.255.0 {
  range $FIRST $LAST;
  option routers $GW_USERS;
}
EOT
cat > /etc/bind/named.conf.options <<EOT
options {
  directory "/var/cache/bind";
  recursion yes;
  allow-query { any; };
  forwarders { 198.51.100.53; };
  forward only;
  dnssec-validation no;
  listen-on-v6 { none; };
};
EOT
cat > /etc/bind/named.conf.local <<EOT
zone "$DOMAIN" { type master; file "/etc/bind/db.$DOMAIN"; };
EOT
cat > /etc/bind/db.$DOMAIN <<EOT
\$TTL 300
@ IN SOA srv.$DOMAIN. admin.$DOMAIN. (1 3600 600 86400 300)
@ IN NS srv.$DOMAIN.
srv IN A $SRV
intranet IN A $SRV
imprimante IN A $PRINTER
printer IN A $PRINTER
EOT
named-checkzone "$DOMAIN" /etc/bind/db.$DOMAIN
systemctl enable --now named isc-dhcp-server
systemctl restart named isc-dhcp-server
