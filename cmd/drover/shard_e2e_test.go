package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/internal/golden"
)

// durations in recaps differ from run to run.
var durationRe = regexp.MustCompile(`[0-9.]+(µs|ms|s|m[0-9]+s)\b`)

// recapText is the recap of a text run's stdout: what follows the last
// blank line, durations blanked, host rows sorted (merge sorts by name; a
// single run keeps the inventory's order).
func recapText(out string) string {
	out = strings.Trim(out, "\n")
	if i := strings.LastIndex(out, "\n\n"); i >= 0 {
		out = out[i+2:]
	}
	lines := strings.Split(durationRe.ReplaceAllString(out, "D"), "\n")
	sort.Strings(lines[:len(lines)-1])
	return strings.Join(lines, "\n")
}

// withoutHTMLNote is out without the "HTML report: FILE" line --html adds
// at its end.
func withoutHTMLNote(t *testing.T, out, file string) string {
	t.Helper()
	note := "\nHTML report: " + file + "\n"
	if !strings.HasSuffix(out, note) {
		t.Fatalf("stdout does not end with %q:\n%s", note, out)
	}
	return strings.TrimSuffix(out, note)
}

// htmlTimeRe matches the report's times (RFC 3339 to the second).
var htmlTimeRe = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// sameHTML compares two HTML reports with what differs from run to run
// (when it started, how long things took) blanked.
func sameHTML(t *testing.T, what, got, want string) {
	t.Helper()
	norm := func(s string) string { return durationRe.ReplaceAllString(htmlTimeRe.ReplaceAllString(s, "T"), "D") }
	if g, w := norm(got), norm(want); g != w {
		gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			if i >= len(gl) || i >= len(wl) || gl[i] != wl[i] {
				t.Errorf("%s: the merged HTML report differs from the unsharded run's from line %d:\nmerged:\n%s\nunsharded:\n%s",
					what, i+1, strings.Join(gl[i:min(len(gl), i+8)], "\n"), strings.Join(wl[i:min(len(wl), i+8)], "\n"))
				return
			}
		}
	}
	if !strings.Contains(got, "<dt>playbook</dt><dd>sha256:") || !strings.Contains(got, "<dt>inventory</dt><dd>sha256:") {
		t.Errorf("%s: the merged report lacks the input's digests", what)
	}
}

// Three controllers each apply one --shard of a fleet (with an unreachable
// host), writing --json as a CI matrix's jobs would; report merge gives the
// recap and exit status of one unsharded run. Then, over those real
// streams: a host in two files, and a file cut before its recap.
func TestCLIFleetShardMerge(t *testing.T) {
	f := integration.Start(t, 3)
	inv := fleetInventory(t, f) // the fleet's hosts and "dead"
	dir := t.TempDir()
	pb := writeFile(t, dir, "site.hcl", `
play "shards" {
  hosts = "all"
  file "marker" {
    path    = "/etc/drover-shard-marker"
    content = "in a shard\n"
  }
  shell "touch" {
    run = "true"
  }
}
`)
	common := []string{"-i", inv, pb, "--known-hosts", f.KnownHostsFile, "--connect-timeout", "5s"}
	// Every apply here starts from hosts without the file, so that they
	// all report the same.
	unmark := func() {
		for _, h := range f.Hosts {
			h.Exec(t, "rm -f /etc/drover-shard-marker")
		}
	}
	// With -update, the real streams of the plan and apply runs become
	// engine/report's merge test data (before the applies: the plans have
	// a file to create).
	keep := func(name, stream string) {
		if golden.Update() {
			if err := golden.Write(filepath.Join("..", "..", "engine", "report", "testdata", "merge", name), []byte(stream)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The plan's shards merged with --html give the unsharded plan's page.
	wholePlanHTML, mergedPlanHTML := filepath.Join(dir, "plan.html"), filepath.Join(dir, "plan-merged.html")
	var planFiles []string
	for k := 0; k <= 3; k++ {
		args := append([]string{"plan", "--json"}, common...)
		name := "plan-all.json"
		if k > 0 {
			args, name = append(args, "--shard", fmt.Sprintf("%d/3", k)), fmt.Sprintf("plan-%d.json", k)
		} else {
			args = append(args, "--html", wholePlanHTML)
		}
		r := drover(t, "", args...)
		if r.code != 0 && r.code != 1 {
			t.Fatalf("plan %s: exit %d\n%s", name, r.code, r.stderr)
		}
		keep(name, r.stdout)
		if k > 0 {
			planFiles = append(planFiles, writeFile(t, dir, name, r.stdout))
		}
	}
	if r := drover(t, "", append([]string{"report", "merge", "--html", mergedPlanHTML}, planFiles...)...); !strings.Contains(r.stdout, "HTML report: "+mergedPlanHTML) {
		t.Fatalf("merge --html of the plans: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sameHTML(t, "plan", readFile(t, mergedPlanHTML), readFile(t, wholePlanHTML))
	if golden.Update() {
		keep("apply-all.json", drover(t, "", append([]string{"apply", "--json"}, common...)...).stdout)
		unmark()
	}
	wholeHTML, mergedHTML := filepath.Join(dir, "apply.html"), filepath.Join(dir, "apply-merged.html")
	whole := drover(t, "", append([]string{"apply", "--html", wholeHTML}, common...)...)
	if whole.code != 1 {
		t.Fatalf("unsharded apply: exit %d, want 1 (dead is unreachable)\n%s\n%s", whole.code, whole.stdout, whole.stderr)
	}
	unmark()
	var files []string
	owned := 0
	for k := 1; k <= 3; k++ {
		r := drover(t, "", append([]string{"apply", "--json", "--shard", fmt.Sprintf("%d/3", k)}, common...)...)
		if r.code != 0 && r.code != 1 {
			t.Fatalf("shard %d/3: exit %d\n%s", k, r.code, r.stderr)
		}
		evs := parseEvents(t, r.stdout)
		if last := evs[len(evs)-1]; last["kind"] != "recap" {
			t.Fatalf("shard %d/3 does not end with a recap: %v", k, last)
		} else if rows, _ := last["recap"].([]any); rows != nil {
			owned += len(rows)
		}
		files = append(files, writeFile(t, dir, fmt.Sprintf("shard-%d.json", k), r.stdout))
		keep(fmt.Sprintf("apply-%d.json", k), r.stdout)
	}
	if owned != len(f.Hosts)+1 {
		t.Fatalf("the shards ran %d hosts in all, want %d (each host in one shard)", owned, len(f.Hosts)+1)
	}
	merged := drover(t, "", append([]string{"report", "merge", "--html", mergedHTML}, files...)...)
	if merged.code != whole.code {
		t.Errorf("merge: exit %d, the unsharded run's %d\n%s", merged.code, whole.code, merged.stderr)
	}
	if got, want := recapText(withoutHTMLNote(t, merged.stdout, mergedHTML)), recapText(withoutHTMLNote(t, whole.stdout, wholeHTML)); got != want {
		t.Errorf("merged recap:\n%s\nunsharded run's:\n%s", got, want)
	}
	sameHTML(t, "apply", readFile(t, mergedHTML), readFile(t, wholeHTML))
	if r := drover(t, "", "report", "merge", "--html", filepath.Join(dir, "exec.html"), writeFile(t, dir, "exec.json",
		`{"time":"2026-12-02T04:05:06Z","kind":"run_start","task":"exec","hosts":[]}`+"\n")); r.code != exitUsage || !strings.Contains(r.stderr, "of plan and apply runs") {
		t.Errorf("merge --html of an exec stream: exit %d\n%s", r.code, r.stderr)
	}

	// A stream cut before its recap: the shard owning the most hosts, its
	// last host_done and recap dropped.
	biggest, most := "", -1
	for _, name := range files {
		if n := strings.Count(readFile(t, name), `"kind":"host_done"`); n > most {
			biggest, most = name, n
		}
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, biggest)), "\n")
	var cut []string
	dropped := ""
	for i := len(lines) - 1; i >= 0; i-- {
		if dropped == "" && strings.Contains(lines[i], `"kind":"host_done"`) {
			dropped = lines[i]
			continue
		}
		if !strings.Contains(lines[i], `"kind":"recap"`) {
			cut = append([]string{lines[i]}, cut...)
		}
	}
	cutFile := writeFile(t, dir, "cut.json", strings.Join(cut, "\n")+"\n")
	droppedHost := regexp.MustCompile(`"host":"([^"]+)"`).FindStringSubmatch(dropped)[1]
	var others []string
	for _, name := range files {
		if name != biggest {
			others = append(others, name)
		}
	}

	for _, tc := range []struct {
		name   string
		files  []string
		code   int
		stdout []string
		stderr []string
	}{
		{name: "a host twice", files: append([]string{biggest}, files...), code: exitUsage,
			stderr: []string{"in both " + biggest + " and " + biggest}},
		{name: "cut short", files: append(others, cutFile), code: exitError,
			stdout: []string{droppedHost, "cancelled"}, stderr: []string{cutFile + " is incomplete"}},
		{name: "not a stream", files: []string{pb}, code: exitUsage, stderr: []string{"not a drover --json event"}},
		{name: "missing file", files: []string{filepath.Join(dir, "nope.json")}, code: exitUsage, stderr: []string{"nope.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := drover(t, "", append([]string{"report", "merge"}, tc.files...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}
