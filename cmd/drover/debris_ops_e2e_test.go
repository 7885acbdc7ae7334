package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// Issue 19, no debris, for the operations that stage more than one file: a
// tree copy, an archive unpack and a release deploy, each applied by the
// real binary and killed (SIGKILL) mid-upload three times. After each kill
// only the killed run's own temporary entries are left (each run first
// removes its predecessors'): at most one beside the big file; the next
// complete run removes the last ones and says so. The archive case also
// plants a staging directory of an earlier run (as safeFS makes one) and an
// attacker's look-alike directory: the first is removed and reported, the
// second left alone.
func TestCLIFleetKilledOperationsDebris(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	inv := writeFile(t, t.TempDir(), "fleet.hcl", fmt.Sprintf("defaults {\n  user = \"root\"\n  identity_file = %q\n}\nhost %q {\n  address = %q\n  port = %d\n  groups = [\"fleet\"]\n}\n", f.KeyFile, h.Name, h.Addr, h.Port))
	big := make([]byte, 20<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}

	t.Run("tree", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tree", "big.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "tree/sub/small.txt", "small\n")
		play := writeFile(t, dir, "tree.hcl", "play \"p\" {\n  hosts = \"fleet\"\n  copy \"tree\" {\n    source = \"tree\"\n    path = \"/srv/tree\"\n  }\n}\n")
		killedDebris(t, h, []string{"-i", inv, "--known-hosts", f.KnownHostsFile, play}, "/srv/tree", ".big.bin.drover-",
			"stale drover temporary file(s) of an earlier run beside /srv/tree/big.bin")
		if got := strings.TrimSpace(h.Exec(t, "stat -c %s /srv/tree/big.bin; cat /srv/tree/sub/small.txt")); got != "20971520\nsmall" {
			t.Errorf("the tree on the host: %q", got)
		}
	})

	t.Run("archive", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.tar.gz"), tarGz(t, map[string][]byte{"app/big.bin": big, "app/VERSION": []byte("1\n")}), 0o644); err != nil {
			t.Fatal(err)
		}
		play := writeFile(t, dir, "archive.hcl", "play \"p\" {\n  hosts = \"fleet\"\n  archive \"app\" {\n    source = \"app.tar.gz\"\n    dest = \"/srv/unpack/app\"\n    strip_components = 1\n  }\n}\n")
		h.Exec(t, "mkdir -p /srv/unpack && chmod 1777 /srv/unpack")
		// A staging directory a killed run left (private, with an unpacked
		// tree in it) and the attacker's look-alike of one.
		h.Exec(t, "cd /srv/unpack && mkdir -m 700 .app.drover-1000000001-aBcDeF012345 && mkdir -p .app.drover-1000000001-aBcDeF012345/x/deep && echo x > .app.drover-1000000001-aBcDeF012345/x/deep/f")
		h.ExecAs(t, integration.AttackerUser, "mkdir -m 700 /srv/unpack/.app.drover-1000000001-0123456789ab && echo mine > /srv/unpack/.app.drover-1000000001-0123456789ab/f")
		killedDebris(t, h, []string{"-i", inv, "--known-hosts", f.KnownHostsFile, play}, "/srv/unpack", ".app.drover-",
			"stale drover temporary file(s) of an earlier run beside /srv/unpack/app")
		if got := strings.TrimSpace(h.Exec(t, "stat -c %s /srv/unpack/app/big.bin; cat /srv/unpack/app/VERSION; stat -c %U /srv/unpack/.app.drover-1000000001-0123456789ab")); got != "20971520\n1\n"+integration.AttackerUser {
			t.Errorf("the unpacked tree and the attacker's directory: %q", got)
		}
	})

	t.Run("release", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.tar.gz"), tarGz(t, map[string][]byte{"big.bin": big, "VERSION": []byte("1\n")}), 0o644); err != nil {
			t.Fatal(err)
		}
		play := writeFile(t, dir, "release.hcl", "play \"p\" {\n  hosts = \"fleet\"\n  release \"app\" {\n    path = \"/srv/app\"\n    source = \"app.tar.gz\"\n  }\n}\n")
		killedDebris(t, h, []string{"-i", inv, "--known-hosts", f.KnownHostsFile, play}, "/srv/app/.drover", ".upload.tar.drover-",
			"stale drover temporary file(s) of an earlier run in /srv/app")
		if got := strings.TrimSpace(h.Exec(t, "cat /srv/app/current/VERSION; stat -c %s /srv/app/current/big.bin")); got != "1\n20971520" {
			t.Errorf("the live release: %q", got)
		}
	})
}

// killedDebris applies args three times, killing the controller as soon as
// an upload named prefix… has data in dir (read from the host's overlay
// upper directory); after each kill, the drover temporary entries of root's
// in dir are the killed run's alone, and at most one named prefix…. A
// fourth, complete run must report reported, remove them all, and a fifth
// report nothing stale.
func killedDebris(t *testing.T, h *integration.Host, args []string, dir, prefix, reported string) {
	t.Helper()
	upper := filepath.Join(h.Dir, "upper", strings.TrimPrefix(dir, "/"))
	// Root's entries of the scheme in dir (and, for a tree, below it).
	temps := func() []string {
		out := h.Exec(t, "[ -d "+dir+" ] || exit 0; find "+dir+" -name '.*.drover-[0-9]*' -user root -print")
		return strings.Fields(out)
	}
	old := map[string]bool{}
	for _, n := range temps() {
		old[n] = true
	}
	for kill := 1; kill <= 3; kill++ {
		time.Sleep(1100 * time.Millisecond) // a new run id: one per second
		before := map[string]bool{}
		for _, n := range temps() {
			before[n] = true
		}
		cmd := startApply(t, args...)
		deadline := time.Now().Add(60 * time.Second)
		var run string
		for time.Now().Before(deadline) && run == "" {
			ents, _ := os.ReadDir(upper)
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), prefix) || before[filepath.Join(dir, e.Name())] {
					continue
				}
				if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Sys().(*syscall.Stat_t).Uid == 0 {
					_ = cmd.Process.Kill()
					run = runOf(e.Name())
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		_ = cmd.Wait()
		if run == "" {
			t.Fatalf("kill %d: no upload appeared in %s within 60s:\n%s", kill, dir, cmd.Stdout)
		}
		time.Sleep(300 * time.Millisecond) // the host's sftp-server sees the connection close
		got := temps()
		t.Logf("after kill %d (run %s): %v", kill, run, got)
		n := 0
		for _, p := range got {
			if old[p] {
				continue // planted before the first run: the complete run removes it
			}
			if r := runOf(filepath.Base(p)); r != run {
				t.Errorf("after kill %d: %s of run %s is left; every run removes what earlier ones left", kill, p, r)
			}
			if strings.HasPrefix(filepath.Base(p), prefix) {
				n++
			}
		}
		if n > 1 {
			t.Errorf("after kill %d: %d temporary uploads %s… in %s", kill, n, prefix, dir)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	r := drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, reported) {
		t.Errorf("the cleanup is not reported (%q):\n%s", reported, r.stdout)
	}
	if got := temps(); len(got) != 0 {
		t.Errorf("after a complete run: drover temporary entries left: %v", got)
	}
	r = drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 || strings.Contains(r.stdout, "stale") {
		t.Errorf("second apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// runOf is the run id in a temporary name of the scheme ("" if none).
func runOf(name string) string {
	i := strings.LastIndex(name, ".drover-")
	if i < 0 {
		return ""
	}
	run, _, _ := strings.Cut(name[i+len(".drover-"):], "-")
	return run
}

// tarGz is a gzipped tar of files (name: content), directories implied.
func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for name, data := range files {
		if d := filepath.Dir(name); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
