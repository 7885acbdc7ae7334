package initgen

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

// cases cover every option; commands use programs that exist on Debian so
// that systemd-analyze verify can check the units.
var cases = []struct {
	name string
	def  Definition
}{
	{"minimal", Definition{Name: "demo", Command: "/bin/sleep infinity", Hardening: true}},
	{"redis", Definition{
		Name:        "redis",
		Instances:   []string{"cache", "sessions"},
		Command:     "/bin/sh /usr/local/bin/redis-like /etc/redis/${instance}.conf --supervised systemd",
		User:        "redis",
		ConfigTest:  "/bin/sh /usr/local/bin/redis-like --check /etc/redis/${instance}.conf",
		Reload:      "signal:HUP",
		Environment: map[string]string{"LANG": "C.UTF-8"},
		Limits:      map[string]string{"nofile": "65535"},
		Restart:     "on-failure",
		After:       []string{"network-online.target"},
		BeforeStop:  "/bin/sh -c 'echo save' ${instance}",
		Hardening:   true,
	}},
	{"options", Definition{
		Name:             "app",
		Description:      "The app's worker, 100% \"quoted\"",
		Instances:        []string{"a-1", "b.2"},
		Command:          `/bin/sh -c 'exec sleep "$0"' "in ${instance} \$HOME"`,
		User:             "app",
		Group:            "www-data",
		WorkingDirectory: "/srv/app/${instance}",
		ConfigTest:       "/bin/true",
		Reload:           "/bin/kill -USR2 0",
		Environment:      map[string]string{"GREETING": "it's 50% ${instance}", "B": `back\slash`},
		Limits:           map[string]string{"nproc": "512", "core": "unlimited", "memlock": "0", "nofile": "unlimited"},
		Restart:          "always",
		After:            []string{"postgresql.service", "time-sync.target"},
		Hardening:        true,
		SystemdOptions:   map[string]string{"PrivateTmp": "", "ProtectSystem": "strict", "ReadWritePaths": "/srv/app"},
	}},
	{"nohardening", Definition{
		Name: "plain", Command: "/bin/sleep 1000", Restart: "no", Hardening: false,
		SystemdOptions: map[string]string{"ProtectHome": "read-only"},
	}},
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		for _, sys := range Systems {
			t.Run(c.name+"/"+sys, func(t *testing.T) {
				files, err := Generate(c.def, sys)
				if err != nil {
					t.Fatal(err)
				}
				got := render(files)
				golden.Check(t, filepath.Join("testdata", c.name+"."+sys+".golden"), got)
			})
		}
	}
}

// render is the files as `drover initscript` shows them.
func render(files []File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		if f.Link != "" {
			b.WriteString("==> " + f.Path + " -> " + f.Link + "\n")
			continue
		}
		b.WriteString("==> " + f.Path + " (mode " + f.Mode.String() + ")\n")
		b.Write(f.Content)
	}
	return b.Bytes()
}

// TestSystemdVerify runs systemd-analyze verify on every generated unit, as
// an instance for template units.
func TestSystemdVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		skipOrFail(t, "systemd-analyze is not installed (apt-get install systemd)")
	}
	// The units' programs must exist for verify.
	if err := os.WriteFile("/usr/local/bin/redis-like", []byte("#!/bin/sh\n"), 0o755); err != nil {
		skipOrFail(t, "cannot create /usr/local/bin/redis-like: "+err.Error())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files, err := Generate(c.def, Systemd)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			name := filepath.Base(files[0].Path)
			if len(c.def.Instances) > 0 {
				name = strings.Replace(name, "@.", "@"+c.def.Instances[0]+".", 1)
			}
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, files[0].Content, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("systemd-analyze", "verify", "--man=no", p).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze verify %s: %v\n%s\n%s", name, err, out, files[0].Content)
			}
			// Warnings about this unit fail the test too; warnings about
			// the machine's own units do not.
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, name) || strings.Contains(l, strings.Replace(name, "@"+firstOr(c.def.Instances), "@", 1)) {
					t.Errorf("systemd-analyze verify: %s", l)
				}
			}
		})
	}
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return "\x00"
	}
	return s[0]
}

// TestScriptsLint runs sh -n and shellcheck on every SysV and OpenRC script
// and systemd config-test helper.
func TestScriptsLint(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		skipOrFail(t, "shellcheck is not installed (apt-get install shellcheck)")
	}
	for _, c := range cases {
		for _, sys := range []string{SysV, OpenRC, Systemd} {
			files, err := Generate(c.def, sys)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f.Link != "" || !strings.HasPrefix(string(f.Content), "#!") {
					continue
				}
				t.Run(c.name+"/"+sys+"/"+filepath.Base(f.Path), func(t *testing.T) {
					p := filepath.Join(t.TempDir(), "script")
					if err := os.WriteFile(p, f.Content, 0o755); err != nil {
						t.Fatal(err)
					}
					for _, sh := range []string{"sh", "dash", "bash", "busybox"} {
						args := []string{"-n", p}
						if sh == "busybox" {
							args = []string{"sh", "-n", p}
						}
						if _, err := exec.LookPath(sh); err != nil {
							if sh == "busybox" && os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
								// Alpine's shell: CI installs it.
								t.Error("busybox is not installed (apt-get install busybox)")
							}
							continue
						}
						if out, err := exec.Command(sh, args...).CombinedOutput(); err != nil {
							t.Errorf("%s -n: %v\n%s", sh, err, out)
						}
					}
					if out, err := exec.Command(shellcheck, "-s", "sh", p).CombinedOutput(); err != nil {
						t.Errorf("shellcheck: %v\n%s\n%s", err, out, numbered(f.Content))
					}
				})
			}
		}
	}
}

func numbered(b []byte) string {
	var s strings.Builder
	for i, l := range strings.Split(string(b), "\n") {
		s.WriteString(strings.Repeat(" ", 4-len(itoa(i+1))) + itoa(i+1) + " " + l + "\n")
	}
	return s.String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestValidate(t *testing.T) {
	ok := Definition{Name: "svc", Command: "/bin/sleep 1"}
	for _, tc := range []struct {
		name  string
		edit  func(d *Definition)
		field string
		msg   string
	}{
		{"bad name", func(d *Definition) { d.Name = "-x" }, "name", "not a usable service name"},
		{"name with dot", func(d *Definition) { d.Name = "a.b" }, "name", "not a usable service name"},
		{"bad instance", func(d *Definition) { d.Instances = []string{"a b"} }, "instances", "not a usable instance name"},
		{"duplicate instance", func(d *Definition) { d.Instances = []string{"a", "a"} }, "instances", "listed twice"},
		{"relative command", func(d *Definition) { d.Command = "redis-server" }, "command", "absolute path"},
		{"shell operator", func(d *Definition) { d.Command = "/bin/x | y" }, "command", "no shell runs this command"},
		{"dollar", func(d *Definition) { d.Command = "/bin/x $HOME" }, "command", "no shell runs this command"},
		{"empty command", func(d *Definition) { d.Command = "" }, "command", "is required"},
		{"instance without instances", func(d *Definition) { d.Command = "/bin/x ${instance}" }, "instances", "no instances"},
		{"bad signal", func(d *Definition) { d.Reload = "signal:FOO" }, "reload", "unknown signal"},
		{"bad limit", func(d *Definition) { d.Limits = map[string]string{"files": "1"} }, "limits", "unknown limit"},
		{"bad limit value", func(d *Definition) { d.Limits = map[string]string{"nofile": "lots"} }, "limits", "whole number"},
		{"core in bytes", func(d *Definition) { d.Limits = map[string]string{"core": "1024"} }, "limits", "0 or \"unlimited\""},
		{"bad restart", func(d *Definition) { d.Restart = "sometimes" }, "restart", "must be"},
		{"bad after", func(d *Definition) { d.After = []string{"network"} }, "after", "not a systemd unit name"},
		{"env newline", func(d *Definition) { d.Environment = map[string]string{"A": "x\ny"} }, "environment", "line breaks"},
		{"env key", func(d *Definition) { d.Environment = map[string]string{"A-B": "x"} }, "environment", "not a valid variable name"},
		{"group without user", func(d *Definition) { d.Group = "g" }, "group", "set user"},
		{"bad option", func(d *Definition) { d.SystemdOptions = map[string]string{"lower": "x"} }, "systemd_options", "not a systemd setting"},
		{"relative dir", func(d *Definition) { d.WorkingDirectory = "srv" }, "working_directory", "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.edit(&d)
			err := d.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
				t.Errorf("Validate = %v, want field %s and a message containing %q", err, tc.field, tc.msg)
			}
		})
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid definition: %v", err)
	}
	if _, err := Generate(ok, "upstart"); err == nil {
		t.Error("Generate for upstart succeeded")
	}
}

func TestServicesAndTests(t *testing.T) {
	d := cases[1].def
	for sys, want := range map[string]string{
		Systemd: "redis@cache.service redis@sessions.service",
		SysV:    "redis-cache redis-sessions",
		OpenRC:  "redis.cache redis.sessions",
	} {
		if got := strings.Join(d.Services(sys), " "); got != want {
			t.Errorf("Services(%s) = %q, want %q", sys, got, want)
		}
	}
	single := cases[0].def
	if got := strings.Join(single.Services(Systemd), " "); got != "demo.service" {
		t.Errorf("single Services(systemd) = %q", got)
	}
	if got := single.ConfigTestScript(""); got != "" {
		t.Errorf("ConfigTestScript without config_test = %q", got)
	}
	got := d.ConfigTestScript("cache")
	for _, want := range []string{"set -- /bin/sh /usr/local/bin/redis-like '--check' /etc/redis/cache.conf", "runuser -u redis", "LANG=C.UTF-8"} {
		if !strings.Contains(got, want) {
			t.Errorf("ConfigTestScript(systemd) lacks %q:\n%s", want, got)
		}
	}
	if out, err := exec.Command("sh", "-n", "-c", got).CombinedOutput(); err != nil {
		t.Errorf("ConfigTestScript(systemd) is not valid sh: %v %s", err, out)
	}
}
