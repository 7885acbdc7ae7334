package modules

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
)

func TestSysctlDiff(t *testing.T) {
	tool := "tool.sysctl=/usr/sbin/sysctl\n"
	conf := "# comment\nnet.ipv4.ip_forward = 1\n; other comment\nvm.swappiness=10\n"
	runSysDiff(t, Sysctl{}, "sysctl", []sysCase{
		{name: "create", values: obj("name", "net.ipv4.ip_forward", "value", "1"), out: tool + blob("kernel", "0")},
		{name: "in-sync", values: obj("name", "net.ipv4.ip_forward", "value", "1"), out: tool + blob("kernel", "1") + blob("file", conf)},
		{name: "kernel-differs", values: obj("name", "net.ipv4.ip_forward", "value", "1"), out: tool + blob("kernel", "0") + blob("file", conf)},
		{name: "file-differs", values: obj("name", "vm.swappiness", "value", "60"), out: tool + blob("kernel", "60") + blob("file", conf)},
		{name: "multi-value-whitespace", values: obj("name", "net.ipv4.tcp_rmem", "value", "4096  87380 6291456"),
			out: tool + blob("kernel", "4096\t87380\t6291456") + blob("file", "net.ipv4.tcp_rmem=4096 87380 6291456\n")},
		{name: "no-reload", values: obj("name", "net.ipv4.ip_forward", "value", "0", "reload", false, "file", "/etc/sysctl.d/60-fwd.conf"), out: blob("file", conf)},
		{name: "hostile-value", values: obj("name", "kernel.domainname", "value", hostileText), out: tool + blob("kernel", "x")},
		{name: "unknown-key", values: obj("name", "net.nope", "value", "1"), out: tool + blob("kernelerr", "sysctl: cannot stat /proc/sys/net/nope: No such file or directory")},
		{name: "no-sysctl", values: obj("name", "net.ipv4.ip_forward", "value", "1"), out: ""},
		{name: "absent", values: obj("name", "vm.swappiness", "state", "absent"), out: tool + blob("file", conf)},
		{name: "absent-already", values: obj("name", "vm.dirty_ratio", "state", "absent"), out: tool + blob("file", conf)},
	})
	runSysConfigErrors(t, Sysctl{}, []sysConfigCase{
		{"no value", obj("name", "a.b"), "value: is required"},
		{"bad name", obj("name", "a b", "value", "1"), "not a sysctl name"},
		{"name with equals", obj("name", "a=b", "value", "1"), "not a sysctl name"},
		{"value with newline", obj("name", "a.b", "value", "1\nkernel.x = 2"), "one line"},
		{"relative file", obj("name", "a.b", "value", "1", "file", "x.conf"), "absolute"},
	})
}

// The persisted file is edited by the same script on every shell and awk:
// check, apply, check again. reload = false keeps the machine's kernel out
// of it; the fleet tests cover sysctl -w.
func TestSysctlPersistLocal(t *testing.T) {
	for name, conn := range systemShellConns(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "sub", "99-test.conf")
			steps := []struct {
				values cty.Value
				want   string // file content; "" means removed
			}{
				{obj("name", "net.core.somaxconn", "value", "1024", "file", file, "reload", false), "net.core.somaxconn = 1024\n"},
				{obj("name", "vm.swappiness", "value", "10", "file", file, "reload", false), "net.core.somaxconn = 1024\nvm.swappiness = 10\n"},
				{obj("name", "net.core.somaxconn", "value", hostileText, "file", file, "reload", false), "net.core.somaxconn = " + hostileText + "\nvm.swappiness = 10\n"},
				{obj("name", "net.core.somaxconn", "state", "absent", "file", file), "vm.swappiness = 10\n"},
				{obj("name", "vm.swappiness", "state", "absent", "file", file), ""},
			}
			for i, st := range steps {
				task, err := Sysctl{}.Configure(contract.Config{Values: st.values})
				if err != nil {
					t.Fatal(err)
				}
				for round := 0; round < 2; round++ {
					outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
					if err != nil {
						t.Fatal(err)
					}
					plan, err := task.Diff(outs[0])
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if round == 1 {
						if plan.Changed() {
							t.Fatalf("step %d: not idempotent:\n%s", i, renderPlan(t, plan))
						}
						break
					}
					if !plan.Changed() {
						t.Fatalf("step %d: no change planned", i)
					}
					if res, err := remote.Apply(context.Background(), conn, plan); err != nil {
						t.Fatalf("step %d: %v\n%s", i, err, res.Stderr)
					}
				}
				got, err := os.ReadFile(file)
				if st.want == "" {
					if !os.IsNotExist(err) {
						t.Errorf("step %d: file still exists (%q, %v)", i, got, err)
					}
				} else if string(got) != st.want {
					t.Errorf("step %d: file = %q, want %q", i, got, st.want)
				}
				if ents, _ := os.ReadDir(filepath.Dir(file)); len(ents) > 1 {
					t.Errorf("step %d: temporary files left: %v", i, ents)
				}
			}
		})
	}
}
