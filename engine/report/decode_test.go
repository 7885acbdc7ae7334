package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every kind's event, written by the JSON sink and read back by
// DecodeEvent, is the event it was (times in UTC, durations in whole
// microseconds: what the stream keeps).
func TestDecodeEventRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 4, 5, 6, 123456789, time.UTC)
	ms := func(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
	for _, e := range []Event{
		{Time: at, Kind: KindRunStart, Task: "apply", Hosts: []string{"web1", "db1"},
			Detail: &RunInfo{Operator: "ops@ctl", Playbook: "sha256:ab", PlaybookFiles: []string{"site.hcl"}, Inventory: "sha256:cd", InventoryFiles: []string{"hosts.hcl"}}},
		{Time: at, Kind: KindRunStart, Task: "exec", Command: "uname -n", Hosts: []string{"web1"}},
		{Time: at, Kind: KindConnect, Host: "db1", Status: StatusUnreachable, ConnectTime: ms(710), ErrorKind: "refused",
			Message: "dial tcp: connection refused", Hint: "check that sshd runs"},
		{Time: at, Kind: KindCommand, Host: "web1", Task: "exec", Status: StatusOK, Duration: ms(181419), ConnectTime: ms(65559),
			Command: "uname -n", ExitCode: Exit(0), Stdout: "host1\n"},
		{Time: at, Kind: KindCommand, Host: "web1", Task: "exec", Status: StatusFailed, Duration: ms(3), Signal: "KILL", Stderr: "\x1b[31mkilled"},
		{Time: at, Kind: KindTaskStart, Host: "web1", Task: "file.a", Detail: &TaskResult{Module: "file", Batch: 4}},
		{Time: at, Kind: KindTask, Host: "web1", Task: "shell.talk", Status: StatusChanged, Duration: ms(428135), ExitCode: Exit(0), Stdout: "out\n", Stderr: "err\n",
			Detail: &TaskResult{Module: "shell", Batch: 4, Attempt: 2, Handler: true, Changes: []ChangeView{
				{Action: "run", Subject: "echo out"},
				{Action: "update", Subject: "/etc/a", Attrs: []AttrView{{Name: "mode", Old: "0644", New: "0600"}}, Diff: "-a\n+b\n", Sensitive: true}}}},
		{Time: at, Kind: KindRetry, Host: "web1", Task: "shell.flaky", Message: "exit 1", Duration: ms(5), Detail: &TaskResult{Module: "shell", Attempt: 1}},
		{Time: at, Kind: KindPlan, Host: "web1", Detail: &HostPlan{Play: "site", Error: "cannot read", Tasks: []TaskPlan{
			{Task: "file.a", Module: "file", Changes: []ChangeView{{Action: "create", Subject: "/a"}}, On: "db1", Reads: []string{"db1"}},
			{Task: "shell.b", Module: "shell", Deferred: true, Skipped: "when is false", NotSelected: "not selected", RunOnce: "web2", Rescue: "block.x", IgnoreFailure: true},
		}}},
		{Time: at, Kind: KindPlanSummary, Message: "Plan: 1 to create", Detail: &PlanSummary{Create: 1, Update: 2, Delete: 3, Run: 4, Deferred: 5, Failed: 6}},
		{Time: at, Kind: KindHostDone, Host: "web1", Status: StatusOK, Duration: ms(247171)},
		{Time: at, Kind: KindWarning, Message: "no hosts in group db"},
		{Time: at, Kind: KindRecap, Duration: ms(247904), Recap: &Recap{Duration: ms(247904), Interrupted: true, PerTask: true, Hosts: []HostRecap{
			{Host: "web1", Status: StatusChanged, Duration: ms(247171), Tasks: Counts{OK: 2, Changed: 1}},
			{Host: "db1", Status: StatusUnreachable, Duration: ms(710), ErrorKind: "refused", Message: "connection refused"},
		}}},
		{Time: at, Kind: KindRecap, Recap: &Recap{}},
	} {
		t.Run(string(e.Kind), func(t *testing.T) {
			var b bytes.Buffer
			NewJSON(&b, nil).Emit(e)
			got, err := DecodeEvent(bytes.TrimSpace(b.Bytes()))
			if err != nil {
				t.Fatalf("%s: %v", b.String(), err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("written\n%s\nread back\n%#v\nwant\n%#v", b.String(), got, e)
			}
		})
	}
}

// A kind the decoder has no type for keeps its detail as JSON, which the
// sink writes back unchanged.
func TestDecodeEventUnknownDetail(t *testing.T) {
	line := `{"time":"2026-12-02T04:05:06Z","kind":"facts","host":"web1","detail":{"os":{"id":"debian"},"cpus":2}}`
	e, err := DecodeEvent([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := e.Detail.(json.RawMessage)
	if !ok || string(raw) != `{"os":{"id":"debian"},"cpus":2}` {
		t.Fatalf("detail %T %s", e.Detail, e.Detail)
	}
	var b bytes.Buffer
	NewJSON(&b, nil).Emit(e)
	if got := strings.TrimSpace(b.String()); got != line {
		t.Errorf("written back\n%s\nwant\n%s", got, line)
	}
}

func TestDecodeEventErrors(t *testing.T) {
	for _, tc := range []struct{ line, err string }{
		{`{"time":"2026-12-02T04:05:06Z"}`, "without a kind"},
		{`{"time":"yesterday","kind":"warning"}`, `time "yesterday"`},
		{`{"kind":"plan","detail":{"tasks":"many"}}`, "the detail of a plan event"},
		{`{`, "unexpected end"},
	} {
		if _, err := DecodeEvent([]byte(tc.line)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.err)
		}
	}
}
