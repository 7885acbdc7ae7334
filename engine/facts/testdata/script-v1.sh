printf '%s\n' 'drover-facts 1'
h=$(hostname 2>/dev/null) || h=
[ -n "$h" ] || h=$(cat /proc/sys/kernel/hostname 2>/dev/null) || h=
printf 'hostname=%s\n' "$h"
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf 'os:%s\n' "$l"; done <"$f"
    break
  fi
done
printf 'uname=%s\n' "$(uname -rm 2>/dev/null)"
n=$(nproc 2>/dev/null) || n=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || n=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null) || n=
printf 'cpus=%s\n' "$n"
while read -r k v _; do [ "$k" = MemTotal: ] && printf 'mem_kb=%s\n' "$v" && break; done 2>/dev/null </proc/meminfo
[ -d /run/systemd/system ] && printf 'init:run_systemd\n'
[ -e /run/openrc ] && printf 'init:run_openrc\n'
[ -e /sbin/openrc-run ] && printf 'init:openrc_run\n'
[ -d /etc/init.d ] && printf 'init:etc_initd\n'
[ -e /sbin/init ] && printf 'init:sbin_init=%s\n' "$(readlink -f /sbin/init 2>/dev/null || echo /sbin/init)"
for p in apt-get dnf yum apk; do
  for d in '' /usr/bin/ /bin/ /usr/sbin/ /sbin/; do
    if { [ -z "$d" ] && command -v "$p" >/dev/null 2>&1; } || [ -x "$d$p" ]; then printf 'pm:%s\n' "$p"; break; fi
  done
done
ip=
for c in ip /sbin/ip /usr/sbin/ip /bin/ip /usr/bin/ip; do
  if command -v "$c" >/dev/null 2>&1; then ip=$c; break; fi
done
if [ -n "$ip" ] && a=$("$ip" -o addr show 2>/dev/null) && [ -n "$a" ]; then
  printf '%s\n' "$a" | while IFS= read -r l; do printf 'ip:%s\n' "$l"; done
else
  printf 'hostname_i=%s\n' "$(hostname -I 2>/dev/null)"
fi
printf 'user=%s\n' "$(id -un 2>/dev/null || whoami 2>/dev/null)"
printf 'sudo_user=%s\n' "${SUDO_USER:-}"
printf '%s\n' 'drover-facts end'
