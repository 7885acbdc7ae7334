package remote_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// BenchmarkCheckAllFiles reads the state of 100 file tasks (the common
// case: a converged host) in one batched script.
func BenchmarkCheckAllFiles(b *testing.B) {
	dir := b.TempDir()
	conn := moduletest.Local(b)
	file, _ := modules.Lookup("file")
	var tasks []contract.Task
	for i := 0; i < 100; i++ {
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, []byte("content\n"), 0o644)
		task, err := file.Configure(contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"path": cty.StringVal(p), "content": cty.StringVal("content\n"),
		})})
		if err != nil {
			b.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		outs, err := remote.CheckAll(context.Background(), conn, tasks)
		if err != nil {
			b.Fatal(err)
		}
		for j, task := range tasks {
			if p, err := task.Diff(outs[j]); err != nil || p.Changed() {
				b.Fatalf("task %d: %v %v", j, err, p)
			}
		}
	}
}

// BenchmarkCheckAllAccounts reads the state of 20 group and 20 user tasks on
// a converged host: "batched" as CheckAll does (one getent per kind for all
// of them), "per-task" with each task's own Check fragment (one getent each,
// as before the facts were batched). It reports the CPU time the host's
// processes spent per read.
func BenchmarkCheckAllAccounts(b *testing.B) {
	conn := moduletest.Local(b)
	var tasks []contract.Task
	for _, kind := range []string{"group", "user"} {
		db := "/etc/" + map[string]string{"group": "group", "user": "passwd"}[kind]
		data, err := os.ReadFile(db)
		if err != nil {
			b.Skip(err)
		}
		m, _ := modules.Lookup(kind)
		for _, l := range strings.SplitN(string(data), "\n", 21)[:20] {
			name, _, _ := strings.Cut(l, ":")
			task, err := m.Configure(contract.Config{Values: moduletest.Values(map[string]cty.Value{"name": cty.StringVal(name)})})
			if err != nil {
				b.Fatal(err)
			}
			tasks = append(tasks, task)
		}
	}
	run := func(b *testing.B, tasks []contract.Task) {
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			outs, err := remote.CheckAll(context.Background(), conn, tasks)
			if err != nil {
				b.Fatal(err)
			}
			for j, task := range tasks {
				if p, err := task.Diff(outs[j]); err != nil || p.Changed() {
					b.Fatalf("task %d: %v %v", j, err, p)
				}
			}
		}
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "host-cpu-ms/op")
	}
	b.Run("batched", func(b *testing.B) { run(b, tasks) })
	b.Run("per-task", func(b *testing.B) {
		plain := make([]contract.Task, len(tasks))
		for i, t := range tasks {
			plain[i] = plainTask{t}
		}
		run(b, plain)
	})
}

// plainTask hides a task's batched-state interfaces: CheckAll runs its Check.
type plainTask struct{ t contract.Task }

func (p plainTask) Check() string                                         { return p.t.Check() }
func (p plainTask) Diff(out contract.CheckOutput) (*contract.Plan, error) { return p.t.Diff(out) }
