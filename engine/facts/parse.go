package facts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// evidence is what the script printed, before any decision.
type evidence struct {
	kv        map[string]string
	osRelease map[string]string
	init      map[string]bool
	sbinInit  string // where /sbin/init resolves; "" when it does not exist
	pms       []string
	ipLines   []string
}

// Parse reads the output of Script. Lines printed before the script's begin
// marker (a chatty login script) are ignored; a missing end marker is an
// error, because the output was cut short.
func Parse(out []byte) (*Facts, error) {
	ev := evidence{kv: map[string]string{}, osRelease: map[string]string{}, init: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	began, ended := false, false
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !began {
			began = line == beginMarker
			continue
		}
		if line == endMarker {
			ended = true
			break
		}
		switch {
		case strings.HasPrefix(line, "os:"):
			if k, v, ok := parseOSReleaseLine(line[3:]); ok {
				ev.osRelease[k] = v
			}
		case strings.HasPrefix(line, "init:sbin_init="):
			ev.sbinInit = strings.TrimPrefix(line, "init:sbin_init=")
		case strings.HasPrefix(line, "init:"):
			ev.init[line[5:]] = true
		case strings.HasPrefix(line, "pm:"):
			ev.pms = append(ev.pms, line[3:])
		case strings.HasPrefix(line, "ip:"):
			ev.ipLines = append(ev.ipLines, line[3:])
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				ev.kv[k] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading facts output: %w", err)
	}
	if !began {
		return nil, errors.New("the facts script printed nothing recognisable")
	}
	if !ended {
		return nil, errors.New("the facts output was cut short")
	}
	return ev.facts(), nil
}

func (ev evidence) facts() *Facts {
	f := &Facts{
		Hostname:   strings.TrimSpace(ev.kv["hostname"]),
		OSID:       ev.osRelease["ID"],
		OSVersion:  ev.osRelease["VERSION_ID"],
		OSCodename: ev.osRelease["VERSION_CODENAME"],
		OSPretty:   ev.osRelease["PRETTY_NAME"],
	}
	if like := strings.Fields(ev.osRelease["ID_LIKE"]); len(like) > 0 {
		f.OSIDLike = like
	}
	if f.OSCodename == "" {
		f.OSCodename = ev.osRelease["UBUNTU_CODENAME"]
	}
	if u := strings.Fields(ev.kv["uname"]); len(u) == 2 {
		f.Kernel, f.Arch = u[0], u[1]
	}
	f.CPUs, _ = strconv.Atoi(strings.TrimSpace(ev.kv["cpus"]))
	if f.CPUs == 0 {
		f.CPUs = cpuListCount(ev.kv["cpus_allowed"])
	}
	if kb, err := strconv.Atoi(strings.TrimSpace(ev.kv["mem_kb"])); err == nil {
		f.MemoryMB = kb / 1024
	}
	f.OSFamily = Family(f.OSID, f.OSIDLike)
	f.InitSystem = ev.initSystem()
	f.PackageManager = packageManager(f.OSFamily, ev.pms)
	if len(ev.ipLines) > 0 {
		f.Addresses = addressesFromIP(ev.ipLines)
	} else {
		f.Addresses = primaryFirst(strings.Fields(ev.kv["hostname_i"]))
	}
	f.EffectiveUser = ev.kv["user"]
	f.User = ev.kv["sudo_user"]
	if f.User == "" {
		f.User = f.EffectiveUser
	}
	return f
}

// cpuListCount counts the CPUs of a kernel CPU list ("0-3,8,10-11", as in
// Cpus_allowed_list of /proc/PID/status: what nproc counts); 0 when the list
// is empty or malformed.
func cpuListCount(list string) int {
	list = strings.TrimSpace(list)
	if list == "" {
		return 0
	}
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// initSystem applies the detection rules of docs/facts.md, first match wins:
//
//  1. systemd: /run/systemd/system is a directory (what sd_booted() tests:
//     systemd is PID 1, not merely installed);
//  2. openrc: /run/openrc exists (OpenRC has booted), or /sbin/openrc-run
//     exists, or /sbin/init is openrc-init;
//  3. sysv: /etc/init.d is a directory and /sbin/init is sysvinit's own
//     binary or busybox (not a link to systemd, runit, s6, ...);
//  4. none.
func (ev evidence) initSystem() string {
	base := path.Base(ev.sbinInit)
	switch {
	case ev.init["run_systemd"]:
		return InitSystemd
	case ev.init["run_openrc"], ev.init["openrc_run"], base == "openrc-init":
		return InitOpenRC
	case ev.init["etc_initd"] && ev.sbinInit != "" && (base == "busybox" || ev.sbinInit == "/sbin/init" || ev.sbinInit == "/usr/sbin/init"):
		return InitSysV
	}
	return InitNone
}

// familyOf maps an os-release ID (or an ID_LIKE entry) to its family.
var familyOf = map[string]string{
	"debian": "debian", "ubuntu": "debian", "raspbian": "debian", "linuxmint": "debian",
	"pop": "debian", "kali": "debian", "devuan": "debian", "elementary": "debian",
	"rhel": "redhat", "fedora": "redhat", "centos": "redhat", "rocky": "redhat",
	"almalinux": "redhat", "ol": "redhat", "amzn": "redhat", "scientific": "redhat",
	"alpine": "alpine", "postmarketos": "alpine",
	"arch": "arch", "manjaro": "arch", "endeavouros": "arch",
	"suse": "suse", "opensuse": "suse", "opensuse-leap": "suse", "opensuse-tumbleweed": "suse",
	"sles": "suse", "sled": "suse",
	"gentoo": "gentoo", "void": "void", "nixos": "nixos",
}

// Family returns the OS family of an os-release ID and ID_LIKE list: the
// family of ID when known, else of the first known ID_LIKE entry, else ID
// itself ("" when ID is empty).
func Family(id string, idLike []string) string {
	if f, ok := familyOf[id]; ok {
		return f
	}
	for _, l := range idLike {
		if f, ok := familyOf[l]; ok {
			return f
		}
	}
	return id
}

// nativeManager is the package manager each family uses, by preference.
var nativeManager = map[string][]string{
	"debian": {PkgApt},
	"redhat": {PkgDnf, PkgYum},
	"alpine": {PkgApk},
}

// packageManager picks among the managers found on the host (pms holds the
// commands found: apt-get, dnf, yum, apk): the family's own first (dnf
// before yum), else the first found in the order apt, dnf, yum, apk.
func packageManager(family string, pms []string) string {
	have := map[string]bool{}
	for _, p := range pms {
		if p == "apt-get" {
			p = PkgApt
		}
		have[p] = true
	}
	for _, p := range nativeManager[family] {
		if have[p] {
			return p
		}
	}
	for _, p := range []string{PkgApt, PkgDnf, PkgYum, PkgApk} {
		if have[p] {
			return p
		}
	}
	return ""
}

// addressesFromIP extracts global addresses from `ip -o addr show` lines:
// "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\ ...".
// Loopback, link-local and host-scoped addresses are left out.
func addressesFromIP(lines []string) []string {
	var addrs []string
	for _, l := range lines {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			a := f[i+1]
			if p, err := netip.ParsePrefix(a); err == nil {
				a = p.Addr().String()
			}
			if !scopeHost(f) {
				addrs = append(addrs, a)
			}
			break
		}
	}
	return primaryFirst(addrs)
}

func scopeHost(fields []string) bool {
	for i := 0; i+1 < len(fields); i++ {
		if fields[i] == "scope" && fields[i+1] != "global" {
			return true
		}
	}
	return false
}

// primaryFirst drops loopback, link-local and unparsable addresses and
// orders IPv4 before IPv6, keeping the host's order within each.
func primaryFirst(in []string) []string {
	var v4, v6 []string
	for _, s := range in {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		if a.Is4() {
			v4 = append(v4, a.String())
		} else {
			v6 = append(v6, a.String())
		}
	}
	return append(v4, v6...)
}

// parseOSReleaseLine reads one os-release assignment, which follows shell
// quoting rules: KEY=value, KEY="value with \"escapes\"", KEY='value'.
func parseOSReleaseLine(line string) (key, val string, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	key, raw, ok := strings.Cut(line, "=")
	if !ok || key == "" {
		return "", "", false
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\'':
			j := strings.IndexByte(raw[i+1:], '\'')
			if j < 0 {
				b.WriteString(raw[i+1:])
				return key, b.String(), true
			}
			b.WriteString(raw[i+1 : i+1+j])
			i += j + 1
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' && i+1 < len(raw) && strings.IndexByte("\"\\$`", raw[i+1]) >= 0 {
					i++
				}
				b.WriteByte(raw[i])
			}
		case '\\':
			if i+1 < len(raw) {
				i++
				b.WriteByte(raw[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return key, b.String(), true
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
