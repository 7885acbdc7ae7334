package facts_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/moduletest"
)

// TestScriptRunsLocally runs the real script with every POSIX shell here
// (dash, bash --posix, busybox ash) and compares with what Go sees.
func TestScriptRunsLocally(t *testing.T) {
	shells := moduletest.Shells()
	if len(shells) == 0 {
		t.Skip("no POSIX shell found")
	}
	uname, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Skipf("uname: %v", err)
	}
	host, _ := os.Hostname()
	for name, argv := range shells {
		t.Run(name, func(t *testing.T) {
			conn := &moduletest.ShellConn{Shell: argv}
			f, err := facts.Gather(context.Background(), conn)
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			if f.Kernel != strings.TrimSpace(string(uname)) {
				t.Errorf("kernel = %q, want %q", f.Kernel, strings.TrimSpace(string(uname)))
			}
			if f.Hostname != host {
				t.Errorf("hostname = %q, want %q", f.Hostname, host)
			}
			if f.CPUs < 1 || f.CPUs > runtime.NumCPU()*4 {
				t.Errorf("cpus = %d (runtime.NumCPU %d)", f.CPUs, runtime.NumCPU())
			}
			if f.MemoryMB < 64 {
				t.Errorf("memory_mb = %d", f.MemoryMB)
			}
			if f.OSID == "" || f.OSFamily == "" || f.InitSystem == "" || f.User == "" {
				t.Errorf("missing facts: %+v", *f)
			}
			if _, err := exec.LookPath("apt-get"); err == nil && f.PackageManager != "apt" {
				t.Errorf("package_manager = %q on a machine with apt-get", f.PackageManager)
			}
			if conn.Stats().RoundTrips != 1 {
				t.Errorf("Gather took %d round trips, want 1", conn.Stats().RoundTrips)
			}
		})
	}
}

// TestScriptBusyboxOnly runs the script where only busybox applets are on
// PATH, as on a minimal Alpine host.
func TestScriptBusyboxOnly(t *testing.T) {
	conn := moduletest.Busybox(t)
	f, err := facts.Gather(context.Background(), conn)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if f.Hostname == "" || f.Kernel == "" || f.Arch == "" || f.CPUs < 1 || f.MemoryMB < 1 || f.User == "" {
		t.Errorf("facts missing with busybox only: %+v", *f)
	}
}

// TestScriptShellcheck lints the script as POSIX sh when shellcheck is here.
func TestScriptShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed")
	}
	cmd := exec.Command(sc, "-s", "sh", "-")
	cmd.Stdin = strings.NewReader(facts.Script())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestScriptSameFactsAsV1 checks that the script, which forks as few
// processes as it can, gives the same facts as its first version
// (testdata/script-v1.sh: hostname, nproc, id, readlink and a pipeline),
// with every shell here, with busybox applets only, and as a user without
// privileges when the tests run as root.
func TestScriptSameFactsAsV1(t *testing.T) {
	v1, err := os.ReadFile("testdata/script-v1.sh")
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]*moduletest.ShellConn{}
	for name, argv := range moduletest.Shells() {
		conns[name] = &moduletest.ShellConn{Shell: argv}
	}
	if dir, err := moduletest.BusyboxPath(t.TempDir()); err == nil {
		conns["busybox-only"] = &moduletest.ShellConn{Shell: []string{filepath.Join(dir, "sh"), "-c"}, Env: []string{"PATH=" + dir}}
	}
	if setpriv, err := exec.LookPath("setpriv"); err == nil && os.Getuid() == 0 {
		conns["nobody"] = &moduletest.ShellConn{Shell: []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"}}
	}
	if len(conns) == 0 {
		t.Skip("no POSIX shell found")
	}
	ctx := context.Background()
	for name, conn := range conns {
		t.Run(name, func(t *testing.T) {
			res, err := conn.Run(ctx, transport.Cmd{Command: string(v1)})
			if err != nil {
				t.Fatalf("v1 script: %v", err)
			}
			want, err := facts.Parse(res.Stdout)
			if err != nil {
				t.Fatalf("v1 script: %v\n%s", err, res.Stdout)
			}
			got, err := facts.Gather(ctx, conn)
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("facts differ from the first script's:\n got %+v\nwant %+v", *got, *want)
			}
			if name == "nobody" && got.User != "nobody" {
				t.Errorf("user = %q, want nobody", got.User)
			}
		})
	}
}
