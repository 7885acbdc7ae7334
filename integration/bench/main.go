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
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	sizes := flag.String("hosts", "1,10,50,200,1000", "comma-separated fleet sizes")
	ansibleMax := flag.Int("ansible-max", 10, "largest fleet Ansible runs on (it takes about 9 minutes a run at 50 hosts)")
	noAnsible := flag.Bool("no-ansible", false, "leave Ansible out")
	spotBin := flag.String("spot", "", "the spot binary (github.com/umputun/spot; default: spot in PATH, if there)")
	spotMax := flag.Int("spot-max", 1000, "largest fleet spot runs on")
	noSpot := flag.Bool("no-spot", false, "leave spot out")
	forks := flag.Int("forks", 0, "drover's --forks (0: its default)")
	writeDocFlag := flag.Bool("write-doc", false, "rewrite the results in docs/speed.md (between its markers) when done")
	dir := flag.String("dir", "", "directory holding drover/, spot/ and ansible/ (default: beside this source file)")
	cpuprofile := flag.String("cpuprofile", "", "write CPU profiles of drover's runs to FILE.first and FILE.no-change")
	memprofile := flag.String("memprofile", "", "write heap profiles taken at the controller's largest live heap during each drover run to FILE.first and FILE.no-change")
	verbose := flag.Bool("v", false, "print every tool's output")
	trace := flag.Bool("trace", false, "print every round trip drover makes to host1")
	dump := flag.String("dump", "", "write every command and stdin drover sends to host1 into DIR/<run>-NN.sh (implies -trace), to diff two trees' scripts")
	cli := flag.Bool("cli", false, "run drover as the `drover apply` binary (built from ./cmd/drover) instead of the bench's own child process running drover's engine; round trips are not counted")
	childRun := flag.String("child-run", "", "(internal) run drover once in this process: the run's name")
	childInv := flag.String("child-inventory", "", "(internal) the fleet's inventory file")
	childOut := flag.String("child-result", "", "(internal) where the child writes its result")
	flag.Parse()
	if *dir == "" {
		_, file, _, _ := runtime.Caller(0)
		*dir = filepath.Dir(file)
	}
	b := &bench{dir: *dir, verbose: *verbose, trace: *trace || *dump != "", dump: *dump, memprofile: *memprofile, cpuprofile: *cpuprofile, forks: *forks}
	if *childRun != "" {
		b.childApply(*childRun, *childInv, *childOut)
		return
	}
	if err := integration.Available(false); err != nil {
		fmt.Fprintf(os.Stderr, "bench: the test fleet cannot run here: %v\n", err)
		os.Exit(2)
	}
	ansible, _ := exec.LookPath("ansible-playbook")
	ansibleWhy := "not installed"
	if *noAnsible {
		ansible, ansibleWhy = "", "left out (-no-ansible)"
	}
	if ansible == "" {
		fmt.Fprintf(os.Stderr, "bench: no Ansible rows: %s (ansible-playbook; apt-get install ansible)\n", ansibleWhy)
	}
	spot := *spotBin
	spotWhy := "not installed"
	if spot == "" {
		spot, _ = exec.LookPath("spot")
	} else if _, err := exec.LookPath(spot); err != nil {
		fatal(fmt.Errorf("-spot %s: %w", spot, err))
	}
	if *noSpot {
		spot, spotWhy = "", "left out (-no-spot)"
	}
	if spot == "" {
		fmt.Fprintf(os.Stderr, "bench: no spot rows: %s (spot, github.com/umputun/spot; -spot PATH)\n", spotWhy)
	}
	if *cli {
		if *trace || *cpuprofile != "" || *memprofile != "" {
			fatal("-cli runs the drover binary: -trace, -cpuprofile and -memprofile need the bench's own child")
		}
		bin, err := buildDrover(*dir)
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(filepath.Dir(bin))
		b.cli = bin
	} else {
		self, err := os.Executable()
		if err != nil {
			fatal(err)
		}
		b.self = self
	}
	began := time.Now()
	loadMin, loadMax := loadAvg(), loadAvg()
	var rows []row
	var notes []string
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("-hosts: %q is not a fleet size", s))
		}
		first := row{hosts: n, run: "first", tools: map[string]cell{}}
		again := row{hosts: n, run: "no change", tools: map[string]cell{}}
		add := func(tool string, rs []result, why string) {
			if len(rs) < 2 {
				first.tools[tool], again.tools[tool] = cell{reason: why}, cell{reason: why}
				return
			}
			first.tools[tool], again.tools[tool] = cell{r: &rs[0]}, cell{r: &rs[1]}
		}
		dr, dman, up, err := b.drover(n)
		if err != nil {
			add("drover", nil, "the fleet did not start")
			fmt.Fprintf(os.Stderr, "bench: %d hosts: %v\n", n, err)
		} else {
			notes = append(notes, fmt.Sprintf("%d hosts in %s", n, secs(up)))
			add("drover", dr, "")
		}
		switch {
		case spot == "":
			add("spot", nil, spotWhy)
		case n > *spotMax:
			add("spot", nil, fmt.Sprintf("skipped above %d hosts (-spot-max)", *spotMax))
		default:
			sr, sman, err := b.spot(spot, n)
			if err != nil {
				add("spot", nil, "the fleet did not start")
				fmt.Fprintf(os.Stderr, "bench: %d hosts: %v\n", n, err)
			} else {
				add("spot", sr, "")
				compareManifests(n, "spot", dman, sman)
			}
		}
		switch {
		case ansible == "":
			add("Ansible", nil, ansibleWhy)
		case n > *ansibleMax:
			add("Ansible", nil, fmt.Sprintf("skipped above %d hosts (-ansible-max)", *ansibleMax))
		default:
			ar, aman, err := b.ansible(ansible, n)
			if err != nil {
				add("Ansible", nil, "the fleet did not start")
				fmt.Fprintf(os.Stderr, "bench: %d hosts: %v\n", n, err)
			} else {
				add("Ansible", ar, "")
				compareManifests(n, "Ansible", dman, aman)
			}
		}
		rows = append(rows, first, again)
		l := loadAvg()
		loadMin, loadMax = min(loadMin, l), max(loadMax, l)
		fmt.Print("\n" + markdownTable(rows))
	}
	took := time.Since(began)
	summary := fmt.Sprintf("%d tasks + 1 handler per host; %s, %d cores, Go %s; %s UTC, %s in all, load average %.1f–%.1f; fleet start-up (not in the table): %s",
		workloadTasks, cpuModel(), runtime.NumCPU(), runtime.Version(), began.UTC().Format("2006-01-02 15:04"), took.Round(time.Second), loadMin, loadMax, strings.Join(notes, ", "))
	fmt.Printf("\n%s\n", summary)
	if *writeDocFlag {
		doc := filepath.Join(*dir, "..", "..", "docs", "speed.md")
		gen := fmt.Sprintf("\n`make bench`: %s.\n\n%s\n", summary, markdownTable(rows))
		if err := writeDoc(doc, gen); err != nil {
			fatal(err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote the results into %s\n", doc)
	}
}

// compareManifests says whether tool left the same end state on host1 as
// drover did.
func compareManifests(n int, tool, dman, man string) {
	if man == dman {
		fmt.Fprintf(os.Stderr, "bench: %d hosts: drover and %s left the same end state on host1 (%d manifest lines)\n", n, tool, strings.Count(dman, "\n"))
	} else {
		fmt.Fprintf(os.Stderr, "bench: %d hosts: END STATES DIFFER on host1 (drover, %s):\n%s", n, tool, manifestDiff(dman, man))
	}
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

type bench struct {
	dir        string
	verbose    bool
	trace      bool
	memprofile string
	cpuprofile string
	cli        string // the drover binary, for -cli
	self       string // this program, run as the child that runs drover
	dump       string // -dump's directory
	forks      int    // drover's --forks
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

// drover runs the workload twice on a fresh fleet of n hosts and returns
// both runs, host1's end-state manifest and how long the fleet took to start.
// Each run is a child process, this program again with -child-run (or the
// drover binary with -cli), so that its CPU and peak RSS are the
// controller's alone, without the fleet harness that lives in this process.
func (b *bench) drover(n int) ([]result, string, time.Duration, error) {
	f, up, err := startFleet(n)
	if err != nil {
		return nil, "", 0, err
	}
	defer f.Close()
	var out []result
	for _, run := range []string{"first", "no change"} {
		if b.cli != "" {
			args := []string{"apply", "--connect-timeout", "1m", "--forks", strconv.Itoa(b.forks), "-i", f.InventoryFile(), filepath.Join(b.dir, "drover", "site.hcl")}
			out = append(out, b.child(f, "drover", run, exec.Command(b.cli, args...)))
			continue
		}
		resFile := filepath.Join(f.Dir, "bench-result.json")
		args := []string{"-child-run", run, "-child-inventory", f.InventoryFile(), "-child-result", resFile, "-dir", b.dir, "-forks", strconv.Itoa(b.forks)}
		if b.verbose {
			args = append(args, "-v")
		}
		if b.trace {
			args = append(args, "-trace")
		}
		if b.dump != "" {
			args = append(args, "-dump", b.dump)
		}
		if b.cpuprofile != "" {
			args = append(args, "-cpuprofile", b.cpuprofile)
		}
		if b.memprofile != "" {
			args = append(args, "-memprofile", b.memprofile)
		}
		cmd := exec.Command(b.self, args...)
		cmd.Stderr = os.Stderr // trace and profile messages
		r := b.child(f, "drover", run, cmd)
		var cr childResult
		if data, err := os.ReadFile(resFile); err != nil || json.Unmarshal(data, &cr) != nil {
			r.failures = fmt.Sprintf("the child left no result (%v)", err)
		} else {
			r.trips, r.changed = cr.Trips, cr.Changed
			if cr.Failures != "" {
				r.failures = cr.Failures
				fmt.Fprintf(os.Stderr, "bench: drover %s run on %d hosts failed: %s\n", run, n, cr.Failures)
			}
		}
		out = append(out, r)
	}
	return out, manifest(f), up, nil
}

// childResult is what the child running drover tells the bench.
type childResult struct {
	Trips    float64 // per host
	Changed  int     // tasks changed on host1
	Failures string
}

// childApply is the child: one drover run in process (engine/run.Apply, the
// code of drover apply) against the fleet's inventory, counting round trips
// with drover's transport; the result goes to the file out.
func (b *bench) childApply(run, invFile, out string) {
	if b.memprofile != "" {
		runtime.MemProfileRate = 8 << 10 // the default (512 KiB) samples too few objects for a 50 MB heap
	}
	p := hclparse.NewParser()
	inv, diags := inventory.Load([]string{invFile}, inventory.LoadOptions{Parser: p})
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
	file := strings.ReplaceAll(run, " ", "-") // profile and dump names
	var heap *heapPeak
	if b.memprofile != "" {
		heap = watchHeap()
	}
	if b.cpuprofile != "" {
		f, err := os.Create(b.cpuprofile + "." + file)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	// The fleet's known_hosts is beside its inventory.
	knownHosts := filepath.Join(filepath.Dir(invFile), "known_hosts")
	dialer := transport.NewDialer(transport.Options{KnownHostsFile: knownHosts, NoAgent: true, ConnectTimeout: time.Minute})
	pool := connect.NewPool(dialer)
	var mu sync.Mutex
	var conns []transport.Conn
	// The terminal output drover apply prints, so that memory and CPU are
	// those of the command; shown with -v.
	var w io.Writer = io.Discard
	if b.verbose {
		w = os.Stdout
	}
	sink := report.NewTerminal(w, w, report.TerminalOptions{})
	res, err := drun.Apply(context.Background(), drun.Options{
		Playbook: pb, Inputs: in, Masker: report.NewMasker(), Sink: sink, Forks: b.forks,
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
					return tracer{Conn: c, dump: b.dump, run: file, n: new(int)}, nil
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
		heap.stop(b.memprofile + "." + file)
	}
	if b.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fatal(err)
	}
	cr := childResult{Trips: float64(trips) / float64(len(res.Recap.Hosts)), Changed: -1}
	if !res.Recap.OK() || len(res.Diagnostics) > 0 {
		cr.Failures = fmt.Sprintf("%+v %s", res.Recap.Counts(), res.Diagnostics)
	}
	for _, h := range res.Recap.Hosts {
		if h.Host == "host1" {
			cr.Changed = h.Tasks.Changed
		}
	}
	data, _ := json.Marshal(cr)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		fatal(err)
	}
}

// child runs one tool's run as cmd and measures it: wall time, the child's
// CPU and peak RSS (rusage, its waited-for children included), the hosts'
// CPU and processes, and the changed count of host1's recap line.
func (b *bench) child(f *integration.Fleet, tool, run string, cmd *exec.Cmd) result {
	hostBefore := hostsUsage(f)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if cmd.Stderr == nil {
		cmd.Stderr = &stdout
	}
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
func (b *bench) ansible(bin string, n int) ([]result, string, error) {
	f, _, err := startFleet(n)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	inv := f.AnsibleInventoryFile()
	dir := filepath.Join(b.dir, "ansible")
	var out []result
	for _, run := range []string{"first", "no change"} {
		cmd := exec.Command(bin, "-i", inv, "-f", strconv.Itoa(n), "site.yml")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"), "ANSIBLE_NOCOLOR=1")
		out = append(out, b.child(f, "ansible", run, cmd))
	}
	return out, manifest(f), nil
}

// spot runs spot's playbook (spot/spot.yml) twice on a fresh fleet of n
// hosts, all hosts at once (-c n). Spot has no no-change mode: its second
// run ("again") runs every command again. Spot does not check host keys
// (it accepts any: no known_hosts option), so it is given none. The
// manifest is taken after the first run: the second appends its blind
// handler's line to the log once more.
func (b *bench) spot(bin string, n int) ([]result, string, error) {
	f, _, err := startFleet(n)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	inv := spotInventory(f)
	dir := filepath.Join(b.dir, "spot")
	var out []result
	var man string
	for _, run := range []string{"first", "again"} {
		cmd := exec.Command(bin, "-p", "spot.yml", "-i", inv, "-t", "all", "-k", f.KeyFile, "-c", strconv.Itoa(n), "--timeout", "1m", "--no-color")
		cmd.Dir = dir
		r := b.child(f, "spot", run, cmd)
		r.changed = -1 // spot does not count changes
		out = append(out, r)
		if man == "" {
			man = manifest(f)
		}
	}
	return out, man, nil
}

// spotInventory writes the fleet as a spot inventory (YAML) and returns its
// path: host names as in drover's inventory, so {SPOT_REMOTE_NAME} is
// "host1"…
func spotInventory(f *integration.Fleet) string {
	var s strings.Builder
	s.WriteString("hosts:\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&s, "  - {host: %q, port: %d, name: %q, user: root}\n", h.Addr, h.Port, h.Name)
	}
	p := filepath.Join(f.Dir, "spot-inventory.yml")
	if err := os.WriteFile(p, []byte(s.String()), 0o644); err != nil {
		fatal(err)
	}
	return p
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

// startFleet starts n hosts and says how long they took to come up (not
// part of any run's figures). A fleet that does not start (a limit of the
// machine, said by the harness) costs that tool its rows, not the bench.
func startFleet(n int) (*integration.Fleet, time.Duration, error) {
	begin := time.Now()
	f, err := integration.New(n)
	if err != nil {
		return nil, 0, fmt.Errorf("the fleet did not start: %w", err)
	}
	up := time.Since(begin)
	fmt.Fprintf(os.Stderr, "bench: fleet of %d hosts up in %s\n", n, secs(up))
	return f, up, nil
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
