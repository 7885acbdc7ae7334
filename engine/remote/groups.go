package remote

import (
	"fmt"
	"slices"

	"github.com/drover-cm/drover/modules/contract"
)

// checkGroups are the shared reads of a host's GroupCheckers: one fragment
// (and one frame) per group, in order of first use.
type checkGroups struct {
	groups []*checkGroup
}

type checkGroup struct {
	g     contract.CheckGroup
	keys  []string // distinct
	tasks []int    // task indexes
	key   []int    // each task's index in keys
}

// add records task i; false when it reads its own state.
func (cg *checkGroups) add(i int, t contract.Task) bool {
	gc, ok := t.(contract.GroupChecker)
	if !ok {
		return false
	}
	g, key := gc.CheckGroup()
	if g == nil {
		return false
	}
	var grp *checkGroup
	for _, x := range cg.groups {
		if x.g.GroupID() == g.GroupID() {
			grp = x
		}
	}
	if grp == nil {
		grp = &checkGroup{g: g}
		cg.groups = append(cg.groups, grp)
	}
	k := slices.Index(grp.keys, key)
	if k < 0 {
		k = len(grp.keys)
		grp.keys = append(grp.keys, key)
	}
	grp.tasks = append(grp.tasks, i)
	grp.key = append(grp.key, k)
	return true
}

// fragments are the groups' fragments, one frame each.
func (cg *checkGroups) fragments() []string {
	f := make([]string, len(cg.groups))
	for i, g := range cg.groups {
		f[i] = g.g.Check(g.keys)
	}
	return f
}

// outputs gives every task of the groups its share of its group's frame. A
// frame that cannot be split fails the state read of its tasks only.
func (cg *checkGroups) outputs(frames []contract.CheckOutput, outs []contract.CheckOutput) {
	for n, g := range cg.groups {
		split, err := g.g.Split(frames[n], g.keys)
		if err == nil && len(split) != len(g.keys) {
			err = fmt.Errorf("%d outputs for %d keys", len(split), len(g.keys))
		}
		for k, i := range g.tasks {
			if err != nil {
				outs[i] = contract.CheckOutput{ExitCode: 1, Stderr: fmt.Appendf(nil, "reading the state of %s: %v\n%s", g.keys[g.key[k]], err, frames[n].Stderr)}
				continue
			}
			outs[i] = split[g.key[k]]
		}
	}
}
