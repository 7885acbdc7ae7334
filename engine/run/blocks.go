package run

import (
	"fmt"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/report"
)

// blockRun is how one block stands on one host. No I/O: the executor asks
// it what a failure means and which tasks run, so the rules are
// table-testable (blocks_test.go).
type blockRun struct {
	// failed: a task of the body failed (the rest of the body is skipped;
	// the rescue runs). failedAt names it.
	failed   bool
	failedAt string
	// rescueFailed: a task of the rescue failed (the rest of it is skipped).
	rescueFailed bool
	// pending is a failure the block did not recover from, held until its
	// always tasks ran; then it leaves the block (leave).
	pending error
	// prior is the host's status before the failure, given back when an
	// enclosing rescue takes it over.
	prior report.Status
}

// blockStates are the blocks of a play on one host.
type blockStates map[*config.Block]*blockRun

func (bs blockStates) get(b *config.Block) *blockRun {
	st := bs[b]
	if st == nil {
		st = &blockRun{}
		bs[b] = st
	}
	return st
}

// skipReason says why task t does not run given how the blocks around it
// stand, "" when it runs: the rest of a body after a failure, a rescue
// when nothing failed or after a rescue task failed. Always tasks always
// run.
func (bs blockStates) skipReason(t *config.Task) string {
	for _, p := range t.Blocks {
		st := bs[p.Block]
		if st == nil {
			st = &blockRun{}
		}
		switch p.Section {
		case config.SectionBody:
			if st.failed {
				return fmt.Sprintf("not run: %s failed in %s", st.failedAt, p.Block.Addr())
			}
		case config.SectionRescue:
			if !st.failed {
				return fmt.Sprintf("rescue not needed: nothing failed in %s", p.Block.Addr())
			}
			if st.rescueFailed {
				return fmt.Sprintf("not run: the rescue of %s failed", p.Block.Addr())
			}
		}
	}
	return ""
}

// failMeaning is what a failure means for the host.
type failMeaning uint8

const (
	// failStop: no block recovers from it; the host stops.
	failStop failMeaning = iota
	// failRescued: a rescue takes over; the host is not failed (unless
	// the rescue fails).
	failRescued
	// failPending: the host has failed, but always tasks run first; the
	// failure leaves the block after them (leave).
	failPending
	// failNone: there was no failure.
	failNone
)

// fail handles a failure of what (a task's or a block's address) at path,
// the blocks around it. prior is the host's status before the failure.
// From the innermost block out: in a body with rescue, the rescue takes
// over; in a body or rescue with always, the failure waits for the always
// tasks; a failing always task fails its block after the rest of always
// ran. Otherwise the failure leaves the block at once for the one around
// it.
func (bs blockStates) fail(path []config.BlockPos, what string, err error, prior report.Status) failMeaning {
	for i := len(path) - 1; i >= 0; i-- {
		b := path[i].Block
		st := bs.get(b)
		switch path[i].Section {
		case config.SectionBody:
			st.failed, st.failedAt = true, what
			if b.HasRescue {
				st.prior = prior
				return failRescued
			}
		case config.SectionRescue:
			st.rescueFailed = true
		}
		if b.HasAlways {
			if st.pending == nil {
				st.pending, st.prior = err, prior
			}
			return failPending
		}
		what = b.Addr()
	}
	return failStop
}

// leave is called when the last task of b has been passed: a failure it
// held for its always tasks now leaves it, handled by the blocks around it
// (fail). It returns failRescued also when nothing was pending (the host
// goes on), and the pending error with its prior status otherwise.
func (bs blockStates) leave(b *config.Block) (failMeaning, error, report.Status) {
	st := bs[b]
	if st == nil || st.pending == nil {
		return failNone, nil, ""
	}
	err, prior := st.pending, st.prior
	st.pending = nil
	return bs.fail(b.Path, b.Addr(), err, prior), err, prior
}
