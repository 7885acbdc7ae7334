package modules

import (
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Kernel-enforced read-only probes. A probe that runs as root runs inside a
// new mount namespace (private propagation: nothing leaks to the host) where
// every mount is remounted read-only, then drops to uid and gid 65534 with no
// supplementary groups, no_new_privs, and only CAP_DAC_READ_SEARCH (read any
// file) in every capability set. Staying uid 0 would not do: uid 0 without
// capabilities still owns root's files and sockets, may write sysctls (the
// kernel checks the euid there) and may signal every root process.
// Read-only mounts do not cover device nodes; uid 65534 without groups can
// open only the world-writable ones (/dev/null). The namespace cannot be
// undone without CAP_SYS_ADMIN, and a new user namespace inherits its mounts
// locked read-only. CAP_SYS_PTRACE is not kept: it would allow attaching to a
// process outside the namespace and writing through it.
//
// On a host with busybox's applets only (Alpine), whose setpriv cannot set
// ids, groups or the bounding set, nsenter -S/-G (no namespace: only the
// ids; it clears the supplementary groups) drops to 65534 after busybox
// setpriv --nnp set no_new_privs. Changing uid away from 0 clears every
// capability, and busybox cannot keep CAP_DAC_READ_SEARCH: the probe then
// reads only what uid 65534 may. The namespace script checks that result
// (uid, groups, empty capability sets, no_new_privs) in the namespace
// before it claims it, and reports it as ReadOnlyEnforcedBusybox; the
// bounding set stays full, which no_new_privs makes unreachable (no setuid
// or file-capability exec can raise privileges again).
//
// The setup runs in the probe's own round trip: the namespace script writes
// "enforced" on fd 3 before it runs the command, or "not enforced: WHY" and
// exits without running it.

// roNamespace runs as root in the new mount namespace: sh -c SCRIPT drover-ro
// COMMAND. Each mount point is remounted (the top mount there: one hidden
// under it is unreachable without CAP_SYS_ADMIN); libmount keeps its other
// flags (nodev, noexec). Any failure leaves the command unrun. mountinfo escapes blanks in paths as \040; printf %b wants \0040.
const roNamespace = `no() { echo "not enforced: $*" >&3; exit 125; }
set -f
m=$(sed 's/\\\([0-7][0-7][0-7]\)/\\0\1/g' /proc/self/mountinfo | cut -d' ' -f5) || no "cannot read /proc/self/mountinfo"
for x in $m; do case $x in *\\*) p=$(printf '%b' "$x");; *) p=$x;; esac
e=$(mount -o remount,bind,ro "$p" 2>&1) || no "cannot remount $p read-only: $e"; done
s="setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --inh-caps=-all,+dac_read_search --ambient-caps=-all,+dac_read_search --bounding-set=-all,+dac_read_search --"
if e=$($s true 2>&1); then echo enforced >&3
else
s="setpriv --nnp -- nsenter -S 65534 -G 65534 -F --"
b=$($s sh -c 'echo "$(id -u):$(id -G)"; grep -E "^(CapPrm|CapEff|CapAmb|NoNewPrivs):" /proc/self/status' 2>&1 | tr -s ' \t\n' ' ')
case $b in "65534:65534 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapAmb: 0000000000000000 NoNewPrivs: 1 ") echo enforced-busybox >&3 ;;
*) no "neither util-linux setpriv nor busybox nsenter and setpriv can drop privileges: $e; $b" ;; esac
fi
exec 3>&-
exec $s sh -c "$1"
`

// readOnlyScript sets ro to the guarantee and runs the chosen command ($c)
// with run (the timeout wrapper): enforced when root, as the login user
// otherwise. With require, a root probe that cannot be enforced does not run
// (alt=-2).
func readOnlyScript(require bool) string {
	req := "0"
	if require {
		req = "1"
	}
	return `if [ "$(id -u)" != 0 ]; then ro="by permissions of user $(id -un 2>/dev/null || id -u)"; run sh -c "$c"
else m=; for p in unshare setpriv mount sed; do command -v $p >/dev/null 2>&1 || m="$m $p"; done
if [ -n "$m" ]; then ro="not enforced: util-linux tools missing:$m"
else run unshare --mount --propagation private sh -c ` + shell.Quote(roNamespace) + ` drover-ro "$c" 3>"$t.ro"; ro=$(head -n 1 "$t.ro")
[ -n "$ro" ] || ro="not enforced: unshare --mount failed: $(head -n 1 "$t.e")"; fi
case $ro in enforced) ro=` + shell.Quote(contract.ReadOnlyEnforced) + `;; enforced-busybox) ro=` + shell.Quote(contract.ReadOnlyEnforcedBusybox) + `;; *) if [ ` + req + ` = 1 ]; then alt=-2 rc=0; : >"$t"; : >"$t.e"; else run sh -c "$c"; fi;; esac; fi
`
}
