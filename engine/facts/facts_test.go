package facts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestParseDistributions(t *testing.T) {
	tests := []struct {
		file string
		want Facts
	}{
		{"debian12.txt", Facts{
			Hostname: "web1", OSFamily: "debian", OSID: "debian", OSVersion: "12", OSCodename: "bookworm",
			OSPretty: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-26-amd64", Arch: "x86_64",
			CPUs: 4, MemoryMB: 7940, InitSystem: "systemd", PackageManager: "apt",
			Addresses: []string{"203.0.113.10", "10.0.0.10", "2001:db8:10::10"},
			User:      "admin", EffectiveUser: "admin",
		}},
		{"ubuntu2204.txt", Facts{
			Hostname: "db-arm-2", OSFamily: "debian", OSID: "ubuntu", OSIDLike: []string{"debian"},
			OSVersion: "22.04", OSCodename: "jammy", OSPretty: "Ubuntu 22.04.4 LTS",
			Kernel: "5.15.0-1058-aws", Arch: "aarch64", CPUs: 2, MemoryMB: 3871,
			InitSystem: "systemd", PackageManager: "apt", Addresses: []string{"172.31.20.5"},
			User: "ubuntu", EffectiveUser: "root",
		}},
		{"fedora40.txt", Facts{
			Hostname: "build.example.org", OSFamily: "redhat", OSID: "fedora", OSVersion: "40",
			OSPretty: "Fedora Linux 40 (Server Edition)", Kernel: "6.8.5-301.fc40.x86_64", Arch: "x86_64",
			CPUs: 8, MemoryMB: 15920, InitSystem: "systemd", PackageManager: "dnf",
			Addresses: []string{"192.168.122.40", "fd12:3456:789a::40"},
			User:      "fedora", EffectiveUser: "fedora",
		}},
		{"alpine320.txt", Facts{
			Hostname: "edge", OSFamily: "alpine", OSID: "alpine", OSVersion: "3.20.3",
			OSPretty: "Alpine Linux v3.20", Kernel: "6.6.52-0-virt", Arch: "x86_64",
			CPUs: 1, MemoryMB: 490, InitSystem: "openrc", PackageManager: "apk",
			Addresses: []string{"10.0.3.15"}, User: "root", EffectiveUser: "root",
		}},
		{"rocky9.txt", Facts{
			Hostname: "rocky9", OSFamily: "redhat", OSID: "rocky", OSIDLike: []string{"rhel", "centos", "fedora"},
			OSVersion: "9.4", OSPretty: "Rocky Linux 9.4 (Blue Onyx)",
			Kernel: "5.14.0-427.13.1.el9_4.x86_64", Arch: "x86_64", CPUs: 2, MemoryMB: 1778,
			InitSystem: "systemd", PackageManager: "dnf", Addresses: []string{"10.1.2.3", "2001:db8::3"},
			User: "rocky", EffectiveUser: "rocky",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse:\n got  %+v\n want %+v", *got, tt.want)
			}
		})
	}
}

func TestInitSystemRules(t *testing.T) {
	tests := []struct {
		name string
		init []string
		sbin string
		want string
	}{
		{"systemd booted", []string{"run_systemd", "etc_initd"}, "/usr/lib/systemd/systemd", "systemd"},
		{"systemd installed, not booted (container)", []string{"etc_initd"}, "/usr/lib/systemd/systemd", "none"},
		{"openrc booted", []string{"run_openrc", "etc_initd"}, "/bin/busybox", "openrc"},
		{"openrc-run without /run/openrc", []string{"openrc_run", "etc_initd"}, "/bin/busybox", "openrc"},
		{"openrc-init as /sbin/init", []string{"etc_initd"}, "/usr/sbin/openrc-init", "openrc"},
		{"sysvinit binary", []string{"etc_initd"}, "/sbin/init", "sysv"},
		{"sysvinit binary, merged /usr", []string{"etc_initd"}, "/usr/sbin/init", "sysv"},
		{"busybox init", []string{"etc_initd"}, "/bin/busybox", "sysv"},
		{"busybox init, no init.d", nil, "/bin/busybox", "none"},
		{"runit", []string{"etc_initd"}, "/usr/bin/runit-init", "none"},
		{"no /sbin/init", []string{"etc_initd"}, "", "none"},
		{"nothing at all", nil, "", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := evidence{init: map[string]bool{}, sbinInit: tt.sbin}
			for _, k := range tt.init {
				ev.init[k] = true
			}
			if got := ev.initSystem(); got != tt.want {
				t.Errorf("initSystem() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFamily(t *testing.T) {
	tests := []struct {
		id   string
		like []string
		want string
	}{
		{"debian", nil, "debian"},
		{"ubuntu", []string{"debian"}, "debian"},
		{"linuxmint", []string{"ubuntu", "debian"}, "debian"},
		{"fedora", nil, "redhat"},
		{"rocky", []string{"rhel", "centos", "fedora"}, "redhat"},
		{"almalinux", []string{"rhel", "centos", "fedora"}, "redhat"},
		{"amzn", []string{"centos", "rhel", "fedora"}, "redhat"},
		{"alpine", nil, "alpine"},
		{"opensuse-leap", []string{"suse", "opensuse"}, "suse"},
		{"someos", []string{"arch"}, "arch"},
		{"nixos", nil, "nixos"},
		{"unknownos", nil, "unknownos"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		if got := Family(tt.id, tt.like); got != tt.want {
			t.Errorf("Family(%q, %q) = %q, want %q", tt.id, tt.like, got, tt.want)
		}
	}
}

func TestPackageManagerChoice(t *testing.T) {
	tests := []struct {
		family string
		found  []string
		want   string
	}{
		{"debian", []string{"apt-get"}, "apt"},
		{"redhat", []string{"dnf", "yum"}, "dnf"},
		{"redhat", []string{"yum"}, "yum"},
		{"alpine", []string{"apk"}, "apk"},
		{"debian", []string{"apt-get", "apk"}, "apt"}, // apk-tools installed on Debian
		{"alpine", []string{"apt-get", "apk"}, "apk"},
		{"arch", []string{"dnf"}, "dnf"}, // unknown family: first found
		{"arch", nil, ""},
	}
	for _, tt := range tests {
		if got := packageManager(tt.family, tt.found); got != tt.want {
			t.Errorf("packageManager(%q, %q) = %q, want %q", tt.family, tt.found, got, tt.want)
		}
	}
}

func TestParseOSReleaseLine(t *testing.T) {
	tests := []struct {
		line, key, val string
		ok             bool
	}{
		{`ID=debian`, "ID", "debian", true},
		{`PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`, "PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)", true},
		{`NAME='Single quoted'`, "NAME", "Single quoted", true},
		{`X="a \"quoted\" \$word\\"`, "X", `a "quoted" $word\`, true},
		{`VERSION_CODENAME=""`, "VERSION_CODENAME", "", true},
		{`# a comment`, "", "", false},
		{``, "", "", false},
		{`garbage`, "", "", false},
	}
	for _, tt := range tests {
		k, v, ok := parseOSReleaseLine(tt.line)
		if k != tt.key || v != tt.val || ok != tt.ok {
			t.Errorf("parseOSReleaseLine(%q) = %q, %q, %v; want %q, %q, %v", tt.line, k, v, ok, tt.key, tt.val, tt.ok)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"empty", "", "nothing recognisable"},
		{"no marker", "hostname=x\n", "nothing recognisable"},
		{"cut short", beginMarker + "\nhostname=x\nos:ID=deb", "cut short"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.out))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestParseHostnameIFallbackAndMissingFields(t *testing.T) {
	out := beginMarker + "\nhostname=\nuname=\ncpus=\nhostname_i=127.0.0.1 192.0.2.7 fe80::1 fd00::7 junk \nuser=ops\nsudo_user=\n" + endMarker + "\n"
	f, err := Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := Facts{InitSystem: "none", Addresses: []string{"192.0.2.7", "fd00::7"}, User: "ops", EffectiveUser: "ops"}
	if !reflect.DeepEqual(*f, want) {
		t.Errorf("got %+v\nwant %+v", *f, want)
	}
	v := f.Value()
	for _, attr := range []string{"hostname", "os_family", "kernel", "cpus", "memory_mb", "package_manager"} {
		if !v.GetAttr(attr).IsNull() {
			t.Errorf("%s = %#v, want null", attr, v.GetAttr(attr))
		}
	}
	if got := v.GetAttr("os_id_like"); !got.Equals(cty.ListValEmpty(cty.String)).True() {
		t.Errorf("os_id_like = %#v, want an empty list", got)
	}
}

func TestValue(t *testing.T) {
	f := &Facts{Hostname: "web1", OSFamily: "debian", CPUs: 4, MemoryMB: 7940, Addresses: []string{"10.0.0.1"}}
	v := f.Value()
	if !v.Type().Equals(Type) {
		t.Fatalf("Value type %#v, want %#v", v.Type(), Type)
	}
	if got := v.GetAttr("hostname").AsString(); got != "web1" {
		t.Errorf("hostname = %q", got)
	}
	if got, _ := v.GetAttr("cpus").AsBigFloat().Int64(); got != 4 {
		t.Errorf("cpus = %d", got)
	}
	if got := v.GetAttr("addresses").Index(cty.NumberIntVal(0)).AsString(); got != "10.0.0.1" {
		t.Errorf("addresses[0] = %q", got)
	}
	if nv := (*Facts)(nil).Value(); !nv.IsNull() || !nv.Type().Equals(Type) {
		t.Errorf("nil facts: %#v, want a null of Type", nv)
	}
}

func TestCPUListCount(t *testing.T) {
	for _, tt := range []struct {
		list string
		want int
	}{
		{"0", 1}, {"0-1", 2}, {"0-3,8,10-11\n", 7}, {"", 0}, {"3-1", 0}, {"x", 0}, {"0-", 0},
	} {
		if got := cpuListCount(tt.list); got != tt.want {
			t.Errorf("cpuListCount(%q) = %d, want %d", tt.list, got, tt.want)
		}
	}
	out := beginMarker + "\ncpus_allowed=0-5\n" + endMarker + "\n"
	if f, err := Parse([]byte(out)); err != nil || f.CPUs != 6 {
		t.Errorf("Parse with cpus_allowed=0-5: CPUs %v, err %v; want 6", f, err)
	}
}
