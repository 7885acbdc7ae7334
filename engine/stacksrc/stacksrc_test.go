package stacksrc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Source
		err  string
	}{
		{in: "git::https://example.org/stacks.git//webapp?ref=v1.2", want: Source{URL: "https://example.org/stacks.git", Dir: "webapp", Ref: "v1.2"}},
		{in: "git::https://example.org/stacks.git", want: Source{URL: "https://example.org/stacks.git"}},
		{in: "git::file:///srv/git/stacks.git//a/b/?ref=main", want: Source{URL: "file:///srv/git/stacks.git", Dir: "a/b", Ref: "main"}},
		{in: "git::git@example.org:stacks.git//web?ref=0123abc", want: Source{URL: "git@example.org:stacks.git", Dir: "web", Ref: "0123abc"}},
		{in: "https://example.org/x.git", err: "not a git source"},
		{in: "git::ext::sh -c touch% /tmp/pwned", err: "remote helper"},
		{in: "git::-uhack//x", err: "not a repository URL"},
		{in: "git::https://example.org/x.git//../../etc", err: "leaves the repository"},
		{in: "git::https://example.org/x.git?ref=--upload-pack=sh", err: "not a tag, branch or commit"},
		{in: "git::https://example.org/x.git?depth=1", err: "unknown query parameter"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Parse(%q) error = %v, want %q", c.in, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// gitRepo makes a repository with one stack file, committed on main.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "stacks")}
	r.git("init", "-q", "-b", "main", r.dir)
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
	cmd.Dir = r.dir
	if args[0] == "init" {
		cmd.Dir = ""
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files and commits them, returning the commit.
func (r *gitRepo) commit(files map[string]string) string {
	r.t.Helper()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(r.dir, p)), 0o755)
		os.WriteFile(filepath.Join(r.dir, p), []byte(c), 0o644)
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "change")
	return r.git("rev-parse", "HEAD")
}

func TestFetchLocksAndUpdates(t *testing.T) {
	r := newRepo(t)
	c1 := r.commit(map[string]string{"web/main.hcl": "# one\n"})
	r.git("tag", "v1")
	pbDir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "cache")
	src := "git::file://" + r.dir + "//web?ref=main"
	fetch := func(update bool) (string, string) {
		t.Helper()
		lock, err := ReadLock(pbDir)
		if err != nil {
			t.Fatal(err)
		}
		f := &Fetcher{Cache: cache, Lock: lock, Update: update}
		dir, root, commit, err := f.Fetch(src)
		if err != nil {
			t.Fatal(err)
		}
		if d2, _, _, _ := f.Fetch(src); d2 != dir {
			t.Errorf("a second fetch in the run gave %s, not %s", d2, dir)
		}
		if err := lock.Save(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, ".git")); err == nil {
			t.Errorf("the checkout keeps the repository's .git")
		}
		b, _ := os.ReadFile(filepath.Join(dir, "main.hcl"))
		return commit, string(b)
	}
	if commit, text := fetch(false); commit != c1 || text != "# one\n" {
		t.Fatalf("first fetch: %s %q", commit, text)
	}
	lockText, _ := os.ReadFile(filepath.Join(pbDir, LockFile))
	if !strings.Contains(string(lockText), c1) {
		t.Errorf("lock file:\n%s", lockText)
	}
	c2 := r.commit(map[string]string{"web/main.hcl": "# two\n"})
	if commit, text := fetch(false); commit != c1 || text != "# one\n" {
		t.Errorf("the locked commit should win over the moved ref: %s %q", commit, text)
	}
	if commit, text := fetch(true); commit != c2 || text != "# two\n" {
		t.Errorf("update: %s %q", commit, text)
	}
	// A tag resolves too, and is locked apart from the branch.
	src = "git::file://" + r.dir + "//web?ref=v1"
	if commit, _ := fetch(false); commit != c1 {
		t.Errorf("tag v1 resolved to %s, want %s", commit, c1)
	}
	lock, _ := ReadLock(pbDir)
	if e, ok := lock.Get("file://" + r.dir + "?ref=main"); !ok || e.Commit != c2 {
		t.Errorf("lock for main: %+v", e)
	}
}

func TestFetchErrors(t *testing.T) {
	r := newRepo(t)
	r.commit(map[string]string{"web/main.hcl": "# one\n"})
	cache := filepath.Join(t.TempDir(), "cache")
	cases := []struct {
		name, src, locked, want string
	}{
		{"no such ref", "git::file://" + r.dir + "//web?ref=v9", "", `has no tag, branch or commit "v9"`},
		{"no repository", "git::file://" + r.dir + "-missing//web", "", "cannot fetch"},
		{"locked commit gone", "git::file://" + r.dir + "//web?ref=main", strings.Repeat("ab", 20), "run drover stack update"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lock, _ := ReadLock(t.TempDir())
			if c.locked != "" {
				s, _ := Parse(c.src)
				lock.Set(s.Key(), Entry{URL: s.URL, Ref: s.Ref, Commit: c.locked})
			}
			_, _, _, err := (&Fetcher{Cache: cache, Lock: lock}).Fetch(c.src)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want %q", err, c.want)
			}
		})
	}
}

// TestCacheOthersCanWrite: a cache directory others may write is refused,
// since its stacks could be theirs.
func TestCacheOthersCanWrite(t *testing.T) {
	r := newRepo(t)
	r.commit(map[string]string{"web/main.hcl": "# one\n"})
	cache := filepath.Join(t.TempDir(), "cache")
	src := "git::file://" + r.dir + "//web"
	if _, _, _, err := (&Fetcher{Cache: cache}).Fetch(src); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(cache)
	os.Chmod(filepath.Join(cache, entries[0].Name()), 0o777)
	if _, _, _, err := (&Fetcher{Cache: cache}).Fetch(src); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("error = %v", err)
	}
}

// TestLockFileFormat: the lock file as written (docs/stacks.md shows it).
func TestLockFileFormat(t *testing.T) {
	dir := t.TempDir()
	lock, _ := ReadLock(dir)
	lock.Set("https://example.org/stacks.git?ref=v1.2", Entry{URL: "https://example.org/stacks.git", Ref: "v1.2", Commit: "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"})
	lock.Set("https://example.org/base.git", Entry{URL: "https://example.org/base.git", Commit: "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"})
	if err := lock.Save(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, LockFile))
	golden.Check(t, "testdata/drover.lock.hcl", got)
	again, err := ReadLock(dir)
	if err != nil || len(again.Entries()) != 2 {
		t.Errorf("read back: %v %v", again.Entries(), err)
	}
}
