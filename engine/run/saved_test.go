package run

import (
	"reflect"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
)

func TestStateSummary(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sensitive bool
		out       contract.CheckOutput
		want      string
	}{
		{"missing path", false, contract.CheckOutput{Path: &contract.PathState{Type: "missing"}}, "missing"},
		{"file", false, contract.CheckOutput{Path: &contract.PathState{Type: "file", Mode: 0o640, User: "root", Group: "adm", Size: 12, Content: []byte("secret")}}, "file 0640 root:adm 12 bytes"},
		{"file with its sum", false, contract.CheckOutput{Path: &contract.PathState{Type: "file", Mode: 0o644, User: "root", Group: "root", Size: 3, SHA256: "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c"}}, "file 0644 root:root 3 bytes sha256:b5bb9d8014a0"},
		{"dir", false, contract.CheckOutput{Path: &contract.PathState{Type: "dir", Mode: 0o755, User: "app", Group: "app"}}, "dir 0755 app:app"},
		{"check output", false, contract.CheckOutput{Stdout: []byte("active=yes\nenabled=no\n\nx=1\ny=2\n")}, "active=yes | enabled=no | x=1"},
		{"failed check", false, contract.CheckOutput{ExitCode: 2}, "exit 2"},
		{"sensitive", true, contract.CheckOutput{Stdout: []byte("token=abc\n")}, "(sensitive)"},
		{"sensitive file", true, contract.CheckOutput{Path: &contract.PathState{Type: "file", Mode: 0o600, User: "root", Group: "root", Size: 20, SHA256: "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c"}}, "file 0600 root:root"},
	} {
		if got := stateSummary(&instance{sensitive: tc.sensitive}, tc.out); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

type factTask struct{ facts []contract.Fact }

func (factTask) Check() string                                     { return "" }
func (factTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return &contract.Plan{}, nil }
func (f factTask) Facts() []contract.Fact                          { return f.facts }
func (factTask) CheckRest() string                                 { return "" }

func TestFactLines(t *testing.T) {
	fs, err := contract.ParseFacts([]byte("tool.useradd=/usr/sbin/useradd\npasswd=app:x:1000:1000::/home/app:/bin/sh\npasswd=other:x:1001:1001::/:/bin/sh\n"))
	if err != nil {
		t.Fatal(err)
	}
	task := factTask{facts: []contract.Fact{{Kind: contract.FactTool, Key: "useradd"}, {Kind: contract.FactPasswd, Key: "app"}, {Kind: contract.FactGroup, Key: "app"}}}
	got := factLines(task, contract.CheckOutput{Facts: fs})
	want := []string{"tool useradd true=", "passwd app true=app:x:1000:1000::/home/app:/bin/sh", "group app false="}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("factLines = %q, want %q", got, want)
	}
	// Only the task's own facts: another account's entry is not its state.
	if l := factLines(factTask{facts: task.facts[1:2]}, contract.CheckOutput{Facts: fs}); len(l) != 1 {
		t.Errorf("facts of one account: %q", l)
	}
}
