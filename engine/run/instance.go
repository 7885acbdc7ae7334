package run

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules/contract"
)

// instance is one task instance on one host: a task block, or one element of
// its for_each or count.
type instance struct {
	task  *config.Task
	key   cty.Value // cty.NilVal for a task without for_each/count
	addr  string
	each  *lang.Each
	count cty.Value
	// frame is the instance of the stack call the task is in; nil for a
	// play's own task.
	frame *frame

	// state is where the instance stands; it changes only through to.
	state instState
	// values is the decoded configuration, with sensitive marks.
	values    cty.Value
	sensitive bool
	// become is the task's own become setting, nil for the play's; conn
	// names the connection it runs over ("" for the play's, see
	// hostRun.configure): instances of one batch share it.
	become *Become
	conn   string
	// delegate is the host delegate_to names (nil: the task's own host).
	delegate *inventory.Host
	// once: run_once is true; onceFrom is then, on the hosts that do not
	// run it, the host that runs it for the batch (once.go).
	once     bool
	onceFrom string
	// reads are the other hosts whose inventory data the configuration
	// used (lang.HostsRead), for the plan.
	reads []string
	// metaSensitive: the task says sensitive = true; every value is masked.
	metaSensitive bool
	secrets       []string
	mtask         contract.Task
	// reads caches readsState: 0 not known yet, 1 reads, 2 reads nothing.
	readsMemo uint8
	// retries and retryDelay are the task's retries and retry_delay;
	// attempt is which run this is (1, 2, ...; 0 without retries).
	retries    int
	retryDelay time.Duration
	attempt    int

	// Filled by check and apply.
	// checkedAt is len(hostRun.changes) when the state was read: changes
	// from there on may have made it stale.
	checkedAt int
	plan      *contract.Plan
	checkErr  error // Diff failed: the task fails when reached
	// stateDigest and stateSummary are what the check read, for a saved
	// plan (saved.go).
	stateDigest, stateSummary string
	outputs                   map[string]cty.Value // after it ran
}

// instState is where an instance stands in a run on one host.
type instState uint8

const (
	instNew        instState = iota // expanded; its configuration is not evaluated yet
	instDeferred                    // its configuration waits for values known only once earlier tasks ran
	instSkipped                     // when is false: it runs nothing
	instConfigured                  // a module task whose state has not been read
	instChecked                     // state read and diffed: plan (or checkErr) as of checkedAt
	instDone                        // ran, or had nothing to do, and was reported
	instFailed                      // reported failed
)

var instStateNames = [...]string{"new", "deferred", "skipped", "configured", "checked", "done", "failed"}

func (s instState) String() string {
	if int(s) < len(instStateNames) {
		return instStateNames[s]
	}
	return fmt.Sprintf("instState(%d)", int(s))
}

// instMoves are the legal changes of state (new to done: a run_once task
// another host ran, see once.go). Evaluating (configure) decides
// between deferred, skipped and configured, and is done again for a
// deferred instance once what it waits for ran; reading state (again, when
// stale) makes it checked; the executor reports it done or failed. A plan
// made from what an earlier edit was to write (rebase) that did not run
// because the batch stopped before it goes back to configured: read again.
var instMoves = map[instState][]instState{
	instNew:        {instDeferred, instSkipped, instConfigured, instDone, instFailed},
	instDeferred:   {instDeferred, instSkipped, instConfigured, instFailed},
	instConfigured: {instChecked, instFailed},
	instChecked:    {instChecked, instConfigured, instDone, instFailed},
}

// to moves the instance to state s. Any other move than instMoves allows is
// a bug in the engine, not in the playbook.
func (in *instance) to(s instState) {
	for _, ok := range instMoves[in.state] {
		if ok == s {
			in.state = s
			return
		}
	}
	panic(fmt.Sprintf("instance %s: no move from %s to %s", in.addr, in.state, s))
}

// notifyKey is the key under which the instance's notify marks handler
// name: handlers of a stack call's instance are its own.
func (in *instance) notifyKey(name string) string {
	if in.frame == nil {
		return name
	}
	return in.frame.prefix + name
}

// readsState reports whether the state read of the instance's module task
// reads anything on the host (remote.ReadsNothing): one that reads nothing
// is planned from its configuration alone, and no change makes that stale.
func (in *instance) readsState() bool {
	if in.readsMemo == 0 {
		in.readsMemo = 1
		if in.mtask != nil && remote.ReadsNothing(in.mtask) {
			in.readsMemo = 2
		}
	}
	return in.readsMemo == 1
}

// ready reports whether the instance is a module task (its state read or
// not): the ones a state read can include.
func (in *instance) ready() bool {
	return in.state == instConfigured || in.state == instChecked
}

// mtasks is the module tasks of ins, for a state read.
func mtasks(ins []*instance) []contract.Task {
	out := make([]contract.Task, len(ins))
	for i, in := range ins {
		out[i] = in.mtask
	}
	return out
}

// sensitiveAttrs names the attributes whose values are sensitive, or nil
// when the instance holds no sensitive value.
func (in *instance) sensitiveAttrs() map[string]bool {
	if !in.sensitive {
		return nil
	}
	m := map[string]bool{}
	for _, a := range in.task.Module.Spec().Attributes {
		if a.Sensitive {
			m[a.Name] = true
		}
	}
	if in.values != cty.NilVal && in.values.Type().IsObjectType() && !in.values.IsNull() {
		for it := in.values.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if lang.IsSensitive(v) {
				m[k.AsString()] = true
			}
		}
	}
	if len(m) == 0 {
		m["(task)"] = true // sensitive through an output or a marked module value
	}
	return m
}
