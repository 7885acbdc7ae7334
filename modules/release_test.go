package modules_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

func releaseMod(t *testing.T) contract.Module {
	m, ok := modules.Lookup("release")
	if !ok {
		t.Fatal("release module not registered")
	}
	return m
}

func strList(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

func strMapVal(kv ...string) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = cty.StringVal(kv[i+1])
	}
	return cty.MapVal(m)
}

func TestReleaseConfigureErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.zip"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		attrs map[string]cty.Value
		attr  string
		msg   string
	}{
		{"relative path", map[string]cty.Value{"path": cty.StringVal("srv/app"), "source": cty.StringVal("src")}, "path", "absolute"},
		{"bad source type", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("app.zip")}, "source", "neither a directory"},
		{"missing source", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("nope.tar")}, "source", "cannot read"},
		{"shared escapes", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "shared": strList("../etc")}, "shared", "clean relative path"},
		{"shared absolute", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "shared": strList("/etc")}, "shared", "relative path"},
		{"keep 1", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "keep": cty.NumberIntVal(1)}, "keep", "at least 2"},
		{"switch both", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "switch": strMapVal("service", "a", "command", "b")}, "switch", "not both"},
		{"switch action", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "switch": strMapVal("service", "a", "action", "stop")}, "switch", "restart"},
		{"switch service name", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "switch": strMapVal("service", "a;b")}, "switch", "not a service name"},
		{"health url", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "healthcheck": strMapVal("http", "ftp://x")}, "healthcheck", "http://"},
		{"health expect", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "healthcheck": strMapVal("http", "http://x", "expect", "ok")}, "healthcheck", "status code"},
		{"health timeout", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "healthcheck": strMapVal("command", "true", "timeout", "soon")}, "healthcheck", "duration"},
		{"git bad ref", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("git::https://example.org/a.git?ref=a..b")}, "source", "not a valid git ref"},
		{"git option url", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("git::--upload-pack=x")}, "source", "want git::URL"},
		{"git ext transport", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("git::ext::sh -c touch% /tmp/pwned?ref=main")}, "source", "remote helper"},
		{"git fd transport", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("git::fd::3")}, "source", "remote helper"},
		{"health unknown key", map[string]cty.Value{"path": cty.StringVal("/srv/app"), "source": cty.StringVal("src"), "healthcheck": strMapVal("tcp", "80")}, "healthcheck", "unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := releaseMod(t).Configure(contract.Config{Values: moduletest.Values(c.attrs), Dir: dir, Name: "app"})
			var ae *contract.AttrError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an AttrError", err)
			}
			if ae.Attr != c.attr || !strings.Contains(ae.Msg, c.msg) {
				t.Fatalf("got %s: %s, want %s: …%s…", ae.Attr, ae.Msg, c.attr, c.msg)
			}
		})
	}
}

// releaseLocal deploys on this machine into a temporary directory.
type releaseLocal struct {
	t    *testing.T
	name string
	src  string // playbook dir
	app  string
}

func newReleaseLocal(t *testing.T) *releaseLocal {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "drover-test-" + hex.EncodeToString(b[:])
	t.Cleanup(func() { os.Remove("/var/lib/drover/releases/" + name) })
	d := t.TempDir()
	return &releaseLocal{t: t, name: name, src: d, app: filepath.Join(d, "srv", "app")}
}

func (r *releaseLocal) version(dir string, files map[string]string) {
	for n, c := range files {
		p := filepath.Join(r.src, dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *releaseLocal) task(src string, extra map[string]cty.Value) contract.Task {
	attrs := map[string]cty.Value{
		"path":        cty.StringVal(r.app),
		"source":      cty.StringVal(src),
		"shared":      strList("log", "config/.env"),
		"keep":        cty.NumberIntVal(2),
		"healthcheck": strMapVal("command", "test -f healthy", "timeout", "1s", "interval", "100ms"),
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return moduletest.Configure(r.t, releaseMod(r.t), contract.Config{Values: moduletest.Values(attrs), Dir: r.src, Name: r.name})
}

func (r *releaseLocal) current() string {
	l, err := os.Readlink(filepath.Join(r.app, "current"))
	if err != nil {
		r.t.Fatalf("current: %v", err)
	}
	return filepath.Base(l)
}

func TestReleaseLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes /var/lib/drover/releases: needs root")
	}
	testReleaseOn(t, moduletest.Local(t))
}

// TestReleaseBusybox: the release scripts work with busybox sh and applets
// only (an Alpine-like host).
func TestReleaseBusybox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes /var/lib/drover/releases: needs root")
	}
	testReleaseOn(t, moduletest.Busybox(t))
}

func testReleaseOn(t *testing.T, conn transport.Conn) {
	r := newReleaseLocal(t)
	ctx := context.Background()
	r.version("v1", map[string]string{"healthy": "", "VERSION": "1", "config/.env": "A=1\n"})
	r.version("v2", map[string]string{"healthy": "", "VERSION": "2"})
	r.version("bad", map[string]string{"VERSION": "bad"})

	// First deploy, then the same artifact again: no change.
	moduletest.ApplyTwice(t, conn, releaseMod(t), contract.Config{Values: moduletest.Values(map[string]cty.Value{
		"path": cty.StringVal(r.app), "source": cty.StringVal("v1"), "shared": strList("log", "config/.env"),
		"build": strList("echo built >built"), "healthcheck": strMapVal("command", "test -f healthy"),
	}), Dir: r.src, Name: r.name})
	v1 := r.current()
	if b, err := os.ReadFile(filepath.Join(r.app, "current", "built")); err != nil || string(b) != "built\n" {
		t.Fatalf("build step did not run in the release: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(r.app, "current", "config", ".env")); err != nil || l != filepath.Join(r.app, "shared", "config/.env") {
		t.Fatalf("config/.env is not linked into shared: %q %v", l, err)
	}
	if b, _ := os.ReadFile(filepath.Join(r.app, "shared", "config", ".env")); string(b) != "A=1\n" {
		t.Fatalf("shared config/.env not seeded from the release: %q", b)
	}
	if fi, err := os.Stat(filepath.Join(r.app, "shared", "log")); err != nil || !fi.IsDir() {
		t.Fatalf("shared log is not a directory: %v", err)
	}

	// A build failure leaves current untouched and no release behind.
	p := moduletest.MustPlan(t, conn, r.task("v2", map[string]cty.Value{"build": strList("exit 3")}))
	if _, err := remote.Apply(ctx, conn, p); err == nil || !strings.Contains(err.Error(), "build step 1 failed") {
		t.Fatalf("build failure: got %v", err)
	}
	if r.current() != v1 {
		t.Fatalf("current moved after a failed build")
	}

	// A release whose health check fails is rolled back.
	p = moduletest.MustPlan(t, conn, r.task("bad", nil))
	_, err := remote.Apply(ctx, conn, p)
	var rb *modules.ReleaseRolledBack
	if !errors.As(err, &rb) || !rb.Healthy || rb.Back != v1 {
		t.Fatalf("bad release: got %v, want rolled back to %s", err, v1)
	}
	if r.current() != v1 {
		t.Fatalf("current is %s after rollback, want %s", r.current(), v1)
	}

	// v2 deploys; deploying v1 again switches back to the kept release.
	moduletest.Apply(t, conn, moduletest.MustPlan(t, conn, r.task("v2", nil)))
	v2 := r.current()
	if v2 == v1 {
		t.Fatal("v2 did not switch")
	}
	p = moduletest.MustPlan(t, conn, r.task("v1", nil))
	if len(p.Changes) != 1 || p.Changes[0].Attrs[0].New != v1 {
		t.Fatalf("v1 again should only switch current back to %s: %s", v1, moduletest.Describe(p))
	}
	moduletest.Apply(t, conn, p)
	if r.current() != v1 {
		t.Fatalf("current %s, want %s", r.current(), v1)
	}

	rs, err := modules.ListReleases(ctx, conn, r.name)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Current != v1 || rs.Previous != v2 || len(rs.Releases) != 2 || len(rs.Records) < 4 {
		t.Fatalf("releases: %+v", rs)
	}
	from, to, err := modules.Rollback(ctx, conn, r.app, "", "test")
	if err == nil {
		t.Fatalf("rollback from the oldest release should fail, went %s -> %s", from, to)
	}
	if _, to, err = modules.Rollback(ctx, conn, r.name, v2, "test"); err != nil || to != v2 || r.current() != v2 {
		t.Fatalf("rollback --to %s: %v (current %s)", v2, err, r.current())
	}
	if _, to, err = modules.Rollback(ctx, conn, r.name, "", "test"); err != nil || to != v1 || r.current() != v1 {
		t.Fatalf("rollback: %v to %s (current %s)", err, to, r.current())
	}
	log, _ := os.ReadFile(filepath.Join(r.app, ".drover", "deploys.log"))
	for _, want := range []string{"\tdeploy\tok", "\tdeploy\trolled back: ", "\tdeploy\tfailed before the switch", "\trollback\tok"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("deploys.log lacks %q:\n%s", want, log)
		}
	}
}

func TestReleaseLocalGit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("writes /var/lib/drover/releases: needs root")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	r := newReleaseLocal(t)
	conn := moduletest.Local(t)
	repo := filepath.Join(r.src, "repo")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	os.MkdirAll(repo, 0o755)
	git("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "healthy"), []byte("1\n"), 0o644)
	git("add", "-A")
	git("commit", "-q", "-m", "one")
	git("tag", "-a", "-m", "v1", "v1")
	c1 := git("rev-parse", "HEAD")

	task := func(ref string) contract.Task { return r.task("git::"+repo+"?ref="+ref, nil) }
	p := moduletest.MustPlan(t, conn, task("main"))
	if !strings.Contains(moduletest.Describe(p), c1) {
		t.Fatalf("plan does not name commit %s:\n%s", c1, moduletest.Describe(p))
	}
	moduletest.Apply(t, conn, p)
	if got := r.current(); !strings.HasSuffix(got, c1[:12]) {
		t.Fatalf("current %s, want commit %s", got, c1[:12])
	}
	if _, err := os.Stat(filepath.Join(r.app, "current", ".git")); err == nil {
		t.Error("the release holds a .git directory")
	}
	// The annotated tag names the same commit: nothing to do.
	if p := moduletest.MustPlan(t, conn, task("v1")); p.Changed() {
		t.Fatalf("tag v1 of the live commit plans a change:\n%s", moduletest.Describe(p))
	}
	os.WriteFile(filepath.Join(repo, "VERSION"), []byte("2\n"), 0o644)
	git("add", "-A")
	git("commit", "-q", "-m", "two")
	c2 := git("rev-parse", "HEAD")
	moduletest.Apply(t, conn, moduletest.MustPlan(t, conn, task("main")))
	if got := r.current(); !strings.HasSuffix(got, c2[:12]) {
		t.Fatalf("current %s, want commit %s", got, c2[:12])
	}
	if p := moduletest.MustPlan(t, conn, task(c2)); p.Changed() {
		t.Fatalf("the live commit by sha plans a change:\n%s", moduletest.Describe(p))
	}
	if _, err := moduletest.Plan(t, conn, task("nosuch")); err == nil || !strings.Contains(err.Error(), `no branch, tag or commit named "nosuch"`) {
		t.Fatalf("unknown ref: %v", err)
	}
}
