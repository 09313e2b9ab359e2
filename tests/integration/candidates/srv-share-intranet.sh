set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q samba nginx-light
getent group compta >/dev/null || groupadd compta
for u in alice bruno chloe; do id "$u" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$u"; done
usermod -aG compta alice
usermod -aG compta bruno
mkdir -p /srv/commun
chgrp compta /srv/commun
chmod 2775 /srv/commun
cat >> /etc/samba/smb.conf <<EOT

[commun]
   path = /srv/commun
   valid users = alice bruno chloe
   read only = yes
   write list = @compta
   create mask = 0664
EOT
printf '%s\n%s\n' "$PW_ALICE" "$PW_ALICE" | smbpasswd -s -a alice
printf '%s\n%s\n' "$PW_BRUNO" "$PW_BRUNO" | smbpasswd -s -a bruno
printf '%s\n%s\n' "$PW_CHLOE" "$PW_CHLOE" | smbpasswd -s -a chloe
systemctl restart smbd
cat > /var/www/html/index.html <<EOT
<html><head><title>Intranet de l'atelier $POD</title></head>
<body><h1>Intranet de l'atelier $POD</h1><p>TAI-INTRANET-POD$POD</p></body></html>
EOT
systemctl enable --now nginx
