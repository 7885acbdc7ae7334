// delegate_to: a task evaluated with the current host's values runs over
// another host's connection (the one the run opened for that host, shared
// by every host delegating to it), reported under the current host.

package run

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/inventory"
)

// delegateName reads a delegate_to value: a host name, or "" for null
// (the task runs on its own host).
func delegateName(v cty.Value) (string, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return "", nil
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", fmt.Errorf("delegate_to must be the inventory name of a host, not %s", friendly(v))
	}
	if s.AsString() == "" {
		return "", errors.New("delegate_to must be the inventory name of a host, not an empty string")
	}
	return s.AsString(), nil
}

// delegate evaluates an instance's delegate_to in scope s. It reports
// false when the value is not known yet.
func (e *evaluator) delegate(in *instance, s *lang.Scope) (bool, hcl.Diagnostics) {
	t := in.task
	if t.DelegateTo == nil || e.validate || e.fleet == nil {
		return true, nil
	}
	v, diags := t.DelegateTo.Value(s.EvalContext())
	if diags.HasErrors() {
		return false, diags
	}
	if !v.IsWhollyKnown() {
		return false, nil
	}
	name, err := delegateName(v)
	if err != nil {
		return false, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid delegate_to value", Detail: err.Error(), Subject: t.DelegateTo.Range().Ptr()}}
	}
	in.delegate = nil
	if name == "" {
		return true, nil
	}
	// Delegated to itself, a host still takes its turn with the others
	// delegating there (the connection is its own).
	h := e.fleet.index[name]
	if h == nil {
		var names []string
		for _, h := range e.fleet.hosts {
			names = append(names, h.Name)
		}
		return false, hcl.Diagnostics{noSuchHost(name, "delegate_to", names, t.DelegateTo.Range())}
	}
	in.delegate = h
	return true, nil
}

// delegateError is a delegated task's failure to reach the host it runs
// on (or to take its run lock): the task fails, and the current host stops as for any failure (it
// is not the current host that is unreachable).
type delegateError struct {
	host string
	err  error
}

func (e *delegateError) Error() string {
	if runlock.IsBusy(e.err) {
		return fmt.Sprintf("delegate_to %s: %v", e.host, e.err)
	}
	return fmt.Sprintf("delegate_to %s is unreachable: %v", e.host, e.err)
}

func (e *delegateError) Unwrap() error { return e.err }

func isDelegateError(err error) bool {
	var de *delegateError
	return errors.As(err, &de)
}

// delegateLocks serialize the changes that several hosts delegate to one
// host: two hosts' commands on the balancer run one after the other, not
// interleaved.
type delegateLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (d *delegateLocks) of(host string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.locks == nil {
		d.locks = map[string]*sync.Mutex{}
	}
	m := d.locks[host]
	if m == nil {
		m = &sync.Mutex{}
		d.locks[host] = m
	}
	return m
}

// delegateConnKey names the connection of an instance delegated to h with
// become setting b (nil: the play's).
func delegateConnKey(h *inventory.Host, b *Become) string {
	if b == nil {
		return "delegate:" + h.Name
	}
	return fmt.Sprintf("delegate:%s/%v/%s", h.Name, b.Enabled, b.User)
}
