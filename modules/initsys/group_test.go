package initsys

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// fakeRCService is an rc-service that knows the services named ok-*, of
// which ok-run* are started (status 0) and the others stopped (3).
const fakeRCService = `#!/bin/sh
if [ "$1" = --exists ]; then case $2 in ok-*) exit 0;; esac; exit 1; fi
case $1 in ok-run*) exit 0;; ok-*) exit 3;; esac
echo " * rc-service: service '$1' does not exist" >&2; exit 1
`

// TestBulkStatusEqualsOwn reads several services' state with the shared
// fragment of OpenRC and of SysV in every local shell and checks that each
// service gets, byte for byte, what its own Status prints. (The SysV names
// have no script on this machine: their status actions must not run here;
// the fleet tests run real ones.)
func TestBulkStatusEqualsOwn(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "rc-service"), []byte(fakeRCService), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
	tests := []struct {
		sys   System
		names []string
	}{
		{OpenRC{}, []string{"ok-run", "ok-stopped", "missing", "odd name's@x=1", "ok-run2"}},
		{SysV{}, []string{"drover-test-none-a", "drover-test-none 'b'=c", "drover-test-none-c"}},
	}
	for shName, argv := range shconn.Shells() {
		run := func(t *testing.T, script string) contract.CheckOutput {
			cmd := exec.Command(argv[0], append(argv[1:], script)...)
			cmd.Env = env
			out, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return contract.CheckOutput{Stdout: out, ExitCode: code}
		}
		for _, tt := range tests {
			t.Run(shName+"/"+tt.sys.Name(), func(t *testing.T) {
				g := Group(tt.sys)
				script := g.Check(tt.names)
				checkSyntax(t, script)
				outs, err := g.Split(run(t, script), tt.names)
				if err != nil {
					t.Fatal(err)
				}
				for i, n := range tt.names {
					own := run(t, tt.sys.Status(n))
					if string(outs[i].Stdout) != string(own.Stdout) || outs[i].ExitCode != own.ExitCode {
						t.Errorf("%s: shared read %q (exit %d), own %q (exit %d)", n, outs[i].Stdout, outs[i].ExitCode, own.Stdout, own.ExitCode)
					}
					if _, err := tt.sys.ParseStatus(outs[i].Stdout, outs[i].ExitCode); err != nil {
						t.Errorf("%s: %v", n, err)
					}
				}
			})
		}
	}
	// A line of a service that was not asked for is an error, never
	// another service's state.
	if _, err := Group(OpenRC{}).Split(contract.CheckOutput{Stdout: []byte("svc.2.exists=yes\n")}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "unexpected") {
		t.Errorf("Split of a third service's line for two: %v", err)
	}
}
