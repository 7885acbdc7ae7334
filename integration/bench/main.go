// Command bench measures drover against Ansible on the real-sshd test fleet:
// the same 30-task workload (drover/site.hcl and ansible/site.yml beside
// this file) at 1, 10 and 50 hosts, a first run on fresh hosts and a run
// with nothing to change. It prints wall time, controller CPU, the hosts'
// CPU, the controller's peak memory and SSH round trips per host, and, when
// ansible-playbook is installed, the same for Ansible (tuned: pipelining,
// ControlPersist, forks = hosts, no fact gathering) with the ratio.
//
// It needs root (the fleet): sudo go run ./integration/bench, or make bench.
// See docs/speed.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// workloadTasks is the number of tasks (handler excluded) in both playbooks.
const workloadTasks = 30

func main() {
	sizes := flag.String("hosts", "1,10,50", "comma-separated fleet sizes")
	ansibleMax := flag.Int("ansible-max", 50, "largest fleet Ansible runs on (it is slow)")
	noAnsible := flag.Bool("no-ansible", false, "measure drover only")
	dir := flag.String("dir", "", "directory holding drover/ and ansible/ (default: beside this source file)")
	cpuprofile := flag.String("cpuprofile", "", "write CPU profiles of drover's runs (in process) to FILE.first and FILE.no-change")
	memprofile := flag.String("memprofile", "", "write heap profiles taken at the controller's largest live heap during each drover run to FILE.first and FILE.no-change")
	verbose := flag.Bool("v", false, "print drover's and Ansible's output")
	trace := flag.Bool("trace", false, "print every round trip drover makes to host1")
	dump := flag.String("dump", "", "write every command and stdin drover sends to host1 into DIR/<run>-NN.sh (implies -trace), to diff two trees' scripts")
	cli := flag.Bool("cli", false, "run drover as the `drover apply` binary (built from ./cmd/drover) in a child process: its own peak RSS and CPU, without the bench's fleet harness; round trips are not counted")
	flag.Parse()
	if *dir == "" {
		_, file, _, _ := runtime.Caller(0)
		*dir = filepath.Dir(file)
	}
	if err := integration.Available(false); err != nil {
		fmt.Fprintf(os.Stderr, "bench: the test fleet cannot run here: %v\n", err)
		os.Exit(2)
	}
	ansible, _ := exec.LookPath("ansible-playbook")
	if *noAnsible {
		ansible = ""
	}
	if ansible == "" {
		fmt.Fprintln(os.Stderr, "bench: drover rows only (ansible-playbook not found or -no-ansible; apt-get install ansible)")
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 8 << 10 // the default (512 KiB) samples too few objects for a 50 MB heap
	}
	b := &bench{dir: *dir, verbose: *verbose, trace: *trace || *dump != "", dump: *dump, memprofile: *memprofile, cpuprofile: *cpuprofile}
	if *cli {
		if *trace || *cpuprofile != "" || *memprofile != "" {
			fatal("-cli runs drover in another process: -trace, -cpuprofile and -memprofile need the in-process run")
		}
		bin, err := buildDrover(*dir)
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(filepath.Dir(bin))
		b.cli = bin
	}
	var rows []row
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-hosts: %q is not a fleet size", s))
		}
		dr, dman := b.drover(n)
		var ar []result
		var aman string
		if ansible != "" && n <= *ansibleMax {
			ar, aman = b.ansible(ansible, n)
		}
		for i, r := range dr {
			rw := row{hosts: n, run: r.run, drover: r}
			if i < len(ar) {
				rw.ansible = &ar[i]
			}
			rows = append(rows, rw)
		}
		if aman != "" {
			if aman == dman {
				fmt.Fprintf(os.Stderr, "bench: %d hosts: drover and Ansible left the same end state on host1 (%d manifest lines)\n", n, strings.Count(dman, "\n"))
			} else {
				fmt.Fprintf(os.Stderr, "bench: %d hosts: END STATES DIFFER on host1:\n%s", n, manifestDiff(dman, aman))
			}
		}
		printTable(os.Stdout, rows)
	}
	fmt.Printf("\n%d tasks + 1 handler per host; %s, %d cores, Go %s, %s\n", workloadTasks, cpuModel(), runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}

type bench struct {
	dir        string
	verbose    bool
	trace      bool
	memprofile string
	cpuprofile string
	cli        string // the drover binary, for -cli
	dump       string // -dump's directory
}

// tracer prints the round trips of a connection and, with dump set, writes
// each command and its stdin to a file of its own.
type tracer struct {
	transport.Conn
	dump string // directory, "" for none
	run  string
	n    *int
}

func (t tracer) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	var in bytes.Buffer
	if t.dump != "" && cmd.Stdin != nil {
		cmd.Stdin = io.TeeReader(cmd.Stdin, &in)
	}
	start := time.Now()
	res, err := t.Conn.Run(ctx, cmd)
	if t.dump != "" {
		*t.n++
		body := cmd.Command + "\n"
		if cmd.Stdin != nil {
			body += "#### stdin:\n" + in.String()
		}
		if werr := os.WriteFile(filepath.Join(t.dump, fmt.Sprintf("%s-%02d.sh", t.run, *t.n)), []byte(body), 0o644); werr != nil {
			fatal(werr)
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(cmd.Command), "\n")
	if cmd.Stdin != nil {
		first += " (+stdin)"
	}
	fmt.Fprintf(os.Stderr, "trace: run %6.1fms  %.100s\n", float64(time.Since(start).Microseconds())/1000, first)
	return res, err
}

func (t tracer) Put(ctx context.Context, p string, r io.Reader, opts transport.PutOptions) error {
	start := time.Now()
	err := t.Conn.Put(ctx, p, r, opts)
	if t.dump != "" {
		*t.n++
		if werr := os.WriteFile(filepath.Join(t.dump, fmt.Sprintf("%s-%02d.put", t.run, *t.n)), []byte(p+"\n"), 0o644); werr != nil {
			fatal(werr)
		}
	}
	fmt.Fprintf(os.Stderr, "trace: put %6.1fms  %s\n", float64(time.Since(start).Microseconds())/1000, p)
	return err
}

// result is one measured run.
type result struct {
	run      string // "first" or "no-change"
	wall     time.Duration
	ctlCPU   time.Duration
	hostCPU  time.Duration // all hosts together; -1 when not measured
	procs    float64       // processes started per host
	peakRSS  int64         // bytes; for Ansible the largest single process
	trips    float64       // per host; -1 when not counted
	changed  int           // tasks changed on host1 (a sanity check)
	failures string
}

type row struct {
	hosts   int
	run     string
	drover  result
	ansible *result
}

// drover runs the workload twice on a fresh fleet of n hosts, in process,
// and returns both runs and host1's end-state manifest.
func (b *bench) drover(n int) ([]result, string) {
	f := startFleet(n)
	defer f.Close()
	if b.cli != "" {
		return b.droverCLI(f), manifest(f)
	}
	p := hclparse.NewParser()
	inv, diags := inventory.Load([]string{f.InventoryFile()}, inventory.LoadOptions{Parser: p})
	if diags.HasErrors() {
		fatal(diags)
	}
	pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(b.dir, "drover", "site.hcl"))
	if diags.HasErrors() {
		fatal(diags)
	}
	in, diags := drun.ParseInputs(p, pb, nil, nil, nil)
	if diags.HasErrors() {
		fatal(diags)
	}
	var out []result
	for _, run := range []string{"first", "no-change"} {
		hostBefore := hostsUsage(f)
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		cpuBefore := selfCPU()
		var heap *heapPeak
		if b.memprofile != "" {
			heap = watchHeap()
		}
		if b.cpuprofile != "" {
			f, err := os.Create(b.cpuprofile + "." + run)
			if err != nil {
				fatal(err)
			}
			defer f.Close()
			pprof.StartCPUProfile(f)
		}
		start := time.Now()

		dialer := transport.NewDialer(transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true, ConnectTimeout: time.Minute})
		pool := connect.NewPool(dialer)
		var mu sync.Mutex
		var conns []transport.Conn
		// The terminal output drover apply prints, so that memory and CPU
		// are those of the command; shown with -v.
		var w io.Writer = io.Discard
		if b.verbose {
			w = os.Stderr
		}
		sink := report.NewTerminal(w, w, report.TerminalOptions{})
		res, err := drun.Apply(context.Background(), drun.Options{
			Playbook: pb, Inputs: in, Masker: report.NewMasker(), Sink: sink,
			Hosts: func(pat string) ([]*inventory.Host, error) { return inv.Select(pat) },
			Connect: func(ctx context.Context, h *inventory.Host, _ *drun.Become) (transport.Conn, error) {
				t, err := connect.Target(inv, h, nil)
				if err != nil {
					return nil, err
				}
				c, err := pool.Conn(ctx, t)
				if err == nil {
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
					if b.trace && h.Name == "host1" {
						st := c.Stats()
						fmt.Fprintf(os.Stderr, "trace: connect %.1fms, %d round trips (TCP connect, SSH handshake and authentication)\n",
							float64(st.ConnectTime.Microseconds())/1000, st.ConnectTrips)
						return tracer{Conn: c, dump: b.dump, run: run, n: new(int)}, nil
					}
				}
				return c, err
			},
		})
		var trips int64
		for _, c := range conns {
			trips += c.Stats().RoundTrips
		}
		pool.Close()
		dialer.Close()
		sink.Close()
		if heap != nil {
			heap.stop(b.memprofile + "." + run)
		}
		if b.cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		r := result{run: run, wall: time.Since(start), ctlCPU: selfCPU() - cpuBefore, peakRSS: peakRSS(), trips: float64(trips) / float64(n)}
		hostAfter := hostsUsage(f)
		r.hostCPU, r.procs = hostAfter.cpu-hostBefore.cpu, procsBetween(hostBefore, hostAfter, n)
		if err != nil {
			fatal(err)
		}
		if !res.Recap.OK() || len(res.Diagnostics) > 0 {
			r.failures = fmt.Sprintf("%+v %s", res.Recap.Counts(), res.Diagnostics)
			fmt.Fprintf(os.Stderr, "bench: drover %s run on %d hosts failed: %s\n", run, n, r.failures)
		}
		for _, h := range res.Recap.Hosts {
			if h.Host == "host1" {
				r.changed = h.Tasks.Changed
			}
		}
		out = append(out, r)
	}
	return out, manifest(f)
}

// droverCLI runs the workload twice with the drover binary in a child
// process, the way an operator runs it; the child's rusage gives its CPU and
// peak RSS, free of the fleet harness that lives in the bench process.
func (b *bench) droverCLI(f *integration.Fleet) []result {
	var out []result
	for _, run := range []string{"first", "no-change"} {
		cmd := exec.Command(b.cli, "apply", "--connect-timeout", "1m", "-i", f.InventoryFile(), filepath.Join(b.dir, "drover", "site.hcl"))
		out = append(out, b.child(f, "drover", run, cmd))
	}
	return out
}

// child runs one tool's run as cmd and measures it: wall time, the child's
// CPU and peak RSS (rusage, its waited-for children included), the hosts'
// CPU and the changed count of host1's recap line.
func (b *bench) child(f *integration.Fleet, tool, run string, cmd *exec.Cmd) result {
	hostBefore := hostsUsage(f)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	start := time.Now()
	err := cmd.Run()
	r := result{run: run, wall: time.Since(start), trips: -1}
	if ps := cmd.ProcessState; ps != nil {
		ru := ps.SysUsage().(*syscall.Rusage)
		r.ctlCPU = tv(ru.Utime) + tv(ru.Stime)
		r.peakRSS = ru.Maxrss << 10
	}
	if b.verbose {
		os.Stderr.Write(stdout.Bytes())
	}
	if err != nil {
		r.failures = err.Error()
		fmt.Fprintf(os.Stderr, "bench: %s %s run on %d hosts failed: %v\n%s", tool, run, len(f.Hosts), err, tail(stdout.String(), 3000))
	}
	r.changed = recapChanged(stdout.String(), "host1")
	hostAfter := hostsUsage(f)
	r.hostCPU, r.procs = hostAfter.cpu-hostBefore.cpu, procsBetween(hostBefore, hostAfter, len(f.Hosts))
	return r
}

// buildDrover builds cmd/drover of the module dir is in, into a temporary
// directory.
func buildDrover(dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "drover-bench-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "drover")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/drover")
	cmd.Dir = filepath.Join(dir, "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("building drover: %v\n%s", err, out)
	}
	return bin, nil
}

// ansible runs the Ansible workload twice on a fresh fleet of n hosts.
func (b *bench) ansible(bin string, n int) ([]result, string) {
	f := startFleet(n)
	defer f.Close()
	inv := f.AnsibleInventoryFile()
	dir := filepath.Join(b.dir, "ansible")
	var out []result
	for _, run := range []string{"first", "no-change"} {
		cmd := exec.Command(bin, "-i", inv, "-f", strconv.Itoa(n), "site.yml")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_NOCOLOR=1")
		out = append(out, b.child(f, "ansible", run, cmd))
	}
	return out, manifest(f)
}

// recapChanged reads "changed=N" from the recap line of host (drover's and
// Ansible's PLAY RECAP write it the same way).
func recapChanged(out, host string) int {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, host+" ") && strings.Contains(l, "changed=") {
			for _, f := range strings.Fields(l) {
				if v, ok := strings.CutPrefix(f, "changed="); ok {
					n, _ := strconv.Atoi(v)
					return n
				}
			}
		}
	}
	return -1
}

func startFleet(n int) *integration.Fleet {
	f, err := integration.New(n)
	if err != nil {
		fatal(err)
	}
	return f
}

// manifestScript lists what the workload manages on a host: type, mode,
// owner and content checksum of every path, the link target, the user and
// the group. Comment lines of the cron file are left out (each tool marks
// its entries its own way).
const manifestScript = `cd /
find /srv/bench /etc/cron.d/bench /etc/sysctl.d/60-bench.conf | sort | while read -r p; do
	printf '%s %s\n' "$p" "$(stat -c '%F %a %U %G' "$p")"
	if [ -L "$p" ]; then readlink "$p"
	elif [ -f "$p" ]; then
		case $p in
		/etc/cron.d/bench) grep -v '^#' "$p" | sha256sum ;;
		*) sha256sum <"$p" ;;
		esac
	fi
done
getent passwd benchsvc | cut -d: -f1,3-
getent group benchgrp | cut -d: -f1,3
`

func manifest(f *integration.Fleet) string {
	out, err := f.Hosts[0].Run(manifestScript)
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}

func manifestDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	in := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	var d strings.Builder
	for _, l := range al {
		if !in(bl, l) {
			fmt.Fprintf(&d, "  drover only:  %s\n", l)
		}
	}
	for _, l := range bl {
		if !in(al, l) {
			fmt.Fprintf(&d, "  ansible only: %s\n", l)
		}
	}
	return d.String()
}

func printTable(w *os.File, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "hosts\trun\tdrover wall\tansible wall\tansible/drover\tdrover ctl CPU\tansible ctl CPU\tdrover host CPU\tansible host CPU\tdrover procs/host\tdrover peak RSS\tround trips/host\tchanged (host1) d/a\t")
	for _, r := range rows {
		aw, ratio, acpu, ahost, ach := "-", "-", "-", "-", "-"
		if a := r.ansible; a != nil {
			aw = secs(a.wall)
			ratio = fmt.Sprintf("%.0fx", a.wall.Seconds()/r.drover.wall.Seconds())
			acpu = secs(a.ctlCPU)
			ahost = secs(a.hostCPU)
			ach = strconv.Itoa(a.changed)
		}
		trips := "-"
		if r.drover.trips >= 0 {
			trips = fmt.Sprintf("%.1f", r.drover.trips)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f MB\t%s\t%d/%s\t\n", r.hosts, r.run,
			secs(r.drover.wall), aw, ratio, secs(r.drover.ctlCPU), acpu, secs(r.drover.hostCPU), ahost,
			r.drover.procs, float64(r.drover.peakRSS)/1e6, trips, r.drover.changed, ach)
	}
	tw.Flush()
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func fatal(err any) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}
