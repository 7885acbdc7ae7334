package modules

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules/contract"
)

// TestReleaseDiff: golden plans of a release task for hand-written states
// (testdata/release/*.txt; -update rewrites them).
func TestReleaseDiff(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	commit := strings.Repeat("0f", 20)
	cfg := releaseConfig{Name: "app", App: "/srv/app", Keep: 5, SourceLabel: "build/app.tar.gz", SwitchDesc: "restart service app"}
	pushed := &releaseTask{cfg: cfg, art: &artifact{sum: sum}, stamp: "20260101T120000.000Z", who: "tester"}
	gitCfg := cfg
	gitCfg.SourceLabel = "git::https://git.example.org/app.git?ref=v1"
	fromGit := &releaseTask{cfg: gitCfg, git: &gitSource{URL: "https://git.example.org/app.git", Ref: "v1"}, stamp: "20260101T120000.000Z"}
	cur := func(id string) string { return "current releases/" + id + "\n" }
	oldID := "20251231T000000.000Z-" + other[:12]
	sameID := "20251230T000000.000Z-" + sum[:12]
	cases := []struct {
		name string
		task *releaseTask
		out  string
		code int
	}{
		{"first-deploy", pushed, "missing\n", 0},
		{"new-release", pushed, cur(oldID) + "release " + oldID + " ready\nprevious x\n", 0},
		{"same-artifact-live", pushed, cur(sameID) + "release " + sameID + " ready\n", 0},
		{"same-artifact-interrupted", pushed, cur(sameID) + "release " + oldID + " ready\nrelease " + sameID + " ready\nprevious " + oldID + "\npending " + sameID + "\n", 0},
		{"other-release-pending", pushed, cur(sameID) + "release " + sameID + " ready\npending " + oldID + "\n", 0},
		{"same-artifact-kept", pushed, cur(oldID) + "release " + sameID + " ready\nrelease " + oldID + " ready\n", 0},
		{"same-artifact-failed", pushed, cur(oldID) + "release " + sameID + " partial\nrelease " + oldID + " ready\n", 0},
		{"current-not-link", pushed, "notlink\n", 0},
		{"check-failed", pushed, "", 2},
		{"git-tag", fromGit, "gitls " + strings.Repeat("11", 20) + " refs/tags/v1\ngitls " + commit + " refs/tags/v1^{}\n" + cur(oldID) + "release " + oldID + " ready\n", 0},
		{"git-unknown-ref", fromGit, "missing\n", 0},
		{"stale-temps", pushed, cur(sameID) + "release " + sameID + " ready\nstale 2\n", 0},
		{"git-unreachable", fromGit, "giterr fatal: unable to access 'https://git.example.org/app.git/': Could not resolve host\nmissing\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := contract.CheckOutput{Stdout: []byte(c.out), ExitCode: c.code}
			if c.code != 0 {
				out.Stderr = []byte("ls: cannot open directory '/srv/app/releases': Permission denied\n")
			}
			var got string
			p, err := c.task.Diff(out)
			if err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				got = renderPlan(t, p)
			}
			golden.Check(t, filepath.Join("testdata", "release", c.name+".txt"), stableRun(got))
		})
	}
}

// TestReleaseScripts: golden switch and health scripts.
func TestReleaseScripts(t *testing.T) {
	var b strings.Builder
	for _, sw := range []map[string]string{{"service": "app", "action": "reload"}, {"command": "systemctl restart 'my app'"}} {
		s, desc, err := switchScript(sw)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("## switch " + desc + "\n" + s)
	}
	for _, hc := range []map[string]string{{"http": "http://127.0.0.1:8080/health?x='1'", "expect": "204", "timeout": "5s", "interval": "500ms"}, {"command": "test -f ok"}} {
		s, desc, err := healthScript(hc)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("## health " + desc + "\n" + s)
	}
	golden.Check(t, filepath.Join("testdata", "release", "scripts.txt"), b.String())
}
