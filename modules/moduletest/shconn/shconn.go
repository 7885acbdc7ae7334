// Package shconn runs commands with a chosen local POSIX shell (dash, bash,
// busybox ash) behind transport.Conn, so tests can check that scripts are
// portable. It imports nothing of drover but the transport, so any package
// (engine/facts included) can use it in tests without an import cycle.
package shconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drover-cm/drover/engine/transport"
)

// ShellConn is a transport.Conn that runs commands on this machine with the
// given POSIX shell (dash, bash, "busybox sh"), so that tests can check that
// module scripts work with each. Put and Get use the local filesystem.
type ShellConn struct {
	// Shell is the argv prefix that runs a command string, e.g.
	// []string{"busybox", "sh", "-c"}; nil means {"sh", "-c"}.
	Shell []string
	// Env, when set, is the whole environment of commands (e.g. a PATH of
	// busybox applets only, to stand in for an Alpine host).
	Env   []string
	trips atomic.Int64
}

// Run runs cmd.Command with the shell.
func (c *ShellConn) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	c.trips.Add(1)
	argv := c.Shell
	if argv == nil {
		argv = []string{"sh", "-c"}
	}
	argv = append(append([]string(nil), argv...), cmd.Command)
	ec := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	ec.Stdin = cmd.Stdin
	ec.Env = c.Env
	ec.Stdout, ec.Stderr = &out, &errb
	if cmd.Stdout != nil {
		ec.Stdout = io.MultiWriter(&out, cmd.Stdout)
	}
	if cmd.Stderr != nil {
		ec.Stderr = io.MultiWriter(&errb, cmd.Stderr)
	}
	err := ec.Run()
	res := transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
		if res.ExitCode < 0 {
			res.Signal = "KILL"
		}
		return res, ctx.Err()
	}
	return res, err
}

// Put writes r to path through a temporary file and a rename.
func (c *ShellConn) Put(ctx context.Context, path string, r io.Reader, opts transport.PutOptions) error {
	c.trips.Add(1)
	mode := opts.Mode
	if mode == 0 {
		mode = 0o644
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Get copies the file at path to w.
func (c *ShellConn) Get(ctx context.Context, path string, w io.Writer) error {
	c.trips.Add(1)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// Stats counts round trips.
func (c *ShellConn) Stats() transport.Stats { return transport.Stats{RoundTrips: c.trips.Load()} }

// Close does nothing.
func (c *ShellConn) Close() error { return nil }

// BusyboxPath makes a directory of links to every busybox applet and returns
// it, for a PATH where only busybox's tools are found.
func BusyboxPath(dir string) (string, error) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", err
	}
	for _, name := range strings.Fields(string(out)) {
		if err := os.Symlink(bb, filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// Busybox returns a ShellConn running busybox sh with a PATH of busybox
// applets only (an Alpine-like host). Without busybox it skips the test,
// or fails it when DROVER_REQUIRE_FLEET=1 (CI installs busybox: a skip there
// would hide that nothing proved the scripts work on a busybox-only host).
func Busybox(t testing.TB) *ShellConn {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		missingBusybox(t)
		t.Skip("busybox is not installed (apt-get install busybox)")
	}
	dir, err := BusyboxPath(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &ShellConn{Shell: []string{filepath.Join(dir, "sh"), "-c"}, Env: []string{"PATH=" + dir}}
}

// missingBusybox fails t under DROVER_REQUIRE_FLEET=1.
func missingBusybox(t testing.TB) {
	t.Helper()
	if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
		t.Fatal("busybox is not installed (apt-get install busybox); DROVER_REQUIRE_FLEET=1 requires the busybox-only tests to run")
	}
}

// Shells returns the POSIX shells available here, by name, as ShellConn argv
// prefixes: dash, bash (in POSIX mode) and busybox ash.
func Shells() map[string][]string {
	out := map[string][]string{}
	if p, err := exec.LookPath("dash"); err == nil {
		out["dash"] = []string{p, "-c"}
	}
	if p, err := exec.LookPath("bash"); err == nil {
		out["bash"] = []string{p, "--posix", "-c"}
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		out["busybox"] = []string{p, "sh", "-c"}
	}
	return out
}

// All returns a ShellConn per POSIX shell found here; busybox runs with a
// PATH of busybox applets only, standing in for an Alpine host. It skips
// the test when there is no shell.
func All(t testing.TB) map[string]*ShellConn {
	t.Helper()
	out := map[string]*ShellConn{}
	shells := Shells()
	if _, ok := shells["busybox"]; !ok {
		missingBusybox(t)
	}
	for name, argv := range shells {
		c := &ShellConn{Shell: argv}
		if name == "busybox" {
			dir, err := BusyboxPath(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c.Env = []string{"PATH=" + dir}
		}
		out[name] = c
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell found")
	}
	return out
}
