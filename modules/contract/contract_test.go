package contract_test

import (
	"errors"
	"testing"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

func TestStepFailure(t *testing.T) {
	cause := errors.New("connection lost")
	for _, c := range []struct {
		name     string
		res      transport.Result
		err      error
		want     string // "" for no error
		wantExit int
	}{
		{name: "ok", res: transport.Result{Stderr: []byte("warning\n")}},
		{name: "exit", res: transport.Result{ExitCode: 2, Stderr: []byte("  no such file\n")}, want: "exit status 2: no such file", wantExit: 2},
		{name: "silent exit", res: transport.Result{ExitCode: 1}, want: "exit status 1", wantExit: 1},
		{name: "signal", res: transport.Result{ExitCode: -1, Signal: "KILL", Stderr: []byte("half done")}, want: "killed by signal KILL: half done", wantExit: -1},
		{name: "transport", res: transport.Result{ExitCode: 0}, err: cause, want: "connection lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := contract.StepFailure(3, c.res, c.err)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var se *contract.StepError
			if !errors.As(err, &se) || se.Step != 3 || se.ExitCode != c.wantExit || err.Error() != c.want {
				t.Fatalf("got %#v (%v), want step 3, exit %d, %q", err, err, c.wantExit, c.want)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("%v does not wrap its cause", err)
			}
		})
	}
}

type named string

func (n named) Spec() *contract.Spec                           { return &contract.Spec{Name: string(n)} }
func (named) Configure(contract.Config) (contract.Task, error) { return nil, nil }

func TestCatalog(t *testing.T) {
	c := contract.NewCatalog(named("shell"), named("file"), named("copy"))
	var names []string
	for _, m := range c.All() {
		names = append(names, m.Spec().Name)
	}
	if len(names) != 3 || names[0] != "copy" || names[1] != "file" || names[2] != "shell" {
		t.Errorf("All() = %v, want sorted by name", names)
	}
	if m, ok := c.Lookup("file"); !ok || m.Spec().Name != "file" {
		t.Errorf("Lookup(file) = %v, %v", m, ok)
	}
	if _, ok := c.Lookup("nope"); ok {
		t.Error("Lookup found a module that is not there")
	}
}
