package integration_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
)

// BenchmarkPing50 is `drover ping` over 50 hosts in-process: read the
// inventory, then per iteration dial every host afresh (new connector, new
// pool: no connection reuse), run `true` on each, and close. It reports the
// wall time per fleet-wide ping, the controller's CPU time per ping (user +
// system; the hosts' sshd processes are not counted) and its memory: the
// peak Go heap sampled during the run and the process's peak RSS (VmHWM).
func BenchmarkPing50(b *testing.B) {
	const n = 50
	f := integration.Start(b, n)
	targets := fleetTargets(b, f)
	opts := transport.Options{KnownHostsFile: f.KnownHostsFile, ConnectTimeout: 20 * time.Second}

	var peakHeap atomic.Uint64
	stop := sampleHeap(&peakHeap)
	defer stop()

	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		dialer := transport.NewDialer(opts)
		pool := connect.NewPool(dialer)
		out := fanout.Run(context.Background(), targets, 0, func(ctx context.Context, t transport.Target) error {
			conn, err := pool.Conn(ctx, t)
			if err != nil {
				return err
			}
			res, err := conn.Run(ctx, transport.Cmd{Command: "true"})
			if err == nil && res.ExitCode != 0 {
				err = fmt.Errorf("true exited %d: %s", res.ExitCode, res.Stderr)
			}
			return err
		})
		_ = pool.Close()
		_ = dialer.Close()
		for i, o := range out {
			if o.Err != nil {
				b.Fatalf("%s: %v", targets[i].Name, o.Err)
			}
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "ctl-cpu-ms/op")
	b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MB")
	if hwm, err := vmHWM(); err == nil {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	} else {
		b.Logf("peak RSS: %v", err)
	}
}

// fleetTargets maps the fleet through an HCL inventory, as the CLI does.
func fleetTargets(tb testing.TB, f *integration.Fleet) []transport.Target {
	tb.Helper()
	var src strings.Builder
	fmt.Fprintf(&src, "defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile)
	for _, h := range f.Hosts {
		fmt.Fprintf(&src, "host %q {\n  address = %q\n  port = %d\n}\n", h.Name, h.Addr, h.Port)
	}
	path := filepath.Join(tb.TempDir(), "fleet.hcl")
	if err := os.WriteFile(path, []byte(src.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	inv, diags := inventory.Load([]string{path}, inventory.LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() {
		tb.Fatal(diags.Error())
	}
	var targets []transport.Target
	for _, h := range inv.Hosts() {
		t, err := connect.Target(inv, h, nil)
		if err != nil {
			tb.Fatal(err)
		}
		targets = append(targets, t)
	}
	return targets
}

// sampleHeap records the largest HeapInuse seen, every 5ms, until stop.
// (runtime.MemStats keeps no peak of its own.)
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM is the process's peak resident set size, from /proc/self/status.
func vmHWM() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			fields := strings.Fields(rest) // "12345 kB"
			if len(fields) == 2 && fields[1] == "kB" {
				kb, err := strconv.ParseUint(fields[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM line in /proc/self/status")
}
