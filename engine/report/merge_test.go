package report

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The streams in testdata/merge are real: TestCLIFleetShardMerge
// (cmd/drover) writes them with -update from plan and apply runs on a fleet
// of three sshd hosts and an unreachable one, unsharded and as --shard K/3.

func mergeFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "merge", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mergeOf(t *testing.T, names ...string) (*Merged, error) {
	t.Helper()
	var ss []Stream
	for _, n := range names {
		ss = append(ss, Stream{Name: n, R: strings.NewReader(mergeFile(t, n))})
	}
	return Merge(ss)
}

// rows are the recap's hosts without durations, sorted by name.
func rows(r *Recap) []HostRecap {
	out := make([]HostRecap, len(r.Hosts))
	for i, h := range r.Hosts {
		h.Duration = 0
		out[i] = h
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

func TestMergeShardsAsOneRun(t *testing.T) {
	for _, cmd := range []string{"apply", "plan"} {
		t.Run(cmd, func(t *testing.T) {
			whole, err := mergeOf(t, cmd+"-all.json")
			if err != nil {
				t.Fatal(err)
			}
			m, err := mergeOf(t, cmd+"-1.json", cmd+"-2.json", cmd+"-3.json")
			if err != nil {
				t.Fatal(err)
			}
			if m.Command != cmd || len(m.Incomplete) != 0 {
				t.Errorf("command %q, incomplete %v", m.Command, m.Incomplete)
			}
			if got, want := rows(m.Recap), rows(whole.Recap); !reflect.DeepEqual(got, want) || len(got) != 4 {
				t.Errorf("merged rows\n%+v\nthe unsharded run's\n%+v", got, want)
			}
			if m.Recap.PerTask != whole.Recap.PerTask || m.Recap.OK() || m.Recap.Duration <= 0 {
				t.Errorf("per task %v (want %v), ok %v (want false: dead is unreachable), duration %v",
					m.Recap.PerTask, whole.Recap.PerTask, m.Recap.OK(), m.Recap.Duration)
			}
			if !reflect.DeepEqual(m.Plan, whole.Plan) {
				t.Errorf("plan summary %+v, the unsharded run's %+v", m.Plan, whole.Plan)
			}
		})
	}
}

func TestMergeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		err   string
	}{
		{name: "host twice", files: []string{"apply-2.json", "apply-3.json", "apply-2.json"}, err: "in both apply-2.json and apply-2.json"},
		{name: "sharded and whole", files: []string{"apply-all.json", "apply-3.json"}, err: "in both apply-all.json and apply-3.json"},
		{name: "two commands", files: []string{"apply-2.json", "plan-3.json"}, err: "plan-3.json is a plan run and the others apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mergeOf(t, tc.files...); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
	for _, tc := range []struct{ name, stream, err string }{
		{"empty", "", "holds no events"},
		{"not JSON", "PLAY [all] ****\n", "x.json:1: not a drover --json event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Merge([]Stream{{Name: "x.json", R: strings.NewReader(tc.stream)}}); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}

// A stream cut short (no recap): hosts that had finished keep their
// status, the one still running is cancelled as incomplete.
func TestMergeIncomplete(t *testing.T) {
	lines := strings.SplitAfter(strings.TrimSpace(mergeFile(t, "apply-3.json")), "\n")
	var cut strings.Builder
	found := false
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"kind":"host_done"`) {
			found = true
			lines = append(lines[:i], lines[i+1:len(lines)-1]...) // drop it and the recap
			break
		}
	}
	if !found {
		t.Fatal("no host_done in apply-3.json")
	}
	for _, l := range lines {
		cut.WriteString(l)
	}
	whole, _ := mergeOf(t, "apply-3.json")
	m, err := Merge([]Stream{{Name: "cut.json", R: strings.NewReader(cut.String())}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Incomplete, []string{"cut.json"}) {
		t.Errorf("incomplete %v", m.Incomplete)
	}
	if len(m.Recap.Hosts) != len(whole.Recap.Hosts) {
		t.Fatalf("hosts %+v, want those of %+v", m.Recap.Hosts, whole.Recap.Hosts)
	}
	cancelled := 0
	for _, h := range m.Recap.Hosts {
		if h.Status == StatusCancelled && h.ErrorKind == IncompleteKind && strings.Contains(h.Message, "cut.json") {
			cancelled++
		}
	}
	if cancelled != 1 || m.Recap.OK() {
		t.Errorf("want one host cancelled as incomplete and the recap not ok: %+v", m.Recap.Hosts)
	}
}

var (
	htmlDurationRe = regexp.MustCompile(`[0-9.]+(µs|ms|s|m[0-9]+s)\b`)
	htmlTimeRe     = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
)

// runHTML is the page of r with what differs from run to run (when it
// started, how long things took) blanked.
func runHTML(t *testing.T, r *RunReport) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteRunHTML(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	return htmlDurationRe.ReplaceAllString(htmlTimeRe.ReplaceAllString(b.String(), "T"), "D")
}

// The shards' streams merged draw the page of the unsharded run's stream:
// the same hosts, tasks, failures and summary, and the run's input from
// the run_start.
func TestMergeHTMLAsOneRun(t *testing.T) {
	for _, cmd := range []string{"apply", "plan"} {
		t.Run(cmd, func(t *testing.T) {
			whole, err := mergeOf(t, cmd+"-all.json")
			if err != nil {
				t.Fatal(err)
			}
			m, err := mergeOf(t, cmd+"-1.json", cmd+"-2.json", cmd+"-3.json")
			if err != nil {
				t.Fatal(err)
			}
			got, want := runHTML(t, m.Report), runHTML(t, whole.Report)
			if got != want {
				t.Errorf("merged page:\n%s\nthe unsharded run's:\n%s", got, want)
			}
			r := m.Report
			if r.Command != cmd || !strings.HasPrefix(r.Playbook, "sha256:") || !strings.HasPrefix(r.Inventory, "sha256:") ||
				r.Operator == "" || len(r.PlaybookFiles) != 1 || r.Started.IsZero() || r.Duration <= 0 {
				t.Errorf("the run: %+v", r)
			}
			if len(r.Hosts) != 4 || !slices.IsSortedFunc(r.Hosts, func(a, b RunHost) int { return strings.Compare(a.Host, b.Host) }) {
				t.Errorf("hosts not the four, sorted by name: %+v", r.Hosts)
			}
			for _, h := range r.Hosts {
				if h.Status == "" || (h.Status != StatusUnreachable && len(h.Tasks) == 0) {
					t.Errorf("host %s: status %q, %d tasks", h.Host, h.Status, len(h.Tasks))
				}
			}
		})
	}
}

// In the page of a stream cut short, the host it was running is cancelled
// and says why.
func TestMergeHTMLIncomplete(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(mergeFile(t, "apply-3.json")), "\n")
	var kept []string
	cutHost := ""
	for i := len(lines) - 1; i >= 0; i-- {
		switch {
		case strings.Contains(lines[i], `"kind":"recap"`):
		case cutHost == "" && strings.Contains(lines[i], `"kind":"host_done"`):
			e, err := DecodeEvent([]byte(lines[i]))
			if err != nil {
				t.Fatal(err)
			}
			cutHost = e.Host
		default:
			kept = append([]string{lines[i]}, kept...)
		}
	}
	m, err := Merge([]Stream{{Name: "cut.json", R: strings.NewReader(strings.Join(kept, "\n"))}})
	if err != nil {
		t.Fatal(err)
	}
	var h *RunHost
	for i := range m.Report.Hosts {
		if m.Report.Hosts[i].Host == cutHost {
			h = &m.Report.Hosts[i]
		}
	}
	if h == nil || h.Status != StatusCancelled || h.ErrorKind != IncompleteKind || !strings.Contains(h.Message, "cut.json ended before") {
		t.Fatalf("cut host %s in the report: %+v", cutHost, h)
	}
	if page := runHTML(t, m.Report); !strings.Contains(page, "cut.json ended before this host finished") {
		t.Errorf("the page does not say why %s is cancelled:\n%s", cutHost, page)
	}
}

// Shards that ran another playbook than the first stream's are merged, and
// said to be: in the warnings and on the page.
func TestMergeAnotherPlaybook(t *testing.T) {
	re := regexp.MustCompile(`"playbook":"sha256:[0-9a-f]+"`)
	other := re.ReplaceAllString(mergeFile(t, "apply-3.json"), `"playbook":"sha256:0ther"`)
	if other == mergeFile(t, "apply-3.json") {
		t.Fatal("apply-3.json's run_start has no playbook digest")
	}
	m, err := Merge([]Stream{
		{Name: "apply-1.json", R: strings.NewReader(mergeFile(t, "apply-1.json"))},
		{Name: "apply-2.json", R: strings.NewReader(mergeFile(t, "apply-2.json"))},
		{Name: "other.json", R: strings.NewReader(other)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "other.json ran another playbook (sha256:0ther) than apply-1.json (sha256:") {
		t.Fatalf("warnings %q", m.Warnings)
	}
	if !strings.Contains(runHTML(t, m.Report), "other.json ran another playbook") {
		t.Errorf("the page does not warn of it")
	}
	if m, _ := mergeOf(t, "apply-1.json", "apply-2.json", "apply-3.json"); len(m.Warnings) != 0 {
		t.Errorf("the shards of one run: warnings %q", m.Warnings)
	}
}
