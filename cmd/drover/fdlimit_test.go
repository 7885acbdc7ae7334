package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestForksWithin(t *testing.T) {
	for _, tc := range []struct {
		soft    uint64
		want    int
		got     int
		lowered bool
	}{
		{soft: 20000, want: 500, got: 500},
		{soft: 1024, want: 10, got: 10},
		{soft: 1024, want: 500, got: 240, lowered: true},
		{soft: 1024, want: 240, got: 240},
		{soft: 256, want: 100, got: 48, lowered: true},
		{soft: 60, want: 5, got: 1, lowered: true},
		{soft: 60, want: 1, got: 1},
		{soft: 1 << 40, want: 500, got: 500},
	} {
		got, lowered := forksWithin(tc.soft, tc.want)
		if got != tc.got || lowered != tc.lowered {
			t.Errorf("forksWithin(%d, %d) = %d, %v; want %d, %v", tc.soft, tc.want, got, lowered, tc.got, tc.lowered)
		}
	}
}

// TestBoundForksRaisesLimit: under an open-file limit of 128 (soft and
// hard), a run over 100 hosts needs 464 descriptors. Root raises both limits
// to that and keeps --forks; without CAP_SYS_RESOURCE (not root, or root
// in a container that drops it) the hard limit cannot be raised, so
// forks are lowered with a warning. It runs in a child process, whose limits
// it may change.
func TestBoundForksRaisesLimit(t *testing.T) {
	if os.Getenv("DROVER_TEST_BOUNDFORKS") == "1" {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 128, Max: 128}); err != nil {
			t.Fatal(err)
		}
		var errs bytes.Buffer
		global.forks = 0
		boundForks(&ui{stdout: io.Discard, stderr: &errs}, 100)
		var rl syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		fmt.Printf("forks=%d soft=%d hard=%d warning=%q\n", global.forks, rl.Cur, rl.Max, errs.String())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBoundForksRaisesLimit$")
	cmd.Env = append(os.Environ(), "DROVER_TEST_BOUNDFORKS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := `forks=0 soft=464 hard=464 warning=""`
	if !hasCapSysResource(t) {
		want = "forks=16 soft=128 hard=128 warning=\"warning: the open-file limit (ulimit -n) is 128 and may not be raised by this user: working on 16 hosts at once instead of 100;"
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("child said:\n%s\nwant %s", out, want)
	}
}

// hasCapSysResource reports whether this process may raise its hard limits.
func hasCapSysResource(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<24) != 0 // CAP_SYS_RESOURCE
		}
	}
	t.Skip("no CapEff in /proc/self/status")
	return false
}
