package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// TestSecretsNotInProcessArguments: while drover runs tasks whose scripts
// hold a sensitive env value (the batched state read with a slow unless, a
// command with its own stdin, a plain command), an unprivileged user on the
// host polls every process's /proc/PID/cmdline. The secret must never
// appear there, with or without become (sudo's argv, which sudo also logs).
// A canary in the commands' own code (run and unless are program text, in
// argv by design) proves the scan saw the run's processes.
func TestSecretsNotInProcessArguments(t *testing.T) {
	for _, tc := range []struct {
		name, user, become string
	}{
		{"root", "root", ""},
		{"become", integration.DeployUser, "become = true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := integration.Start(t, 1)
			h := f.Hosts[0]
			secret := "tok-" + randomHex(t)
			canary := "drover-canary-" + randomHex(t)
			site := fmt.Sprintf(`
variable "token" {
  type      = string
  sensitive = true
}

play "p" {
  hosts = "fleet"
  shell "checked" {
    run    = "sleep 1; : %[1]s"
    unless = "sleep 1.5; : %[1]s; false"
    env    = { TOKEN = var.token }
    %[2]s
  }
  shell "with_stdin" {
    run   = "cat >/dev/null; sleep 1.5; : %[1]s"
    env   = { TOKEN = var.token }
    stdin = "input for ${var.token}\n"
    %[2]s
  }
  shell "plain" {
    run = "sleep 1.5; : %[1]s; test -n \"$TOKEN\""
    env = { TOKEN = var.token }
    %[2]s
  }
}
`, canary, tc.become)
			e := newEngineAs(t, f, tc.user, map[string]string{"site.hcl": site})
			e.vars = []string{"token=" + secret}

			stop := startArgvScan(t, h, secret, canary)
			out, res := e.apply(context.Background(), nil)
			stop()
			if !res.Recap.OK() {
				t.Fatalf("apply failed:\n%s", out)
			}
			if rc := recapOf(t, res.Recap, "host1"); rc.Tasks.Changed != 3 {
				t.Errorf("recap %+v; want 3 changed\n%s", rc.Tasks, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("the secret is in the output:\n%s", out)
			}
		})
	}
}

// TestSecretsNotInProcessArgumentsSudoPassword: the same through sudo -S
// with a password (PasswordUser), for a script with and without stdin.
func TestSecretsNotInProcessArgumentsSudoPassword(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	secret := "tok-" + randomHex(t)
	canary := "drover-canary-" + randomHex(t)
	tg := target(f, h, integration.PasswordUser)
	tg.Become = transport.BecomeConfig{Enabled: true, Password: []byte(integration.PasswordUserPassword)}
	c := dial(t, tg, options(f))
	stop := startArgvScan(t, h, secret, canary)
	script := "export TOKEN=" + shell.Quote(secret) + "\nexec sh -c " + shell.Quote("cat >/dev/null; sleep 1.5; : "+canary+"; id -un; test -n \"$TOKEN\"")
	for _, stdin := range []io.Reader{nil, strings.NewReader("input\n")} {
		res, err := c.Run(context.Background(), transport.Cmd{Command: script, Stdin: stdin})
		if err != nil || res.ExitCode != 0 || string(res.Stdout) != "root\n" {
			t.Fatalf("run: %v, exit %d, %q %q", err, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	stop()
}

// startArgvScan starts AttackerUser polling every process's cmdline on h
// for secret and canary; the returned stop fails t if the secret was seen,
// or if the canary (in the run's own program text) never was.
func startArgvScan(t *testing.T, h *integration.Host, secret, canary string) (stop func()) {
	t.Helper()
	// The attacker's patterns live in a file: a pattern in grep's own
	// arguments would match grep itself.
	h.ExecAs(t, integration.AttackerUser, fmt.Sprintf("printf '%%s\\n' %s > ~/secret; printf '%%s\\n' %s > ~/canary; rm -f ~/stop ~/started ~/hits ~/saw-canary", secret, canary))
	scan := `cd ~ && : > started
end=$(( $(date +%s) + 60 ))
while [ ! -e stop ] && [ "$(date +%s)" -lt "$end" ]; do
	grep -l -a -F -f secret /proc/[0-9]*/cmdline 2>/dev/null | while read -r p; do tr '\0\n' '  ' < "$p" 2>/dev/null >> hits; echo >> hits; done
	grep -q -a -F -f canary /proc/[0-9]*/cmdline 2>/dev/null && : > saw-canary
done
sort -u hits 2>/dev/null; true`
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := h.RunAs(integration.AttackerUser, scan)
		done <- result{out, err}
	}()
	for i := 0; ; i++ {
		if _, err := h.RunAs(integration.AttackerUser, "test -e ~/started"); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("the attacker's scan did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		t.Helper()
		h.ExecAs(t, integration.AttackerUser, ": > ~/stop")
		r := <-done
		if r.err != nil {
			t.Fatalf("scan: %v", r.err)
		}
		if r.out != "" {
			t.Errorf("the secret was in a process's arguments, readable by %s:\n%s", integration.AttackerUser, r.out)
		}
		if _, err := h.RunAs(integration.AttackerUser, "test -e ~/saw-canary"); err != nil {
			t.Errorf("the scan never saw the run's commands (canary %s): the test proves nothing", canary)
		}
	}
}

func randomHex(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
