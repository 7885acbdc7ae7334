package remote_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
