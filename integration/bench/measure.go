// Measurements: the hosts' and the controller's CPU, peak heap and RSS.

package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover-cm/drover/integration"
)

// usage is what the hosts spent so far, summed over the hosts.
type usage struct {
	cpu time.Duration
	// pids is the sum of each host's last allocated PID (ns_last_pid):
	// PIDs are handed out in order, so the difference between two readings
	// is the number of processes (and threads) started in between, less
	// the ones the readings themselves start (usageProcs).
	pids int64
}

// usageProcs is the processes one reading starts on each host before the
// PID it reads: the shell nsenter runs and its cat.
const usageProcs = 2

// procsBetween is the number of processes started on each host, on
// average, between the readings a and b.
func procsBetween(a, b usage, hosts int) float64 {
	return float64(b.pids-a.pids)/float64(hosts) - usageProcs
}

// hostsUsage reads the CPU time used so far by every process that ran on
// the hosts (the sum, over the processes alive in each host's PID
// namespace, of their own and their reaped children's times: a process that
// ended was reaped by its parent, which holds its times, so everything is
// counted once, sshd sessions still open included) and the hosts' last PIDs.
func hostsUsage(f *integration.Fleet) usage {
	time.Sleep(200 * time.Millisecond) // let sshd reap the sessions just closed
	var total usage
	var mu sync.Mutex
	var wg sync.WaitGroup
	// A few readers at once: each is an nsenter, and a thousand at once
	// would only queue on the cores.
	slots := make(chan struct{}, 4*runtime.NumCPU())
	for _, h := range f.Hosts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// One cat, whose own PID is the last allocated when it reads
			// ns_last_pid (the shell's read builtin reads a byte at a time,
			// which a sysctl file does not support).
			out, err := h.Run("cat /proc/sys/kernel/ns_last_pid /proc/[0-9]*/stat 2>/dev/null; true")
			if err != nil {
				return
			}
			first, _, _ := strings.Cut(out, "\n")
			pids, _ := strconv.ParseInt(first, 10, 64)
			var ticks int64
			for _, l := range strings.Split(out, "\n") {
				// Fields after the ")" that ends comm: utime is the 14th field.
				i := strings.LastIndexByte(l, ')')
				if i < 0 {
					continue
				}
				fs := strings.Fields(l[i+1:])
				if len(fs) < 15 {
					continue
				}
				for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
					v, _ := strconv.ParseInt(fs[k], 10, 64)
					ticks += v
				}
			}
			mu.Lock()
			total.cpu += time.Duration(ticks) * time.Second / 100 // USER_HZ
			total.pids += pids
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tv(ru.Utime) + tv(ru.Stime)
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// heapPeak samples the live heap every few milliseconds during a run and
// keeps a heap profile taken when it was largest: a profile written after
// the run would show only what survived it.
type heapPeak struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
	prof bytes.Buffer
	// maxMapped is the most memory the runtime held from the OS (less
	// what it returned), classes its breakdown then.
	maxMapped  uint64
	classes    string
	goroutines bytes.Buffer
}

func mb(s metrics.Sample) float64 { return float64(s.Value.Uint64()) / 1e6 }

func watchHeap() *heapPeak {
	h := &heapPeak{done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		// Live heap as of the last GC, the moment the heap profile
		// describes; and the runtime's memory by class, at its largest.
		names := []string{"/gc/heap/live:bytes", "/memory/classes/total:bytes", "/memory/classes/heap/released:bytes",
			"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/free:bytes",
			"/memory/classes/heap/stacks:bytes", "/sched/goroutines:goroutines"}
		sample := make([]metrics.Sample, len(names))
		for i, n := range names {
			sample[i].Name = n
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.max {
				h.max = v
				h.prof.Reset()
				pprof.Lookup("heap").WriteTo(&h.prof, 0)
			}
			if v := sample[1].Value.Uint64() - sample[2].Value.Uint64(); v > h.maxMapped {
				h.maxMapped = v
				h.goroutines.Reset()
				pprof.Lookup("goroutine").WriteTo(&h.goroutines, 1)
				h.classes = fmt.Sprintf("heap objects %.1f MB (live at last GC %.1f), unused %.1f, free %.1f, goroutine stacks %.1f MB (%d goroutines)",
					mb(sample[3]), mb(sample[0]), mb(sample[4]), mb(sample[5]), mb(sample[6]), sample[7].Value.Uint64())
			}
		}
	}()
	return h
}

// stop ends the sampling and writes the profile of the peak.
func (h *heapPeak) stop(file string) {
	close(h.done)
	h.wg.Wait()
	fmt.Fprintf(os.Stderr, "bench: largest live heap %.1f MB; profile in %s (goroutines then: %[2]s.goroutines)\n", float64(h.max)/1e6, file)
	fmt.Fprintf(os.Stderr, "bench: the Go runtime held at most %.1f MB: %s\n", float64(h.maxMapped)/1e6, h.classes)
	if err := os.WriteFile(file, h.prof.Bytes(), 0o644); err != nil {
		fatal(err)
	}
	if err := os.WriteFile(file+".goroutines", h.goroutines.Bytes(), 0o644); err != nil {
		fatal(err)
	}
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
