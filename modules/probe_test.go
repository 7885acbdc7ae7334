package modules

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

func probeTask(t *testing.T, attrs map[string]cty.Value) *ProbeTask {
	t.Helper()
	obj := map[string]cty.Value{}
	for _, a := range probeSpec.Attributes {
		if a.Default != cty.NilVal {
			obj[a.Name] = a.Default
		} else {
			obj[a.Name] = cty.NullVal(a.Type)
		}
	}
	for k, v := range attrs {
		obj[k] = v
	}
	task, err := probeModule{}.Configure(contract.Config{Values: cty.ObjectVal(obj)})
	if err != nil {
		t.Fatal(err)
	}
	return task.(*ProbeTask)
}

// runLocal runs a Check fragment with sh, as CheckAll does on a host.
func runLocal(t *testing.T, frag string) contract.CheckOutput {
	t.Helper()
	return runLocalWith(t, "sh", frag)
}

// runLocalWith is runLocal with the shell sh (busybox's, for a busybox
// host).
func runLocalWith(t *testing.T, sh, frag string) contract.CheckOutput {
	t.Helper()
	cmd := exec.Command(sh, "-c", frag)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return contract.CheckOutput{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: code}
}

func TestProbeRunsLocally(t *testing.T) {
	tests := []struct {
		name    string
		attrs   map[string]cty.Value
		status  string
		stdout  string
		ran     string
		trunc   bool
		missing []string
	}{
		{name: "ok", attrs: map[string]cty.Value{"command": cty.StringVal("echo hello; echo oops >&2")},
			status: contract.ProbeOK, stdout: "hello\n", ran: "echo hello; echo oops >&2"},
		{name: "failed", attrs: map[string]cty.Value{"command": cty.StringVal("false")}, status: contract.ProbeFailed, ran: "false"},
		{name: "grep no match is ok", attrs: map[string]cty.Value{
			"command":       cty.StringVal("echo a | grep b"),
			"ok_exit_codes": cty.ListVal([]cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(1)}),
		}, status: contract.ProbeOK, ran: "echo a | grep b"},
		{name: "missing tool", attrs: map[string]cty.Value{"command": cty.StringVal("no-such-tool-xyz -a")},
			status: contract.ProbeNotAvailable, missing: []string{"no-such-tool-xyz"}},
		{name: "fallback", attrs: map[string]cty.Value{
			"command":  cty.StringVal("no-such-tool-xyz -tulpn"),
			"fallback": cty.ListVal([]cty.Value{cty.StringVal("no-such-either"), cty.StringVal("echo fallback")}),
		}, status: contract.ProbeOK, stdout: "fallback\n", ran: "echo fallback"},
		{name: "exit 127 inside", attrs: map[string]cty.Value{"command": cty.StringVal("sh -c 'no-such-tool-xyz'")},
			status: contract.ProbeNotAvailable, ran: "sh -c 'no-such-tool-xyz'"},
		{name: "truncated", attrs: map[string]cty.Value{"command": cty.StringVal("yes | head -c 100000"), "max_output": cty.NumberIntVal(10)},
			status: contract.ProbeOK, stdout: "y\ny\ny\ny\ny\n", ran: "yes | head -c 100000", trunc: true},
		{name: "endless output is cut", attrs: map[string]cty.Value{"command": cty.StringVal("yes"), "max_output": cty.NumberIntVal(4)},
			status: contract.ProbeOK, stdout: "y\ny\n", ran: "yes", trunc: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := probeTask(t, tt.attrs)
			r := p.Result(runLocal(t, p.Check()))
			if r.Status != tt.status || r.Ran != tt.ran || r.Truncated != tt.trunc {
				t.Errorf("got status %q ran %q truncated %v (exit %d, stderr %q), want %q %q %v", r.Status, r.Ran, r.Truncated, r.ExitCode, r.Stderr, tt.status, tt.ran, tt.trunc)
			}
			if tt.stdout != "" && r.Stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.Stdout, tt.stdout)
			}
			if strings.Join(r.Missing, ",") != strings.Join(tt.missing, ",") {
				t.Errorf("missing %v, want %v", r.Missing, tt.missing)
			}
		})
	}
}

func TestProbeTimeoutKillsTheCommand(t *testing.T) {
	p := probeTask(t, map[string]cty.Value{"command": cty.StringVal("echo started; sleep 30; echo never"), "timeout": cty.NumberFloatVal(0.5)})
	start := time.Now()
	r := p.Result(runLocal(t, p.Check()))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the probe took %s; the timeout is 0.5 s", d)
	}
	if r.Status != contract.ProbeTimeout || r.Stdout != "started\n" {
		t.Errorf("got %q %q, want timeout with the output so far", r.Status, r.Stdout)
	}
}

func TestParseProbeOutput(t *testing.T) {
	df := "Filesystem     1024-blocks    Used Available Capacity Mounted on\n/dev/sda1        100 95 5 95% /\ntmpfs 10 0 10 0% /run/user 1000\n"
	tests := []struct {
		name string
		out  string
		opts ParseOptions
		want string // GoString of selected value
		get  func(p Parsed) cty.Value
	}{
		{"table header", df, ParseOptions{Format: "table", Header: true}, `"95%"`,
			func(p Parsed) cty.Value { return p.Rows.Index(cty.NumberIntVal(0)).Index(cty.StringVal("capacity")) }},
		{"table columns, last takes the rest", df, ParseOptions{Format: "table", Header: true, Columns: []string{"fs", "size", "used", "avail", "pct", "mount"}}, `"/run/user 1000"`,
			func(p Parsed) cty.Value { return p.Rows.Index(cty.NumberIntVal(1)).Index(cty.StringVal("mount")) }},
		{"kv", "MemTotal:  100 kB\nSwapFree: 0 kB\n", ParseOptions{Format: "kv"}, `"0 kB"`,
			func(p Parsed) cty.Value { return p.Values.Index(cty.StringVal("SwapFree")) }},
		{"number", " load average: 3.50, 2.00\n", ParseOptions{Format: "number"}, `3.5`,
			func(p Parsed) cty.Value { return p.Value }},
		{"regex named", "a=1\nport 22 sshd\nport 8080 nc\n", ParseOptions{Regex: regexp.MustCompile(`^port (?P<port>\d+) (?P<proc>\S+)`)}, `"nc"`,
			func(p Parsed) cty.Value { return p.Rows.Index(cty.NumberIntVal(1)).Index(cty.StringVal("proc")) }},
		{"regex value", "up 5 days\n", ParseOptions{Regex: regexp.MustCompile(`up (\d+) days`)}, `5`,
			func(p Parsed) cty.Value { return p.Value }},
		{"json", `{"a": [1, 2]}`, ParseOptions{Format: "json"}, `2`,
			func(p Parsed) cty.Value { return p.Value.GetAttr("a").Index(cty.NumberIntVal(1)) }},
		{"lines", "a\n\nb\n", ParseOptions{Format: "lines"}, `2`, func(p Parsed) cty.Value { return p.Value }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProbeOutput(tt.out, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.get(p)
			var s string
			if got.Type() == cty.String {
				s = `"` + got.AsString() + `"`
			} else {
				s = got.AsBigFloat().Text('g', -1)
			}
			if s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestMutatingHint(t *testing.T) {
	for cmd, mutating := range map[string]bool{
		"df -h":                            false,
		"ps aux | sort -k3":                false,
		"dmesg 2>/dev/null | tail -50":     false,
		"rm -rf /tmp/x":                    true,
		"echo 1 > /proc/sys/vm/drop":       true,
		"systemctl --failed":               false,
		"systemctl restart nginx":          true,
		"journalctl -p err -n 50":          false,
		"ls /etc/cron.d; crontab -l":       false,
		"apt-get install -y foo":           true,
		"sed -i s/a/b/ /etc/hosts":         true,
		"grep -c processor /proc/cpuinfo":  false,
		"ss -tan | awk 'NR > 1 { print }'": false,
	} {
		if got := MutatingHint(cmd) != ""; got != mutating {
			t.Errorf("MutatingHint(%q) = %q, want mutating=%v", cmd, MutatingHint(cmd), mutating)
		}
	}
}

// TestProbeReadOnlyEnforcement runs probes as root on this machine: the
// command runs in a read-only mount namespace as uid 65534; with busybox's
// applets only (an Alpine host) too, said so (ReadOnlyEnforcedBusybox);
// without unshare it runs unenforced, or not at all when enforcement is
// required.
func TestProbeReadOnlyEnforcement(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs util-linux setpriv")
	}
	// A PATH with the basics but no unshare.
	noUnshare := t.TempDir()
	for _, p := range []string{"sh", "mktemp", "id", "head", "cat", "wc", "timeout", "rm", "sed", "mount", "setpriv", "touch"} {
		if path, err := exec.LookPath(p); err == nil {
			if err := os.Symlink(path, filepath.Join(noUnshare, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Busybox's applets only, and its sh.
	bb := ""
	if _, err := exec.LookPath("busybox"); err == nil {
		if bb, err = moduletest.BusyboxPath(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		// uid 65534 runs the probe's sh from there, as from /bin on a
		// busybox host.
		for _, d := range []string{bb, filepath.Dir(bb)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	} else if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
		t.Fatal("busybox is not installed (apt-get install busybox); DROVER_REQUIRE_FLEET=1 requires the busybox case to run")
	}
	// World-writable: only the read-only mount keeps uid 65534 out.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	victim, _ := filepath.Abs(filepath.Join(dir, "victim"))
	cmd := "id -u; echo discard >/dev/null && echo devnull; touch " + victim
	tests := []struct {
		name     string
		path     string
		busybox  bool
		require  bool
		status   string
		readOnly string
		written  bool
		stdout   string
	}{
		{name: "enforced", status: contract.ProbeFailed, readOnly: contract.ReadOnlyEnforced, stdout: "65534\ndevnull\n"},
		{name: "no unshare", path: noUnshare, status: contract.ProbeOK, readOnly: "not enforced: util-linux tools missing: unshare", written: true, stdout: "0\ndevnull\n"},
		{name: "no unshare, required", path: noUnshare, require: true, status: contract.ProbeRefused, readOnly: "not enforced: util-linux tools missing: unshare"},
		{name: "busybox only", busybox: true, status: contract.ProbeFailed, readOnly: contract.ReadOnlyEnforcedBusybox, stdout: "65534\ndevnull\n"},
		{name: "busybox only, required", busybox: true, require: true, status: contract.ProbeFailed, readOnly: contract.ReadOnlyEnforcedBusybox, stdout: "65534\ndevnull\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(victim)
			p := probeTask(t, map[string]cty.Value{"command": cty.StringVal(cmd), "requires": cty.ListVal([]cty.Value{cty.StringVal("sh")})})
			p.RequireEnforced = tt.require
			frag := p.Check()
			sh := "sh"
			if tt.busybox {
				if bb == "" {
					t.Skip("busybox is not installed")
				}
				tt.path, sh = bb, filepath.Join(bb, "sh")
			}
			if tt.path != "" {
				frag = "PATH=" + tt.path + "\n" + frag
			}
			r := p.Result(runLocalWith(t, sh, frag))
			if r.Status != tt.status || r.ReadOnly != tt.readOnly || r.Stdout != tt.stdout {
				t.Errorf("got status %q read-only %q stdout %q (stderr %q), want %q %q %q", r.Status, r.ReadOnly, r.Stdout, r.Stderr, tt.status, tt.readOnly, tt.stdout)
			}
			if _, err := os.Stat(victim); (err == nil) != tt.written {
				t.Errorf("victim written: %v, want %v", err == nil, tt.written)
			}
		})
	}
}
