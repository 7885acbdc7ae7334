package modules_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// psGolden compares got with testdata/<dir>/<name>.golden.
func psGolden(t *testing.T, dir, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", dir, name+".golden"), got)
}

// psRender shows a task's check script, plan changes and step scripts, as
// the golden files hold them.
func psRender(task contract.Task, plan *contract.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## check\n%s\n", strings.TrimRight(task.Check(), "\n"))
	b.WriteString("## changes\n")
	if !plan.Changed() {
		b.WriteString("(none)\n")
	}
	for _, c := range plan.Changes {
		fmt.Fprintf(&b, "%s %s %s\n", c.Action.Symbol(), c.Action, c.Subject)
		for _, a := range c.Attrs {
			fmt.Fprintf(&b, "    %s: %s → %s\n", a.Name, a.Old, a.New)
		}
	}
	for i, s := range plan.Steps {
		script := s.Script
		// A transaction's step is the safeFS library (its journal) and the
		// lines from the first drover_jpkg on.
		if j := strings.Index(script, "\ndrover_jpkg "); j >= 0 {
			script = "(safeFS library)" + script[j:]
		}
		fmt.Fprintf(&b, "## step %d\n%s\n", i+1, strings.TrimRight(script, "\n"))
	}
	return b.String()
}

// psShellcheck lints a task's check and step scripts as POSIX sh when
// shellcheck is installed. SC2043 (a loop over one word) is allowed: the
// stamp loops are generated for any number of paths.
func psShellcheck(t *testing.T, task contract.Task, plan *contract.Plan) {
	t.Helper()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		return
	}
	scripts := []string{task.Check()}
	for _, s := range plan.Steps {
		// The safeFS library is not this module's: the journal lines are
		// checked from the first drover_jpkg on.
		if j := strings.Index(s.Script, "\ndrover_jpkg "); j >= 0 {
			s.Script = s.Script[j:]
		}
		scripts = append(scripts, s.Script)
	}
	for _, s := range scripts {
		cmd := exec.Command(sc, "-s", "sh", "-e", "SC2043", "-")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s\nscript:\n%s", err, out, s)
		}
	}
}

func psModule(t *testing.T, name string) contract.Module {
	t.Helper()
	m, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("module %s is not registered", name)
	}
	return m
}

func psStrings(ss ...string) cty.Value {
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

// Canned check outputs, in the KV dialect the check prints. The cache
// pairs say the index was refreshed 10 minutes (fresh) or 3 hours (stale)
// before the check.
const (
	cacheFresh = "now=1700010800\nmtime.1=1700010200\nmtime.2=1699990000\nlists=yes\nend=1\n"
	cacheStale = "now=1700010800\nmtime.1=1700000000\nlists=yes\nend=1\n"
	cacheNever = "now=1700010800\nmtime.1=1700000000\nend=1\n"
	cacheRPM   = "now=1700010800\nmtime.1=1700010000\nend=1\n"
	end        = "end=1\n"
)

// psList is lines as the check prints a tool's output: the list key.1,
// key.2, … (contract.ShList), empty lines left out.
func psList(key, lines string) string {
	var b strings.Builder
	n := 0
	for _, l := range strings.Split(lines, "\n") {
		if l != "" {
			n++
			fmt.Fprintf(&b, "%s.%d=%s\n", key, n, l)
		}
	}
	return b.String()
}

// aptPolicyNginx is apt-cache policy about nginx, not installed; the
// check asks about the names not installed only (or about every name when
// state is "latest": aptPolicyNginxCurl).
const aptPolicyNginx = `nginx:
  Installed: (none)
  Candidate: 1.22.1-9
  Version table:
     1.22.1-9 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
`

const aptPolicyNginxCurl = aptPolicyNginx + `curl:
  Installed: 7.88.1-10
  Candidate: 7.88.1-10+deb12u8
  Version table:
     7.88.1-10+deb12u8 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 7.88.1-10 100
        100 /var/lib/dpkg/status
`

func TestPackageGolden(t *testing.T) {
	tests := []struct {
		name  string
		pm    string
		attrs map[string]cty.Value
		out   string
	}{
		{"apt-install-missing", "apt", map[string]cty.Value{"names": psStrings("nginx", "curl")},
			psList("installed", "curl\tinstall ok installed\t7.88.1-10") + psList("candidates", aptPolicyNginx) + cacheFresh},
		{"apt-latest", "apt", map[string]cty.Value{"names": psStrings("nginx", "curl"), "state": cty.StringVal("latest")},
			psList("installed", "curl\tinstall ok installed\t7.88.1-10") + psList("candidates", aptPolicyNginxCurl) + cacheFresh},
		{"apt-latest-stale-cache", "apt", map[string]cty.Value{"names": psStrings("curl"), "state": cty.StringVal("latest"), "update_cache": cty.True},
			psList("installed", "curl\tinstall ok installed\t7.88.1-10+deb12u8") + psList("candidates", "curl:\n  Installed: 7.88.1-10+deb12u8\n  Candidate: 7.88.1-10+deb12u8") + cacheStale},
		{"apt-update-cache-fresh", "apt", map[string]cty.Value{"names": psStrings("tree"), "update_cache": cty.True},
			psList("candidates", "tree:\n  Installed: (none)\n  Candidate: 2.1.0-1") + cacheFresh},
		{"apt-update-cache-stale", "apt", map[string]cty.Value{"names": psStrings("tree"), "update_cache": cty.True, "cache_valid_time": cty.StringVal("2h")},
			psList("candidates", "tree:\n  Installed: (none)\n  Candidate: 2.1.0-1") + cacheStale},
		{"apt-never-updated", "apt", map[string]cty.Value{"names": psStrings("tree")},
			cacheNever},
		{"apt-all-present", "apt", map[string]cty.Value{"names": psStrings("curl"), "update_cache": cty.True},
			psList("installed", "curl\tinstall ok installed\t7.88.1-10") + end},
		{"apt-config-files-only", "apt", map[string]cty.Value{"names": psStrings("nginx")},
			psList("installed", "nginx\tdeinstall ok config-files\t1.22.1-9") + psList("candidates", "nginx:\n  Installed: (none)\n  Candidate: 1.22.1-9") + cacheFresh},
		{"apt-absent", "apt", map[string]cty.Value{"names": psStrings("nginx", "curl", "libc6:i386"), "state": cty.StringVal("absent")},
			psList("installed", "nginx\tinstall ok installed\t1.22.1-9\nlibc6\tinstall ok installed\t2.36-9+deb12u9") + end},
		{"dnf-install", "dnf", map[string]cty.Value{"names": psStrings("nginx", "curl")},
			psList("installed", "package nginx is not installed\ncurl\t8.6.0-7.fc40") + cacheRPM},
		{"dnf-latest", "dnf", map[string]cty.Value{"names": psStrings("nginx", "curl", "bash"), "state": cty.StringVal("latest"), "update_cache": cty.True},
			psList("installed", "package nginx is not installed\ncurl\t8.6.0-7.fc40\nbash\t5.2.26-3.fc40") + psList("candidates", "\ncurl.x86_64                        8.6.0-8.fc40                        updates") + cacheStale},
		{"dnf-absent", "dnf", map[string]cty.Value{"names": psStrings("nginx", "httpd"), "state": cty.StringVal("absent")},
			psList("installed", "nginx\t2:1.26.2-1.fc40\npackage httpd is not installed") + end},
		{"yum-install", "yum", map[string]cty.Value{"names": psStrings("tree")},
			psList("installed", "package tree is not installed") + cacheRPM},
		{"yum-latest", "yum", map[string]cty.Value{"names": psStrings("openssl"), "state": cty.StringVal("latest")},
			psList("installed", "openssl\t1:1.0.2k-25.el7_9") + psList("candidates", "openssl.x86_64    1:1.0.2k-26.el7_9    updates") + cacheRPM},
		{"apk-install", "apk", map[string]cty.Value{"names": psStrings("nginx", "curl")},
			psList("installed", "curl-8.9.1-r2 x86_64 {curl} (curl) [installed]") + psList("candidates", "nginx-1.26.2-r0 x86_64 {nginx} (BSD-2-Clause) ") + cacheRPM},
		{"apk-latest", "apk", map[string]cty.Value{"names": psStrings("py3-requests", "curl"), "state": cty.StringVal("latest")},
			psList("installed", "curl-8.9.1-r1 x86_64 {curl} (curl) [installed]\npy3-requests-2.32.3-r0 noarch {py3-requests} (Apache-2.0) [installed]") + psList("candidates", "curl-8.9.1-r2 x86_64 {curl} (curl) [upgradable from: curl-8.9.1-r1]\npy3-requests-2.32.3-r0 noarch {py3-requests} (Apache-2.0) [installed]") + cacheRPM},
		{"apk-absent", "apk", map[string]cty.Value{"names": psStrings("curl"), "state": cty.StringVal("absent")},
			psList("installed", "curl-8.9.1-r2 x86_64 {curl} (curl) [installed]") + end},
		// No facts and no package_manager: the check finds the manager.
		{"detect-apt-install", "", map[string]cty.Value{"names": psStrings("tree")},
			"managers=apt-get\n" + psList("candidates", "tree:\n  Installed: (none)\n  Candidate: 2.1.0-1") + cacheFresh},
		{"detect-dnf-yum-present", "", map[string]cty.Value{"names": psStrings("curl")},
			"managers=dnf yum\nos.ID=\"rocky\"\nos.ID_LIKE=\"rhel centos fedora\"\n" + psList("installed", "curl\t8.6.0-7.fc40") + end},
	}
	m := psModule(t, "package")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *facts.Facts
			if tt.pm != "" {
				f = &facts.Facts{PackageManager: tt.pm}
			}
			task, err := m.Configure(contract.Config{Values: cty.ObjectVal(tt.attrs), Facts: f})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			plan, err := task.Diff(contract.CheckOutput{Stdout: []byte(tt.out)})
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			if plan.Changed() != (len(plan.Steps) > 0) {
				t.Errorf("plan has %d changes but %d steps", len(plan.Changes), len(plan.Steps))
			}
			psGolden(t, "package", tt.name, psRender(task, plan))
			psShellcheck(t, task, plan)
		})
	}
}

func TestPackageConfigureErrors(t *testing.T) {
	m := psModule(t, "package")
	apt := &facts.Facts{PackageManager: "apt"}
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		facts *facts.Facts
		attr  string
		want  string
	}{
		{"no names", map[string]cty.Value{}, apt, "names", "required"},
		{"empty names", map[string]cty.Value{"names": cty.ListValEmpty(cty.String)}, apt, "names", "at least one"},
		{"option as name", map[string]cty.Value{"names": psStrings("-y")}, apt, "names", "not a package name"},
		{"version pin", map[string]cty.Value{"names": psStrings("nginx=1.22")}, apt, "names", "no version pins"},
		{"shell in name", map[string]cty.Value{"names": psStrings("a;reboot")}, apt, "names", "not a package name"},
		{"bad state", map[string]cty.Value{"names": psStrings("a"), "state": cty.StringVal("installed")}, apt, "state", "must be one of"},
		{"bad duration", map[string]cty.Value{"names": psStrings("a"), "cache_valid_time": cty.StringVal("1 hour")}, apt, "cache_valid_time", "duration"},
		{"no manager on host", map[string]cty.Value{"names": psStrings("a")}, &facts.Facts{}, "package_manager", "no supported package manager"},
		{"unknown manager", map[string]cty.Value{"names": psStrings("a"), "package_manager": cty.StringVal("pacman")}, nil, "package_manager", "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Configure(contract.Config{Values: cty.ObjectVal(tt.attrs), Facts: tt.facts})
			ae, ok := err.(*contract.AttrError)
			if !ok || ae.Attr != tt.attr || !strings.Contains(ae.Msg, tt.want) {
				t.Fatalf("Configure error = %#v, want an AttrError on %s containing %q", err, tt.attr, tt.want)
			}
		})
	}
}

func TestPackageOverrideAndCheckFailure(t *testing.T) {
	m := psModule(t, "package")
	task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
		"names": psStrings("tree"), "package_manager": cty.StringVal("apk")}), Facts: &facts.Facts{PackageManager: "apt"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(task.Check(), "apk list") {
		t.Errorf("package_manager did not override the facts:\n%s", task.Check())
	}
	_, err = task.Diff(contract.CheckOutput{Stderr: []byte("sh: 1: eval: Syntax error\n"), ExitCode: 2})
	if err == nil || !strings.Contains(err.Error(), "Syntax error") {
		t.Errorf("Diff of a failed check: %v, want the check's stderr", err)
	}
}

// TestPackageDetectErrors: a detecting check that found no manager, or
// several where the OS family prefers another than the one it used.
func TestPackageDetectErrors(t *testing.T) {
	task, err := psModule(t, "package").Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{"names": psStrings("curl")})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, out, want string }{
		{"none", "managers=\nend=1\n", "no supported package manager"},
		{"apt on alpine", "managers=apt-get apk\nos.ID=alpine\nend=1\n", `set package_manager = "apk"`},
		{"apt on a rhel-like", "managers=apt-get dnf\nos.ID=almalinux\nos.ID_LIKE='rhel centos fedora'\nend=1\n", `set package_manager = "dnf"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := task.Diff(contract.CheckOutput{Stdout: []byte(tt.out)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Diff: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Several managers where the family agrees with the first found: fine.
	plan, err := task.Diff(contract.CheckOutput{Stdout: []byte("managers=apt-get apk\nos.ID=debian\n" + psList("installed", "curl\tinstall ok installed\t7.88.1-10") + end)})
	if err != nil || plan.Changed() {
		t.Errorf("apt and apk on Debian, curl installed: plan %+v, error %v; want no change", plan, err)
	}
}

// TestPackageCheckLocalApt runs the apt check on this machine (read-only)
// with every POSIX shell here: dpkg itself is always installed.
func TestPackageCheckLocalApt(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("not a dpkg system")
	}
	m := psModule(t, "package")
	want, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "dpkg").Output()
	if err != nil {
		t.Fatal(err)
	}
	for name, argv := range moduletest.Shells() {
		for _, state := range []string{"latest", "present"} {
			for _, f := range []*facts.Facts{{PackageManager: "apt"}, nil} {
				task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
					"names": psStrings("dpkg", "drover-no-such-package"), "state": cty.StringVal(state)}),
					Facts: f})
				if err != nil {
					t.Fatal(err)
				}
				t.Run(fmt.Sprintf("%s/%s/facts=%v", name, state, f != nil), func(t *testing.T) { localAptPlan(t, argv, task, string(want)) })
			}
		}
	}
}

func localAptPlan(t *testing.T, argv []string, task contract.Task, want string) {
	t.Helper()
	plan := moduletest.MustPlan(t, &moduletest.ShellConn{Shell: argv}, task)
	var missing bool
	for _, c := range plan.Changes {
		if c.Subject == "package dpkg" && (len(c.Attrs) != 1 || c.Attrs[0].Old != want) {
			t.Errorf("dpkg change %+v, want its installed version %s as old", c, want)
		}
		if c.Subject == "package drover-no-such-package" && c.Action == contract.Create {
			missing = true
		}
	}
	if !missing {
		t.Errorf("plan does not install the missing package:\n%s", moduletest.Describe(plan))
	}
}

// TestPackageCheckAsksOnlyForMissing runs each manager's check with every
// local shell against stand-in commands that print canned output and log
// their arguments: the repositories are asked only about the names not
// installed (every name for state "latest"; nothing when all are
// installed), and the plan agrees with what the shell decided.
func TestPackageCheckAsksOnlyForMissing(t *testing.T) {
	const (
		dpkgOut = "curl\tinstall ok installed\t7.88.1-10\n" +
			"nginx\tdeinstall ok config-files\t1.22.1-9\n" +
			"libc6\tinstall ok installed\t2.36-9\n" +
			"half\tinstall reinstreq half-installed\t1.0\n"
		rpmOut = "curl\t8.6.0-7.fc40\npackage nginx is not installed\n"
		// foo-2fa is installed, foo is not: a prefix must not match.
		apkOut = "foo-2fa-1.0-r0 x86_64 {foo-2fa} (MIT) [installed]\n" +
			"py3-requests-2.32.3-r0 noarch {py3-requests} (Apache-2.0) [installed]\n"
	)
	tests := []struct {
		name, pm, state string
		names           []string
		// calls are the stand-ins' logged argument lists after the query.
		calls   []string
		creates []string // names the plan installs
	}{
		{"apt present", "apt", "present", []string{"curl", "nginx", "libc6:i386", "half", "tree"},
			[]string{"apt-cache policy nginx half tree"}, []string{"nginx", "half", "tree"}},
		{"apt all installed", "apt", "present", []string{"curl", "libc6:amd64"}, nil, nil},
		{"apt latest", "apt", "latest", []string{"curl", "nginx"}, []string{"apt-cache policy curl nginx"}, []string{"nginx"}},
		{"apt absent", "apt", "absent", []string{"curl", "nginx"}, nil, nil},
		{"dnf present", "dnf", "present", []string{"curl", "nginx"}, nil, []string{"nginx"}},
		{"dnf all installed", "dnf", "present", []string{"curl"}, nil, nil},
		{"dnf latest", "dnf", "latest", []string{"curl"}, []string{"dnf -q -C check-update curl"}, nil},
		{"apk present", "apk", "present", []string{"foo", "foo-2fa", "py3-requests"}, []string{"apk list foo"}, []string{"foo"}},
		{"apk all installed", "apk", "present", []string{"foo-2fa", "py3-requests"}, nil, nil},
	}
	log, env := pkgStandIns(t, map[string]string{"dpkg-query": dpkgOut, "rpm": rpmOut, "apk": apkOut, "apt-cache": "", "dnf": ""})
	m := psModule(t, "package")
	for shName, argv := range moduletest.Shells() {
		for _, tt := range tests {
			t.Run(shName+"/"+tt.name, func(t *testing.T) {
				task, err := m.Configure(contract.Config{Values: cty.ObjectVal(map[string]cty.Value{
					"names": psStrings(tt.names...), "state": cty.StringVal(tt.state), "package_manager": cty.StringVal(tt.pm)})})
				if err != nil {
					t.Fatal(err)
				}
				os.Remove(log)
				plan := moduletest.MustPlan(t, &moduletest.ShellConn{Shell: argv, Env: env}, task)
				b, _ := os.ReadFile(log)
				calls := strings.Split(strings.TrimSpace(string(b)), "\n")[1:] // the first is the installed query
				if fmt.Sprint(calls) != fmt.Sprint(append([]string{}, tt.calls...)) {
					t.Errorf("calls after the installed query = %q, want %q", calls, tt.calls)
				}
				var creates []string
				for _, c := range plan.Changes {
					if c.Action == contract.Create {
						creates = append(creates, strings.TrimPrefix(c.Subject, "package "))
					}
				}
				if fmt.Sprint(creates) != fmt.Sprint(append([]string{}, tt.creates...)) {
					t.Errorf("plan installs %q, want %q:\n%s", creates, tt.creates, moduletest.Describe(plan))
				}
			})
		}
	}
}

// pkgStandIns writes stand-in commands that log their arguments to the
// returned file and print canned output (apk prints it for "list -I" only),
// and returns that log and the environment that puts them first in PATH.
func pkgStandIns(t *testing.T, stand map[string]string) (log string, env []string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	for name, out := range stand {
		script := "#!/bin/sh\nprintf '%s\\n' \"" + name + " $*\" >>" + shell.Quote(log) + "\n"
		if name == "apk" {
			script += "[ \"$2\" = -I ] || exit 0\n"
		}
		script += "printf '%s' " + shell.Quote(out) + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return log, []string{"PATH=" + dir + ":/usr/bin:/bin", "LC_ALL=C"}
}
