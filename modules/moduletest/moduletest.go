// Package moduletest runs drover modules against a real connection in tests:
// configure, check, diff, apply, and apply again to prove idempotence.
package moduletest

import (
	"context"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Values builds a task's attribute object from the attributes that are set;
// modules apply the Spec defaults for the others.
func Values(attrs map[string]cty.Value) cty.Value {
	if len(attrs) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(attrs)
}

// Local connects to this machine with drover's local transport.
func Local(t testing.TB) transport.Conn {
	t.Helper()
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatalf("local transport: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Configure configures the module, failing the test on error.
func Configure(t testing.TB, m contract.Module, cfg contract.Config) contract.Task {
	t.Helper()
	task, err := m.Configure(cfg)
	if err != nil {
		t.Fatalf("%s: Configure: %v", m.Spec().Name, err)
	}
	return task
}

// Plan checks the task's state on conn and returns its plan.
func Plan(t testing.TB, conn transport.Conn, task contract.Task) (*contract.Plan, error) {
	t.Helper()
	outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
	if err != nil {
		t.Fatalf("CheckAll: %v", err)
	}
	return task.Diff(outs[0])
}

// MustPlan is Plan failing the test on a Diff error.
func MustPlan(t testing.TB, conn transport.Conn, task contract.Task) *contract.Plan {
	t.Helper()
	plan, err := Plan(t, conn, task)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	return plan
}

// Apply applies plan, failing the test on error.
func Apply(t testing.TB, conn transport.Conn, plan *contract.Plan) transport.Result {
	t.Helper()
	res, err := remote.Apply(context.Background(), conn, plan)
	if err != nil {
		t.Fatalf("Apply: %v\nstdout: %s", err, res.Stdout)
	}
	return res
}

// ApplyTwice configures m with cfg, plans and applies it on conn, then plans
// again and fails the test unless the second plan is empty (the module is
// idempotent and its Check sees what its Apply did). It applies the way
// engine/run does: remote.ApplyAllThenCheck runs the plan's steps and reads
// the state for the second plan in the same script. It returns the first
// plan and the apply's result, for assertions.
func ApplyTwice(t testing.TB, conn transport.Conn, m contract.Module, cfg contract.Config) (*contract.Plan, transport.Result) {
	t.Helper()
	name := m.Spec().Name
	plan := MustPlan(t, conn, Configure(t, m, cfg))
	again := Configure(t, m, cfg)
	out, checks, err := remote.ApplyAllThenCheck(context.Background(), conn, []*contract.Plan{plan}, []contract.Task{again})
	if err != nil {
		t.Fatalf("%s: Apply: %v", name, err)
	}
	if out[0].Err != nil {
		t.Fatalf("%s: Apply: %v\nstdout: %s", name, out[0].Err, out[0].Result.Stdout)
	}
	if checks == nil {
		// The read after the steps failed: read again, as engine/run does.
		if checks, err = remote.CheckAll(context.Background(), conn, []contract.Task{again}); err != nil {
			t.Fatalf("%s: CheckAll: %v", name, err)
		}
	}
	second, err := again.Diff(checks[0])
	if err != nil {
		t.Fatalf("%s: second Diff: %v", name, err)
	}
	if second.Changed() {
		t.Fatalf("%s: second plan is not empty after apply:\n%s", name, Describe(second))
	}
	return plan, out[0].Result
}

// ApplyValues is ApplyTwice with only attribute values.
func ApplyValues(t testing.TB, conn transport.Conn, m contract.Module, attrs map[string]cty.Value) (*contract.Plan, transport.Result) {
	t.Helper()
	return ApplyTwice(t, conn, m, contract.Config{Values: Values(attrs)})
}

// Describe renders a plan's changes for test failure messages.
func Describe(p *contract.Plan) string {
	if p == nil {
		return "(nil plan)"
	}
	s := ""
	for _, c := range p.Changes {
		s += c.Action.Symbol() + " " + c.Action.String() + " " + c.Subject + "\n"
		for _, a := range c.Attrs {
			s += "    " + a.Name + ": " + a.Old + " -> " + a.New + "\n"
		}
		s += c.Diff
	}
	return s
}
