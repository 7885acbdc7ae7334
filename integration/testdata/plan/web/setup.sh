printf 'Welcome to an old server.\n' > /etc/motd
printf 'stale\n' > /srv/stale.conf 2>/dev/null || { mkdir -p /srv && printf 'stale\n' > /srv/stale.conf; }
