package remote

import (
	"context"
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// factTask is a FactChecker with fixed facts and rest fragment.
type factTask struct {
	facts []contract.Fact
	rest  string
}

func (f factTask) Facts() []contract.Fact                            { return f.facts }
func (f factTask) CheckRest() string                                 { return f.rest }
func (f factTask) Check() string                                     { return FactScript(f.facts) + f.rest }
func (f factTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }

func TestCheckAllBatchesFacts(t *testing.T) {
	user := func(name string) contract.Fact { return contract.Fact{Kind: contract.FactPasswd, Key: name} }
	group := func(name string) contract.Fact { return contract.Fact{Kind: contract.FactGroup, Key: name} }
	hostile := "x'; touch /tmp/drover-pwned; echo '" // never reaches the shell unquoted
	tasks := []contract.Task{
		factTask{facts: append(contract.Tools("sh", "no-such-tool-drover"), user("root"))},
		factTask{facts: []contract.Fact{user("no-such-user-drover"), user(hostile), group("root")}, rest: "echo rest=1"},
		fragTask("echo plain"),
		factTask{facts: append(contract.Tools("sh"), user("root"), group("no-such-group-drover"))},
	}
	j, err := newCheckJob(tasks)
	if err != nil {
		t.Fatal(err)
	}
	// One getent per kind of account fact, whatever the number of tasks.
	if n := strings.Count(j.script, "getent passwd"); n != 1 {
		t.Errorf("script runs getent passwd %d times, want 1", n)
	}
	if n := strings.Count(j.script, "getent group"); n != 1 {
		t.Errorf("script runs getent group %d times, want 1", n)
	}
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			outs, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			probe, err := CheckAll(context.Background(), conn, []contract.Task{fragTask("command -v getent")})
			if err != nil {
				t.Fatal(err)
			}
			getent := probe[0].ExitCode == 0 // busybox has none: no account is found
			if string(outs[1].Stdout) != "rest=1\n" || string(outs[2].Stdout) != "plain\n" || len(outs[0].Stdout) > 0 {
				t.Errorf("fragments' outputs: %q", []string{string(outs[0].Stdout), string(outs[1].Stdout), string(outs[2].Stdout)})
			}
			if outs[2].Facts != nil {
				t.Error("a task that is no FactChecker got facts")
			}
			for _, i := range []int{0, 1, 3} {
				f := outs[i].Facts
				if f == nil {
					t.Fatalf("task %d got no facts", i)
				}
				if !f.Tool("sh") || f.Tool("no-such-tool-drover") {
					t.Errorf("task %d: tools sh %v no-such-tool %v", i, f.Tool("sh"), f.Tool("no-such-tool-drover"))
				}
				if !getent {
					if _, ok := f.Passwd("root"); ok {
						t.Errorf("task %d: root found without getent", i)
					}
					continue
				}
				if e, ok := f.Passwd("root"); !ok || !strings.HasPrefix(e, "root:") {
					t.Errorf("task %d: passwd root = %q %v", i, e, ok)
				}
				if _, ok := f.Passwd("no-such-user-drover"); ok {
					t.Errorf("task %d: a missing user found", i)
				}
				if _, ok := f.Passwd(hostile); ok {
					t.Errorf("task %d: the hostile name found", i)
				}
				if _, ok := f.Group("root"); !ok {
					t.Errorf("task %d: group root not found", i)
				}
			}
		})
	}
}

func TestFactScriptOneKey(t *testing.T) {
	got := FactScript([]contract.Fact{{Kind: contract.FactGroup, Key: "docker"}, {Kind: contract.FactGroup, Key: "docker"}})
	want := "if e=$(getent group docker); then printf 'group=%s\\n' \"$e\"; fi\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
