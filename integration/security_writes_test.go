package integration_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// Issue 14, finding 3's remaining write paths: uploads through sudo and
// SFTP, the git module's fresh clone and the release module, each with
// integration.AttackerUser owning the directory drover writes into.

// canaries makes /root/canary (0600, "canary") and /root/canary.d (0700,
// empty) and returns a function printing their owner, mode and content.
func canaries(t *testing.T, h *integration.Host) func() string {
	t.Helper()
	h.Exec(t, "printf canary > /root/canary && chmod 0600 /root/canary && mkdir -m 0700 /root/canary.d")
	return func() string {
		return h.Exec(t, "stat -c '%U %a' /root/canary /root/canary.d; cat /root/canary; ls -A /root/canary.d")
	}
}

// TestBecomePutSwapRace: Put through sudo into a directory the attacker
// owns, while they swap every drover temporary file there for a link to
// /root/canary. Before the fix the temporary file was created, chmodded and
// written by name in three commands, and root chmodded and wrote the
// canary.
func TestBecomePutSwapRace(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	canary := canaries(t, h)
	want := canary()
	dir := "/home/" + integration.AttackerUser + "/up"
	h.ExecAs(t, integration.AttackerUser, "mkdir "+dir)
	stop := attack(t, h, `cd ~/up || exit 1
for f in .*drover-*; do
  [ -e "$f" ] && [ ! -L "$f" ] || continue
  ln -s /root/canary .l 2>/dev/null; mv -f .l "$f" 2>/dev/null
done`)
	bt := target(f, h, integration.DeployUser)
	bt.Become = transport.BecomeConfig{Enabled: true}
	b := dial(t, bt, options(f))
	failed := 0
	for i := 0; i < 60; i++ {
		if err := b.Put(context.Background(), dir+"/file", strings.NewReader(fmt.Sprintf("upload %d\n", i)), transport.PutOptions{Mode: 0o644}); err != nil {
			failed++
		}
		if got := canary(); got != want {
			stop()
			t.Fatalf("Put %d through sudo changed the canary: %q, was %q", i+1, got, want)
		}
	}
	stop()
	t.Logf("%d of 60 uploads failed", failed)
	// Without the attacker it works, with the owner and mode asked for.
	h.Exec(t, "rm -f "+dir+"/file "+dir+"/.*drover-*")
	if err := b.Put(context.Background(), dir+"/file", strings.NewReader("last\n"), transport.PutOptions{Mode: 0o640}); err != nil {
		t.Fatal(err)
	}
	if got := h.Exec(t, "stat -c '%U %a' "+dir+"/file; cat "+dir+"/file"); got != "root 640\nlast\n" {
		t.Errorf("after the attack: %q", got)
	}
}

// slowProxy forwards 127.0.0.1:port to addr, delaying everything the client
// sends by delay, so that the time between two SFTP requests is wide enough
// for an attacker's shell loop.
func slowProxy(t *testing.T, addr string, delay time.Duration) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(c, s); c.Close() }() //nolint:errcheck // either side closing ends it
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, err := s.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				s.Close()
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSFTPPutNeverReadable: an SFTP upload of a 0600 file into a directory
// everyone may read, over a slow link, while the attacker keeps opening
// every drover temporary file there and reads what it holds a moment later.
// Before the fix the file was created with the server's default mode (0644)
// and chmodded one round trip later: the attacker opened it in between and
// read the secret through the open descriptor.
func TestSFTPPutNeverReadable(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	h.Exec(t, "mkdir -m 0755 /srv/pub")
	port := slowProxy(t, h.HostPort(), 30*time.Millisecond)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := h.KnownHostsLine()
	if err := os.WriteFile(kh, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, line[strings.IndexByte(line, ' ')+1:])), 0o600); err != nil {
		t.Fatal(err)
	}
	tgt := target(f, h, "root")
	tgt.Address, tgt.Port = "127.0.0.1", port
	c := dial(t, tgt, transport.Options{KnownHostsFile: kh, NoAgent: true})
	got := "/tmp/drover-mallory-got"
	stop := attack(t, h, `for f in /srv/pub/.*drover-*; do
  [ -f "$f" ] || continue
  ( exec 3<"$f" || exit; sleep 1; cat <&3 >>`+got+` ) 2>/dev/null &
done`)
	secret := "secret-" + fmt.Sprint(time.Now().UnixNano())
	for i := 0; i < 8; i++ {
		if err := c.Put(context.Background(), fmt.Sprintf("/srv/pub/key%d", i), strings.NewReader(secret+"\n"), transport.PutOptions{Mode: 0o600}); err != nil {
			stop()
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	stop()
	if out := h.Exec(t, "cat "+got+" 2>/dev/null; stat -c '%a' /srv/pub/key0"); strings.Contains(out, secret) || !strings.HasSuffix(out, "600\n") {
		t.Fatalf("the attacker read a 0600 upload while it was written (or its mode is wrong):\n%s", out)
	}
}

// TestGitCloneParentSwapRace: a fresh clone into a directory the attacker
// owns, while they swap drover's work directory there for a link to
// /root/canary.d. Before the fix root ran chmod 755 and git init through the
// name mktemp had printed.
func TestGitCloneParentSwapRace(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	if _, err := h.Run("command -v git"); err != nil {
		t.Skip("git is not installed on the fleet hosts (this machine's /): apt-get install git")
	}
	gitRemote(t, h)
	canary := canaries(t, h)
	want := canary()
	dir := "/home/" + integration.AttackerUser + "/src"
	h.ExecAs(t, integration.AttackerUser, "mkdir "+dir)
	stop := attack(t, h, `cd ~/src || exit 1
for w in .*drover-*; do
  [ -d "$w" ] && [ ! -L "$w" ] || continue
  mv -T "$w" "o$w" 2>/dev/null && ln -s /root/canary.d "$w"
done`)
	play := map[string]string{"site.hcl": `
play "p" {
  hosts = "fleet"
  git "app" {
    repo = "file:///srv/repo.git"
    dest = "` + dir + `/app"
    ref  = "main"
  }
}
`}
	refused := 0
	for i := 0; i < 15; i++ {
		out, res := newEngine(t, f, play).apply(context.Background(), nil)
		if !res.Recap.OK() {
			if refused++; refused == 1 {
				t.Logf("a refusal:\n%s", out)
			}
		}
		if got := canary(); got != want {
			stop()
			t.Fatalf("apply %d changed the canary: %q, was %q\n%s", i+1, got, want, out)
		}
		h.Exec(t, "rm -rf "+dir+"/app")
	}
	stop()
	t.Logf("%d of 15 clones refused", refused)
	h.Exec(t, "cd "+dir+" && rm -rf ./.*drover-* ./o.*")
	for i, changed := range []bool{true, false} {
		out, res := newEngine(t, f, play).apply(context.Background(), nil)
		if !res.Recap.OK() || (res.Recap.Hosts[0].Tasks.Changed > 0) != changed {
			t.Fatalf("apply %d after the attack:\n%s", i+1, out)
		}
	}
	if got := h.Exec(t, "stat -c '%U %a' "+dir+"/app; cat "+dir+"/app/f"); got != "root 755\none\n" {
		t.Errorf("the clone: %q", got)
	}
}

// TestReleaseForeignAppDir: the attacker owns the application directory and
// has planted links at the fixed names the release module writes
// (.drover/.pending.tmp, .drover/.switch.sh.tmp, …). Before the fix root
// wrote the release id and the switch script through them into
// /root/canary; now plan and apply refuse the directory and say why.
func TestReleaseForeignAppDir(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	canary := canaries(t, h)
	want := canary()
	app := "/home/" + integration.AttackerUser + "/app"
	h.ExecAs(t, integration.AttackerUser, `mkdir -p ~/app/.drover/ready ~/app/releases ~/app/shared
for n in .pending.tmp .previous.tmp .switch.sh.tmp .health.sh.tmp deploys.log; do ln -s /root/canary ~/app/.drover/$n; done`)
	play := map[string]string{
		"site.hcl": `
play "p" {
  hosts = "fleet"
  release "app" {
    path   = "` + app + `"
    source = "dist"
    switch = { command = "true" }
  }
}
`,
		"dist/index.html": "v1\n",
	}
	out, res := newEngine(t, f, play).plan()
	if res.Summary.Failed != 1 || !strings.Contains(out, "can be changed by") {
		t.Errorf("plan of an application directory owned by %s:\n%s\nwant the task refused with why", integration.AttackerUser, out)
	}
	out, rc := newEngine(t, f, play).apply(context.Background(), nil)
	if rc.Recap.OK() || !strings.Contains(out, "can be changed by") {
		t.Errorf("apply into an application directory owned by %s:\n%s\nwant the task refused", integration.AttackerUser, out)
	}
	if got := canary(); got != want {
		t.Fatalf("the release wrote through the attacker's links: %q, was %q\n%s", got, want, out)
	}
}
