package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
)

// Issue 14, findings 2 and 3: a run as root must never follow a link, or
// change a file through a name, that another user of the host controls.
// integration.AttackerUser plays that user.

// recordingConn keeps everything the hosts sent back, to check what reached
// the controller.
type recordingConn struct {
	transport.Conn
	mu  *sync.Mutex
	got *bytes.Buffer
}

func (c recordingConn) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	res, err := c.Conn.Run(ctx, cmd)
	c.mu.Lock()
	c.got.Write(res.Stdout)
	c.got.Write(res.Stderr)
	c.mu.Unlock()
	return res, err
}

// planRecorded is e.plan, with everything the host sent back.
func (e *engine) planRecorded() (string, *drun.PlanResult, string) {
	e.t.Helper()
	var mu sync.Mutex
	var got bytes.Buffer
	var out syncBuffer
	term := report.NewTerminal(&out, &out, report.TerminalOptions{Masker: e.masker})
	opts := e.options(term)
	inner := opts.Connect
	opts.Connect = func(ctx context.Context, h *inventory.Host, b *drun.Become) (transport.Conn, error) {
		c, err := inner(ctx, h, b)
		if err != nil {
			return nil, err
		}
		return recordingConn{Conn: c, mu: &mu, got: &got}, nil
	}
	res, err := drun.Plan(context.Background(), opts)
	e.close()
	term.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	out.WriteString(e.diagText(res.Diagnostics))
	mu.Lock()
	defer mu.Unlock()
	return out.String(), res, got.String()
}

const keysPlaybook = `
play "keys" {
  hosts = "fleet"
  user "m" {
    name            = "` + integration.AttackerUser + `"
    authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetTestKeyForIssue14xxxxxxxxxxxxxxxxxx test@drover"]
  }
}
`

// TestUserKeysSymlinkToShadow: the user links ~/.ssh/authorized_keys to
// /etc/shadow. The plan must not read it (nothing of shadow reaches the
// controller) and must say what is wrong; the apply must not copy it into a
// file the user can read.
func TestUserKeysSymlinkToShadow(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	shadow := strings.TrimSpace(h.Exec(t, "head -n 1 /etc/shadow"))
	h.ExecAs(t, integration.AttackerUser, "mkdir -p ~/.ssh && ln -sf /etc/shadow ~/.ssh/authorized_keys")

	e := newEngine(t, f, map[string]string{"site.hcl": keysPlaybook})
	out, _, got := e.planRecorded()
	if strings.Contains(got, shadow) {
		t.Errorf("the plan sent /etc/shadow's content back to the controller")
	}
	if !strings.Contains(out, "failed user.m") || !strings.Contains(out, "authorized_keys is a symbolic link") {
		t.Errorf("the plan did not refuse the link:\n%s", out)
	}

	e = newEngine(t, f, map[string]string{"site.hcl": keysPlaybook})
	out, ares := e.apply(context.Background(), nil)
	if ares.Recap.OK() {
		t.Errorf("the apply did not refuse the link:\n%s", out)
	}
	if kind := h.Exec(t, "stat -c %F /home/"+integration.AttackerUser+"/.ssh/authorized_keys"); kind != "symbolic link\n" {
		t.Errorf("authorized_keys is now a %s", kind)
	}
	if leaked := h.Exec(t, "grep -rlF -e "+shell.Quote(shadow)+" /home/"+integration.AttackerUser+" || true"); leaked != "" {
		t.Errorf("shadow's content is in the user's files: %s", leaked)
	}

	// Once the user replaces the link by a file of their own, the key is
	// added, and a second apply changes nothing.
	h.ExecAs(t, integration.AttackerUser, "rm ~/.ssh/authorized_keys && echo 'ssh-ed25519 AAAAmine me@host' > ~/.ssh/authorized_keys")
	for i, want := range []int{1, 0} {
		e = newEngine(t, f, map[string]string{"site.hcl": keysPlaybook})
		out, ares = e.apply(context.Background(), nil)
		if !ares.Recap.OK() || ares.Recap.Hosts[0].Tasks.Changed != want {
			t.Fatalf("apply %d: want %d changed:\n%s", i+1, want, out)
		}
	}
	keys := h.ExecAs(t, integration.AttackerUser, "cat ~/.ssh/authorized_keys; stat -c '%U %a' ~/.ssh/authorized_keys ~/.ssh")
	if !strings.HasPrefix(keys, "ssh-ed25519 AAAAmine me@host\nssh-ed25519 AAAAC3") || !strings.HasSuffix(keys, integration.AttackerUser+" 600\n"+integration.AttackerUser+" 700\n") {
		t.Errorf("authorized_keys after the fix:\n%s", keys)
	}
}

// attack runs script as AttackerUser in the background until the test
// stops it (a loop must end by itself: killing nsenter would not end it).
func attack(t *testing.T, h *integration.Host, script string) (stop func()) {
	stopFile := fmt.Sprintf("/tmp/drover-stop-attack-%d", time.Now().UnixNano())
	loop := fmt.Sprintf("while [ ! -e %s ]; do %s\ndone", stopFile, script)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.RunAs(integration.AttackerUser, loop) //nolint:errcheck // the loop's own failures do not matter
	}()
	return func() {
		h.Exec(t, "touch "+stopFile)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the attacker's loop did not stop")
		}
	}
}

// TestUserKeysSwapRace: the user keeps swapping authorized_keys between a
// file of their own and a link to /etc/shadow while drover applies again
// and again. Whatever drover sees, shadow's content never lands in a file
// of the user's, nor in what the controller received.
func TestUserKeysSwapRace(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	shadow := strings.TrimSpace(h.Exec(t, "head -n 1 /etc/shadow"))
	home := "/home/" + integration.AttackerUser
	h.ExecAs(t, integration.AttackerUser, "mkdir -p ~/.ssh")
	stop := attack(t, h, `cd ~/.ssh || exit 1
echo 'ssh-ed25519 AAAAmine me@host' > k.f; mv -f k.f authorized_keys
ln -sf /etc/shadow k.l; mv -f k.l authorized_keys`)
	refused := 0
	for i := 0; i < 15; i++ {
		e := newEngine(t, f, map[string]string{"site.hcl": keysPlaybook})
		_, _, got := e.planRecorded()
		if strings.Contains(got, shadow) {
			t.Fatalf("plan %d sent /etc/shadow's content back to the controller", i+1)
		}
		e = newEngine(t, f, map[string]string{"site.hcl": keysPlaybook})
		if _, res := e.apply(context.Background(), nil); !res.Recap.OK() {
			refused++
		}
		if leaked := h.Exec(t, "grep -rlF -e "+shell.Quote(shadow)+" "+home+" || true"); leaked != "" {
			stop()
			t.Fatalf("apply %d: shadow's content is in the user's files: %s", i+1, leaked)
		}
	}
	stop()
	t.Logf("%d of 15 applies refused a link", refused)
}

// TestFileSwapRace: root writes files owned by the user into a directory
// the user owns, while the user keeps swapping what drover works on there
// (every drover temporary file, a file whose mode drover fixes, a
// subdirectory whose mode drover fixes) for links to /root/canary and
// /root/canary.d. The canaries' owner, mode and content must never change;
// once the attacker stops, a run puts everything right and the next one
// changes nothing.
func TestFileSwapRace(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	user := integration.AttackerUser
	dir := "/home/" + user + "/www"
	h.Exec(t, "printf canary > /root/canary && chmod 0600 /root/canary && mkdir -m 0700 /root/canary.d && mkdir "+dir+" && chown "+user+": "+dir)
	canary := func() string { return h.Exec(t, "stat -c '%U %a' /root/canary /root/canary.d; cat /root/canary") }
	want := canary()
	tasks := []string{`
  file "index" {
    path    = "` + dir + `/index.html"
    content = "run ${var.n}\n"
    owner   = "` + user + `"
    mode    = "0644"
  }`, `
  file "conf" {
    path    = "` + dir + `/site.conf"
    content = "constant\n"
    owner   = "` + user + `"
    mode    = var.n % 2 == 0 ? "0640" : "0644"
  }`, `
  directory "sub" {
    path  = "` + dir + `/sub"
    owner = "` + user + `"
    mode  = var.n % 2 == 0 ? "0750" : "0755"
  }`}
	playbook := func(tasks ...string) string {
		return "variable \"n\" { type = number }\nplay \"www\" {\n  hosts = \"fleet\"" + strings.Join(tasks, "") + "\n}\n"
	}
	// Each round: the user's own file and directory where drover expects
	// them (so that the plan fixes their mode), then links in their place,
	// and links over every drover temporary file seen.
	stop := attack(t, h, `cd ~/www || exit 1
echo constant > .f; chmod 0600 .f; mv -f .f site.conf
rm -f sub; mkdir sub 2>/dev/null
for f in .*drover-*; do
  [ -e "$f" ] && [ ! -L "$f" ] || continue
  ln -s /root/canary .l 2>/dev/null; mv -f .l "$f" 2>/dev/null
done
ln -s /root/canary .l; mv -f .l site.conf
rm -rf sub.o; mv -T sub sub.o 2>/dev/null; ln -s /root/canary.d sub 2>/dev/null`)
	refused := 0
	for i := 0; i < 30; i++ {
		e := newEngine(t, f, map[string]string{"site.hcl": playbook(tasks[i%len(tasks)])})
		e.vars = []string{fmt.Sprintf("n=%d", i)}
		if out, res := e.apply(context.Background(), nil); !res.Recap.OK() {
			if refused++; refused <= len(tasks) {
				t.Logf("a refusal:\n%s", out)
			}
		}
		if got := canary(); got != want {
			stop()
			t.Fatalf("apply %d changed the canaries: %q, was %q", i+1, got, want)
		}
	}
	stop()
	t.Logf("%d of 30 applies refused a swapped file", refused)
	// What the attacker leaves: links (some named like drover's temporary
	// files, made after drover had removed those) and their directories.
	h.Exec(t, "cd "+dir+" && rm -rf sub sub.o site.conf && find . -maxdepth 1 -type l -delete")
	for i, changed := range []bool{true, false} {
		e := newEngine(t, f, map[string]string{"site.hcl": playbook(tasks...)})
		e.vars = []string{"n=100"}
		out, res := e.apply(context.Background(), nil)
		if !res.Recap.OK() || (res.Recap.Hosts[0].Tasks.Changed > 0) != changed {
			t.Fatalf("apply %d after the attack:\n%s", i+1, out)
		}
	}
	if got := h.Exec(t, "cd "+dir+" && stat -c '%n %U %a' index.html site.conf sub && cat index.html && find . -name '*drover*'"); got != "index.html "+user+" 644\nsite.conf "+user+" 640\nsub "+user+" 750\nrun 100\n" {
		t.Errorf("after the attack:\n%s", got)
	}
	if got := canary(); got != want {
		t.Errorf("the canaries changed: %q", got)
	}
}

// TestFilePlanSwapRace: a file task's plan fetches the old content of a
// small text file for its diff. The user who owns the directory keeps
// swapping the file between one of their own and a link to /etc/shadow:
// shadow's content must never reach the controller.
func TestFilePlanSwapRace(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	shadow := strings.TrimSpace(h.Exec(t, "head -n 1 /etc/shadow"))
	h.ExecAs(t, integration.AttackerUser, "mkdir ~/www")
	stop := attack(t, h, `cd ~/www || exit 1
echo old > .f; mv -f .f index.html
ln -s /etc/shadow .l; mv -f .l index.html`)
	defer stop()
	playbook := `
play "www" {
  hosts = "fleet"
  file "index" {
    path    = "/home/` + integration.AttackerUser + `/www/index.html"
    content = "new\n"
  }
}
`
	for i := 0; i < 20; i++ {
		e := newEngine(t, f, map[string]string{"site.hcl": playbook})
		if _, _, got := e.planRecorded(); strings.Contains(got, shadow) {
			t.Fatalf("plan %d sent /etc/shadow's content back to the controller", i+1)
		}
	}
}
