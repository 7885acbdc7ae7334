package run

import (
	"testing"

	"github.com/drover-cm/drover/modules/contract"
)

func TestChangeOf(t *testing.T) {
	upd := &contract.Plan{Changes: []contract.Change{{Action: contract.Update}}}
	run := &contract.Plan{Changes: []contract.Change{{Action: contract.Run}}}
	cases := []struct {
		name   string
		task   contract.Task
		plan   *contract.Plan
		opaque bool
		res    int
	}{
		{"a file change touches the file", relTask{provides: []contract.Resource{{Kind: "path", Name: "/etc/a"}}}, upd, false, 1},
		{"code that ran touches anything", relTask{}, run, true, 0},
		{"no relations: anything", struct{ contract.Task }{}, upd, true, 0}, // relTask: segment_test.go
		// The redis recipe: a service task after the package that installs
		// it read the service before the package's scripts started it.
		{"a package change ran the package's scripts", relTask{provides: []contract.Resource{{Kind: "package", Name: "redis-server"}}}, upd, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := changeOf(&instance{mtask: c.task, plan: c.plan}, c.plan)
			if got.opaque != c.opaque || len(got.res) != c.res {
				t.Errorf("changeOf = %+v; want opaque %v, %d resources", got, c.opaque, c.res)
			}
		})
	}
}
