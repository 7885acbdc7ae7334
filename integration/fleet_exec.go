// Running scripts inside a fleet host (its namespaces, without SSH), as
// root or as another user.

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
)

// nsPID returns the PID (in our namespace) of the process whose namespaces
// Exec enters: the host's PID 1, or for systemd hosts the container's systemd.
func (h *Host) nsPID() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.proc == nil {
		return 0, fmt.Errorf("%s is not running", h.Name)
	}
	if h.initPID == 0 || procStamp(h.initPID) == "" {
		h.initPID = childPID(h.proc.Process.Pid)
	}
	if h.initPID == 0 {
		return 0, fmt.Errorf("%s has no PID 1 yet", h.Name)
	}
	if !h.fleet.Systemd {
		return h.initPID, nil
	}
	if p := containerInit(h.initPID); p != 0 {
		return p, nil
	}
	return 0, fmt.Errorf("%s: the container's systemd is not running", h.Name)
}

// Exec runs script with sh inside the host (its mount, PID, UTS and IPC
// namespaces and root, as root) without SSH, and returns its standard output.
// A non-zero exit fails t with the output.
func (h *Host) Exec(t testing.TB, script string) string {
	t.Helper()
	out, err := h.Run(script)
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	return out
}

// ExecAs is Exec as user (by name, with that user's groups and home), for a
// test's attacker: AttackerUser planting what a run as root must not follow.
func (h *Host) ExecAs(t testing.TB, user, script string) string {
	t.Helper()
	out, err := h.RunAs(user, script)
	if err != nil {
		t.Fatalf("%s as %s: %v", h.Name, user, err)
	}
	return out
}

// RunAs is ExecAs returning an error instead of failing a test.
func (h *Host) RunAs(user, script string) (string, error) {
	q := shell.Quote
	wrapped := fmt.Sprintf("cd / && exec setpriv --reuid=%s --regid=%s --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=\"$(getent passwd %s | cut -d: -f6)\" USER=%s LOGNAME=%s /bin/sh -c %s",
		q(user), q(user), q(user), q(user), q(user), q(script))
	return h.Run(wrapped)
}

// ExecError is the error Run returns when the script ran and failed.
type ExecError struct {
	Script   string
	ExitCode int
	Stderr   string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("script exited with status %d: %s\nscript: %s", e.ExitCode, strings.TrimSpace(e.Stderr), e.Script)
}

// Run is Exec returning an error (an *ExecError when the script failed)
// instead of failing a test.
func (h *Host) Run(script string) (string, error) {
	return h.RunContext(context.Background(), script, nil)
}

// RunContext is Run with a context and an optional standard input.
func (h *Host) RunContext(ctx context.Context, script string, stdin []byte) (string, error) {
	pid, err := h.nsPID()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(pid),
		"--mount", "--uts", "--ipc", "--pid", "--root", "--wd=/", "--", "/bin/sh", "-c", script)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "USER=root", "LOGNAME=root", "LANG=C.UTF-8", "TERM=dumb",
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), &ExecError{Script: script, ExitCode: exit.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("nsenter: %w", err)
	}
	return stdout.String(), nil
}
