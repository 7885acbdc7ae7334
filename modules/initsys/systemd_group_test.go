package initsys

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
)

// fakeSystemctl is a systemctl that answers show for units named ok-* and
// refuses the whole call when any other is asked.
const fakeSystemctl = `#!/bin/sh
shift; while [ "$1" != -- ]; do shift; done; shift
for u; do case $u in ok-*) ;; *) echo "Unit name $u is not valid." >&2; exit 1;; esac; done
first=1
for u; do
  [ $first = 1 ] || echo
  first=0
  printf 'LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\nX=%s\n' "$u"
done
`

func TestSystemdStatusGroup(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(units []string) contract.CheckOutput {
		cmd := exec.Command("sh", "-c", SystemdStatus{}.Check(units))
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return contract.CheckOutput{Stdout: out, Stderr: []byte(stderr.String()), ExitCode: code}
	}
	tests := []struct {
		name  string
		units []string
		codes []int // 0: its own block, X=unit
	}{
		{"one", []string{"ok-a"}, []int{0}},
		{"several", []string{"ok-a", "ok-b", "ok-c"}, []int{0, 0, 0}},
		{"one refused fails only its own", []string{"ok-a", "bad$'name", "ok-c"}, []int{0, 1, 0}},
		{"all refused", []string{"bad-1", "bad-2"}, []int{1, 1}},
		{"one refused alone", []string{"bad-1"}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outs, err := SystemdStatus{}.Split(run(tt.units), tt.units)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range outs {
				if o.ExitCode != tt.codes[i] {
					t.Errorf("unit %s: exit %d, want %d", tt.units[i], o.ExitCode, tt.codes[i])
				}
				st, perr := Systemd{}.ParseStatus(o.Stdout, o.ExitCode)
				if tt.codes[i] != 0 {
					if perr == nil {
						t.Errorf("unit %s: a failed read parses", tt.units[i])
					}
					continue
				}
				if perr != nil || !st.Active || !st.Enabled || !strings.Contains(string(o.Stdout), "X="+tt.units[i]+"\n") {
					t.Errorf("unit %s: %q → %+v %v", tt.units[i], o.Stdout, st, perr)
				}
			}
		})
	}
	// Output that does not fit the units is an error, never a shifted block.
	for _, bad := range []contract.CheckOutput{
		{Stdout: []byte("LoadState=loaded\n")},
		{Stdout: []byte("@per-unit\n@exit 0\nLoadState=loaded\n")},
		{Stdout: []byte("@per-unit\n@exit x\n\n@exit 0\n\n")},
		{ExitCode: 2},
	} {
		if _, err := (SystemdStatus{}).Split(bad, []string{"a", "b"}); err == nil {
			t.Errorf("Split(%q, 2 units): no error", bad.Stdout)
		}
	}
}
