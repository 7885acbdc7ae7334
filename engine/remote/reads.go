package remote

import "github.com/drover-cm/drover/modules/contract"

// ReadsNothing reports whether CheckAll reads nothing on the host for t (no
// fragment, path, group or facts): its state is known without a round trip,
// so the engine can plan it ahead of a batch (a folded handler).
func ReadsNothing(t contract.Task) bool {
	j, err := newCheckJob([]contract.Task{t})
	return err == nil && j.n == 0
}
