package modules_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// TestPackageTasksShareOneQuery reads the state of five package tasks of
// one host (present, latest and absent, overlapping names, an arch
// qualifier) with one CheckAll in every local shell, against stand-in
// dpkg-query and apt-cache that log their calls: dpkg-query runs once for
// the union of the names and apt-cache once for the names that need a
// candidate, and every task's plan is the one its own check gives.
func TestPackageTasksShareOneQuery(t *testing.T) {
	const dpkgOut = "curl\tinstall ok installed\t7.88.1-10\n" +
		"libc6\tinstall ok installed\t2.36-9\n" +
		"nginx\tdeinstall ok config-files\t1.22.1-9\n"
	const policy = "tree:\n  Installed: (none)\n  Candidate: 2.1.0-1\n" +
		"nginx:\n  Installed: (none)\n  Candidate: 1.22.1-9\n" +
		"curl:\n  Installed: 7.88.1-10\n  Candidate: 7.88.1-11\n"
	log, env := pkgStandIns(t, map[string]string{"dpkg-query": dpkgOut, "apt-cache": policy})
	m := psModule(t, "package")
	cfgs := []struct {
		state string
		names []string
	}{
		{"present", []string{"curl", "tree"}},
		{"present", []string{"libc6:i386", "nginx"}},
		{"latest", []string{"curl"}},
		{"absent", []string{"nginx", "htop"}},
		{"present", []string{"curl", "tree"}}, // the same key as the first
	}
	tasks := func() []contract.Task {
		var ts []contract.Task
		for _, c := range cfgs {
			ts = append(ts, moduletest.Configure(t, m, contract.Config{
				Values: cty.ObjectVal(map[string]cty.Value{"names": psStrings(c.names...), "state": cty.StringVal(c.state)}),
				Facts:  &facts.Facts{PackageManager: "apt"}}))
		}
		return ts
	}
	for shName, argv := range moduletest.Shells() {
		t.Run(shName, func(t *testing.T) {
			conn := &moduletest.ShellConn{Shell: argv, Env: env}
			// Each task alone: the plans to compare with.
			var alone []*contract.Plan
			for _, task := range tasks() {
				alone = append(alone, moduletest.MustPlan(t, conn, task))
			}
			os.Remove(log)
			ts := tasks()
			outs, err := remote.CheckAll(context.Background(), conn, ts)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(log)
			want := []string{
				"dpkg-query -W -f=${Package}\\t${Status}\\t${Version}\\n curl tree libc6:i386 nginx htop",
				"apt-cache policy curl tree nginx", // the union's order
			}
			if got := strings.Split(strings.TrimSpace(string(b)), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("calls = %q\nwant    %q", got, want)
			}
			for i, task := range ts {
				plan, err := task.Diff(outs[i])
				if err != nil {
					t.Fatalf("task %d: %v", i, err)
				}
				if moduletest.Describe(plan) != moduletest.Describe(alone[i]) || !reflect.DeepEqual(plan.Steps, alone[i].Steps) {
					t.Errorf("task %d %v: batched plan\n%s\nalone\n%s", i, cfgs[i], moduletest.Describe(plan), moduletest.Describe(alone[i]))
				}
			}
		})
	}
}
