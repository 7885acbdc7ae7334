package facts

// Markers frame the script's output, so that whatever a login script prints
// before it is skipped and a cut-short output is caught.
const (
	beginMarker = "drover-facts 1"
	endMarker   = "drover-facts end"
)

// script prints raw evidence, one "key=value" or "key:value" line each; Parse
// decides what it means. It runs with dash, bash and busybox ash, as root or
// not, with a PATH that may lack /sbin (non-root logins), and never fails:
// every probe's errors are silenced and a missing tool leaves its key empty.
//
// It forks as little as it can (each process costs the host a millisecond or
// more, on every host of every run): one uname for the host name, kernel and
// machine; the CPUs and the user come from /proc/self/status and /etc/passwd
// read with the shell's own read; ip runs once and its lines are printed
// without a pipeline. /sbin/init is resolved only when no booted init system
// was found before it, and only when it is a link. Tools (nproc, id) run only
// where those files are missing.
const script = `printf '%s\n' '` + beginMarker + `'
u=$(uname -nrm 2>/dev/null) || u=
case $u in
*' '*' '*) m=${u##* }; u=${u% *}; r=${u##* }; h=${u% *} ;;
*) h='' r='' m='' ;;
esac
[ -n "$h" ] || read -r h 2>/dev/null </proc/sys/kernel/hostname || h=
printf 'hostname=%s\n' "$h"
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    while IFS= read -r l || [ -n "$l" ]; do printf 'os:%s\n' "$l"; done <"$f"
    break
  fi
done
if [ -n "$r" ]; then printf 'uname=%s %s\n' "$r" "$m"; else printf 'uname=\n'; fi
n='' uid=''
while read -r k a b _; do
  case $k in
  Uid:) uid=$b ;;
  Cpus_allowed_list:) n=$a ;;
  esac
done 2>/dev/null </proc/self/status
if [ -n "$n" ]; then
  printf 'cpus_allowed=%s\n' "$n"
else
  n=$(nproc 2>/dev/null) || n=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || n=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null) || n=
  printf 'cpus=%s\n' "$n"
fi
while read -r k v _; do [ "$k" = MemTotal: ] && printf 'mem_kb=%s\n' "$v" && break; done 2>/dev/null </proc/meminfo
booted=
[ -d /run/systemd/system ] && printf 'init:run_systemd\n' && booted=1
[ -e /run/openrc ] && printf 'init:run_openrc\n' && booted=1
[ -e /sbin/openrc-run ] && printf 'init:openrc_run\n' && booted=1
[ -d /etc/init.d ] && printf 'init:etc_initd\n'
if [ -z "$booted" ] && [ -e /sbin/init ]; then
  s=/sbin/init
  if [ -L /sbin/init ]; then s=$(readlink -f /sbin/init 2>/dev/null) || s=/sbin/init; fi
  printf 'init:sbin_init=%s\n' "$s"
fi
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
  set -f
  IFS='
'
  # shellcheck disable=SC2086 # one argument per line of ip's output
  printf 'ip:%s\n' $a
  IFS=' 	
'
  set +f
else
  printf 'hostname_i=%s\n' "$(hostname -I 2>/dev/null)"
fi
un=
if [ -n "$uid" ]; then
  while IFS=: read -r nm _ i _; do
    if [ "$i" = "$uid" ]; then un=$nm; break; fi
  done 2>/dev/null </etc/passwd
fi
[ -n "$un" ] || un=$(id -un 2>/dev/null || whoami 2>/dev/null)
printf 'user=%s\n' "$un"
printf 'sudo_user=%s\n' "${SUDO_USER:-}"
printf '%s\n' '` + endMarker + `'
`

// Script returns the POSIX sh fragment that gathers facts. It is read-only
// and prints its evidence between marker lines; Parse reads its output.
func Script() string { return script }
