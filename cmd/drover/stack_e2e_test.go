package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

// TestCLIStackDoc: drover stack doc prints a stack's inputs and outputs
// from its source (golden: testdata/stack_doc.txt).
func TestCLIStackDoc(t *testing.T) {
	r := drover(t, "", "stack", "doc", "../../examples/stack-basics/stacks/site")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden.Check(t, "testdata/stack_doc.txt", r.stdout)
}

// stackRepo is a git repository holding examples/stack-basics' site stack
// (with its nested stack) under site/, committed on main.
func stackRepo(t *testing.T) (dir string, commit func(msg string) string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "stacks")
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", "-b", "main")
	if out, err := exec.Command("cp", "-r", "../../examples/stack-basics/stacks/site", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dir, func(msg string) string {
		git("add", "-A")
		git("commit", "-q", "-m", msg)
		return git("rev-parse", "HEAD")
	}
}

// TestCLIStackGitSource: a playbook calling a stack from a git repository
// (a file:// URL: no network). The first plan fetches it and locks the
// commit in drover.lock.hcl; a commit pushed to the branch afterwards is
// not used until drover stack update, which prints the change; the
// checkout lives in the cache without the repository's .git.
func TestCLIStackGitSource(t *testing.T) {
	repo, commit := stackRepo(t)
	c1 := commit("first")
	dir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "cache")
	env := []string{"XDG_CACHE_HOME=" + cache}
	inv := writeFile(t, dir, "hosts.hcl", "host \"l1\" {\n  connection = \"local\"\n}\n")
	out := filepath.Join(dir, "out")
	pbDir := filepath.Join(dir, "pb")
	os.Mkdir(pbDir, 0o755)
	writeFile(t, pbDir, "site.hcl", `play "p" {
  hosts = "all"
  stack "blog" {
    source = "git::file://`+repo+`//site?ref=main"
    name   = "blog"
    root   = "`+out+`"
    domain = "blog.example.test"
  }
}
`)
	r := droverWith(t, "", env, "apply", "-i", inv, pbDir)
	if r.code != 0 || !strings.Contains(r.stdout, "stack.blog.stack.conf.file.env") {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	lock, err := os.ReadFile(filepath.Join(pbDir, "drover.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), `commit = "`+c1+`"`) || !strings.Contains(string(lock), `ref    = "main"`) {
		t.Fatalf("lock file: %v\n%s", err, lock)
	}
	checkouts, _ := filepath.Glob(filepath.Join(cache, "drover", "stacks", "*", c1))
	if len(checkouts) != 1 {
		t.Fatalf("cache: %v", checkouts)
	}
	if _, err := os.Stat(filepath.Join(checkouts[0], ".git")); err == nil {
		t.Errorf("the cached checkout keeps .git")
	}

	// The branch moves: the stack's default port changes.
	conf := filepath.Join(repo, "site", "main.hcl")
	src, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(strings.Replace(string(src), "default     = 8080", "default     = 9090", 1)), 0o644)
	c2 := commit("port 9090")
	r = droverWith(t, "", env, "plan", "--detailed-exitcode", "-i", inv, pbDir)
	if r.code != 0 {
		t.Errorf("plan with the locked commit should show no change: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = droverWith(t, "", env, "stack", "update", pbDir)
	if r.code != 0 || !strings.Contains(r.stdout, c1[:12]+" → "+c2[:12]) {
		t.Fatalf("stack update: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = droverWith(t, "", env, "plan", "-i", inv, pbDir)
	if r.code != 0 || !strings.Contains(r.stdout, "+  listen 9090;") {
		t.Errorf("plan after update should use the new commit: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// The same stack applied directly from its source, without a playbook.
	src2 := "git::file://" + repo + "//site?ref=" + c1
	r = droverWith(t, "", env, "apply", "-i", inv, src2, "--hosts", "all",
		"--var", "name=shop", "--var", "root="+out, "--var", "domain=shop.example.test")
	if r.code != 0 || !strings.Contains(r.stdout, "stack.site.template.server") {
		t.Fatalf("direct apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "shop", "env")); err != nil || string(b) != "DOMAIN=shop.example.test\nPORT=8080\n" {
		t.Errorf("shop/env = %q, %v", b, err)
	}
	r = droverWith(t, "", env, "stack", "doc", src2)
	if r.code != 0 || !strings.Contains(r.stdout, "commit "+c1) || !strings.Contains(r.stdout, "port (number, default 8080)") {
		t.Errorf("stack doc of a git source: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A required input left out of a direct run, and a source that cannot
	// be fetched: errors before any host is contacted.
	r = droverWith(t, "", env, "plan", "-i", inv, src2, "--hosts", "all", "--var", "name=x")
	if r.code != 1 || !strings.Contains(r.stderr, `Variable "root" has no default`) {
		t.Errorf("missing input: exit %d\n%s", r.code, r.stderr)
	}
	r = droverWith(t, "", env, "validate", "git::file://"+repo+"-gone//site")
	if r.code != 1 || !strings.Contains(r.stderr, "Cannot fetch stack") {
		t.Errorf("unfetchable source: exit %d\n%s", r.code, r.stderr)
	}
}
