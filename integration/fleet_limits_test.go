package integration

import (
	"strings"
	"testing"
)

func TestLimitsCheck(t *testing.T) {
	ok := limits{nofileSoft: 20000, nofileHard: 20000, pidMax: 32768, pidsInUse: 800, memAvailable: 20 << 30}
	for _, tc := range []struct {
		name string
		l    limits
		n    int
		want string // "" for no error; else a piece of the message
	}{
		{"1000 hosts fit", ok, 1000, ""},
		{"unknown limits pass", limits{}, 1000, ""},
		{"open files", limits{nofileSoft: 1024, nofileHard: 4096}, 1000, "ulimit -n 3256"},
		{"pids", limits{pidMax: 32768, pidsInUse: 30000}, 1000, "sysctl -w kernel.pid_max="},
		{"memory", limits{memAvailable: 1 << 30}, 1000, "needs about 4000 MB"},
		{"ports", limits{}, 7000, "start at most 6000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.check(tc.n)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("check(%d) = %v, want nil", tc.n, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("check(%d) = %v, want an error with %q", tc.n, err, tc.want)
			}
		})
	}
}
