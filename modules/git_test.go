package modules

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
)

func TestGitDiff(t *testing.T) {
	old := gitKeySuffix
	gitKeySuffix = func() (string, error) { return "TMP", nil }
	t.Cleanup(func() { gitKeySuffix = old })
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "deploy_key"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)

	c1 := strings.Repeat("1", 40)
	c2 := strings.Repeat("2", 40)
	tool := "tool.git=/usr/bin/git\nparent=1\n"
	ls := func(s string) string { return "lsrc=0\n" + blob("ls", s) }
	remote := ls(c2 + "\tHEAD\n" + c2 + "\trefs/heads/main\n" + c1 + "\trefs/tags/v1\n")
	repo := "https://git.example.org/app.git"
	onMain := tool + "repo=1\nhead=" + c2 + "\norigin=" + repo + "\nbranch=main\n"
	runSysDiff(t, Git{}, "git", []sysCase{
		{name: "clone-branch", values: obj("repo", repo, "dest", "/srv/app", "ref", "main", "depth", intVal(1)), out: tool + remote},
		{name: "clone-into-empty-dir", values: obj("repo", repo, "dest", "/srv/app"), out: tool + "dest=empty\n" + remote},
		{name: "dest-not-a-repo", values: obj("repo", repo, "dest", "/srv/app"), out: tool + "dest=nonempty\n" + remote},
		{name: "no-parent", values: obj("repo", repo, "dest", "/srv/app"), out: "tool.git=/usr/bin/git\n" + remote},
		{name: "no-git", values: obj("repo", repo, "dest", "/srv/app"), out: "parent=1\n"},
		{name: "in-sync-branch", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"), out: onMain + remote},
		{name: "in-sync-head", values: obj("repo", repo, "dest", "/srv/app"), out: onMain + remote},
		{name: "branch-moved", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"),
			out: strings.Replace(onMain, c2, c1, 1) + remote},
		{name: "detached-at-branch-tip", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"),
			out: strings.Replace(onMain, "branch=main", "branch=", 1) + remote},
		{name: "tag", values: obj("repo", repo, "dest", "/srv/app", "ref", "v1"), out: onMain + remote},
		{name: "annotated-tag", values: obj("repo", repo, "dest", "/srv/app", "ref", "v2"),
			out: onMain + ls(c2+"\trefs/tags/v2\n"+c1+"\trefs/tags/v2^{}\n")},
		{name: "commit", values: obj("repo", repo, "dest", "/srv/app", "ref", c1), out: onMain + "have=1\n"},
		{name: "commit-in-sync", values: obj("repo", repo, "dest", "/srv/app", "ref", c2), out: onMain},
		{name: "dirty", values: obj("repo", repo, "dest", "/srv/app", "ref", "v1"), out: onMain + "dirty=1\n" + remote},
		{name: "dirty-force", values: obj("repo", repo, "dest", "/srv/app", "ref", "v1", "force", true), out: onMain + "dirty=1\n" + remote},
		{name: "dirty-but-in-sync", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"), out: onMain + "dirty=1\n" + remote},
		{name: "origin-changed", values: obj("repo", "https://mirror.example.org/app.git", "dest", "/srv/app", "ref", "main"), out: onMain + remote},
		{name: "ref-not-found", values: obj("repo", repo, "dest", "/srv/app", "ref", "nope"), out: onMain + ls("")},
		{name: "remote-unreachable", values: obj("repo", repo, "dest", "/srv/app"), out: onMain + "lsrc=128\n" + blob("ls", "fatal: unable to access 'https://git.example.org/app.git/': Could not resolve host")},
		{name: "deploy-key-clone", dir: dir, values: obj("repo", "git@github.com:example/app.git", "dest", "/srv/app", "ref", "main", "deploy_key", "deploy_key", "accept_new_hostkey", true), out: tool},
		{name: "deploy-key-fetch", dir: dir, values: obj("repo", repo, "dest", "/srv/app", "ref", "main", "deploy_key", "deploy_key"), out: onMain},
		{name: "foreign-owner", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"), out: tool + "foreign=mallory \n" + remote},
		{name: "gitfile", values: obj("repo", repo, "dest", "/srv/app", "ref", "main"), out: tool + "gitfile=1\n" + remote},
		{name: "hostile", values: obj("repo", "file:///srv/"+strings.ReplaceAll(hostileText, "/", "_")+".git", "dest", "/srv/"+strings.ReplaceAll(hostileText, "/", "_"), "ref", "main"),
			out: tool + ls(c1+"\trefs/heads/main\n")},
	})
	runSysConfigErrors(t, Git{}, []sysConfigCase{
		{"no repo", obj("dest", "/srv/app"), "repo: is required"},
		{"option repo", obj("repo", "--upload-pack=touch /tmp/x", "dest", "/srv/app"), "not a repository URL"},
		{"ext transport", obj("repo", "ext::sh -c touch% /tmp/x", "dest", "/srv/app"), "ext::"},
		{"EXT transport", obj("repo", "EXT::sh -c touch% /tmp/x", "dest", "/srv/app"), "remote helper"},
		{"fd transport", obj("repo", "fd::3", "dest", "/srv/app"), "remote helper"},
		{"helper transport", obj("repo", "persistent-https::example.org/r", "dest", "/srv/app"), "remote helper"},
		{"relative dest", obj("repo", "r", "dest", "srv/app"), "absolute"},
		{"option ref", obj("repo", "r", "dest", "/srv/app", "ref", "--output=/etc/passwd"), "not a branch"},
		{"ref with space", obj("repo", "r", "dest", "/srv/app", "ref", "a b"), "not a branch"},
		{"ref with dots", obj("repo", "r", "dest", "/srv/app", "ref", "a..b"), "not a branch"},
		{"zero depth", obj("repo", "r", "dest", "/srv/app", "depth", intVal(0)), "at least 1"},
		{"missing key", obj("repo", "r", "dest", "/srv/app", "deploy_key", "nonexistent/key"), "cannot read the key"},
		{"key outside the playbook", obj("repo", "r", "dest", "/srv/app", "deploy_key", "/etc/ssh/ssh_host_ed25519_key"), "outside the playbook directory"},
	})
}

// The deploy key never appears in the plan or its scripts (only in the
// upload), and the script removes it on exit.
func TestGitDeployKeyStaysSecret(t *testing.T) {
	dir := t.TempDir()
	secret := "-----BEGIN OPENSSH PRIVATE KEY-----\nSUPERSECRET\n-----END OPENSSH PRIVATE KEY-----\n"
	os.WriteFile(filepath.Join(dir, "k"), []byte(secret), 0o600)
	task, err := Git{}.Configure(contract.Config{Values: obj("repo", "git@h:r.git", "dest", "/srv/app", "deploy_key", "k"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := task.Diff(contract.CheckOutput{Stdout: []byte("tool.git=/usr/bin/git\nparent=1\n")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		for _, a := range c.Attrs {
			if strings.Contains(a.Old+a.New, "SUPERSECRET") {
				t.Errorf("the key is in the plan: %+v", a)
			}
		}
	}
	st := plan.Steps[0]
	if strings.Contains(st.Script, "SUPERSECRET") || strings.Contains(task.Check(), "SUPERSECRET") {
		t.Error("the key is in a script")
	}
	if len(st.Uploads) != 1 || st.Uploads[0].Mode != 0o600 || !strings.Contains(st.Script, `trap 'rm -f "$k"`) {
		t.Errorf("the key must be uploaded 0600 and removed by a trap: %+v\n%s", st.Uploads, st.Script)
	}
}

// Clone, update, tag, commit and force against a real repository with the
// local git, through dash.
func TestGitLocal(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	conn := systemShellConns(t)["dash"]
	if conn == nil {
		t.Skip("dash not installed")
	}
	dir := t.TempDir()
	gitEnv := "export HOME=" + dir + " GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x GIT_CONFIG_NOSYSTEM=1\n"
	sh := func(script string) string {
		t.Helper()
		res, err := conn.Run(context.Background(), cmdOf(gitEnv+"set -e\n"+script))
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: exit %d %v: %s", script, res.ExitCode, err, res.Stderr)
		}
		return strings.TrimSpace(string(res.Stdout))
	}
	sh("cd " + dir + " && git init -q --bare -b main repo.git && git init -q -b main work && cd work && echo 1 > f && git add f && git commit -qm 1 && git tag v1 && git remote add origin ../repo.git && git push -q origin main v1")
	c1 := sh("git -C " + dir + "/work rev-parse HEAD")
	dest := filepath.Join(dir, "checkout")
	apply := func(kv ...any) (bool, error) {
		task, err := Git{}.Configure(contract.Config{Values: obj(append([]any{"repo", "file://" + dir + "/repo.git", "dest", dest}, kv...)...)})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := task.Diff(outs[0])
		if err != nil {
			return false, err
		}
		if _, err := remote.Apply(context.Background(), conn, plan); err != nil {
			return false, err
		}
		return plan.Changed(), nil
	}
	twice := func(kv ...any) {
		t.Helper()
		for i, want := range []bool{true, false} {
			if changed, err := apply(kv...); err != nil || changed != want {
				t.Fatalf("%v apply %d: changed=%v err=%v", kv, i+1, changed, err)
			}
		}
	}
	twice("ref", "main")
	if got := sh("git -C " + dest + " rev-parse HEAD; git -C " + dest + " symbolic-ref --short HEAD"); got != c1+"\nmain" {
		t.Errorf("clone: %q", got)
	}
	sh("cd " + dir + "/work && echo 2 > f && git commit -qam 2 && git push -q origin main")
	c2 := sh("git -C " + dir + "/work rev-parse HEAD")
	twice("ref", "main")
	if got := sh("git -C " + dest + " rev-parse HEAD"); got != c2 {
		t.Errorf("after a new commit: HEAD %s, want %s", got, c2)
	}
	twice("ref", "v1")
	twice("ref", c2)
	sh("echo dirty > " + dest + "/f")
	if _, err := apply("ref", "v1"); err == nil || !strings.Contains(err.Error(), "local changes") {
		t.Errorf("dirty: err = %v", err)
	}
	twice("ref", "v1", "force", true)
	if got := sh("cat " + dest + "/f"); got != "1" {
		t.Errorf("force: f = %q", got)
	}
	// A checkout owned by another user is not worked in: its config could
	// run commands as the user running git.
	sh("chown -R 65534:65534 " + dest)
	if _, err := apply("ref", "main"); err == nil || !strings.Contains(err.Error(), "is owned by") {
		t.Errorf("checkout owned by another user: err = %v, want a refusal", err)
	}
	if got := sh("git -C " + dest + " -c safe.directory='*' rev-parse HEAD"); got != c1 {
		t.Errorf("checkout owned by another user: HEAD %s, want it untouched at %s", got, c1)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("temporary directories left: %v", ents)
	}
}
