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
	// shared are the SharedCheckers reading several keys of the group.
	shared []sharedUse
}

// sharedUse is a SharedChecker's part of a group: task index, and the
// index in keys of each of its keys.
type sharedUse struct {
	task int
	keys []int
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
	grp := cg.group(g)
	grp.tasks = append(grp.tasks, i)
	grp.key = append(grp.key, grp.keyIndex(key))
	return true
}

// addShared records SharedChecker task i's keys; false when it reads its
// own state.
func (cg *checkGroups) addShared(i int, sc contract.SharedChecker) bool {
	g, keys := sc.CheckShared()
	if g == nil || len(keys) == 0 {
		return false
	}
	grp := cg.group(g)
	use := sharedUse{task: i, keys: make([]int, len(keys))}
	for n, k := range keys {
		use.keys[n] = grp.keyIndex(k)
	}
	grp.shared = append(grp.shared, use)
	return true
}

// group is the group with g's ID, added when new.
func (cg *checkGroups) group(g contract.CheckGroup) *checkGroup {
	for _, x := range cg.groups {
		if x.g.GroupID() == g.GroupID() {
			return x
		}
	}
	grp := &checkGroup{g: g}
	cg.groups = append(cg.groups, grp)
	return grp
}

// keyIndex is key's index in the group's keys, added when new.
func (grp *checkGroup) keyIndex(key string) int {
	k := slices.Index(grp.keys, key)
	if k < 0 {
		k = len(grp.keys)
		grp.keys = append(grp.keys, key)
	}
	return k
}

// fragments are the groups' fragments, one frame each.
func (cg *checkGroups) fragments() []string {
	f := make([]string, len(cg.groups))
	for i, g := range cg.groups {
		f[i] = g.g.Check(g.keys)
	}
	return f
}

// outputs gives every task of the groups its share of its group's frame
// (a SharedChecker, whose own frame is already in outs, its keys' shares in
// Shared). A frame that cannot be split fails the state read of its tasks
// only.
func (cg *checkGroups) outputs(frames []contract.CheckOutput, outs []contract.CheckOutput) {
	for n, g := range cg.groups {
		split, err := g.g.Split(frames[n], g.keys)
		if err == nil && len(split) != len(g.keys) {
			err = fmt.Errorf("%d outputs for %d keys", len(split), len(g.keys))
		}
		failed := func(key string) contract.CheckOutput {
			return contract.CheckOutput{ExitCode: 1, Stderr: fmt.Appendf(nil, "reading the state of %s: %v\n%s", key, err, frames[n].Stderr)}
		}
		for k, i := range g.tasks {
			if err != nil {
				outs[i] = failed(g.keys[g.key[k]])
				continue
			}
			outs[i] = split[g.key[k]]
		}
		for _, u := range g.shared {
			if err != nil {
				outs[u.task] = failed(g.keys[u.keys[0]])
				continue
			}
			sh := make([]contract.CheckOutput, len(u.keys))
			for m, k := range u.keys {
				sh[m] = split[k]
			}
			outs[u.task].Shared = sh
		}
	}
}
