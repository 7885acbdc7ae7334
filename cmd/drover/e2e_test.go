package main

// End-to-end tests: build the drover binary and run it as a user would,
// against this machine (connection "local") and against a fleet of real
// sshd hosts (integration.Start).

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// droverBin builds the command once per test binary.
func droverBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drover-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "drover")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type result struct {
	stdout, stderr string
	code           int
}

// drover runs the binary without a controlling terminal (so prompts read
// stdin) and with colour off by environment.
func drover(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return droverWith(t, stdin, nil, args...)
}

// droverWith is drover with extra environment variables (NAME=VALUE).
func droverWith(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(droverBin(t), args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir(), "SSH_AUTH_SOCK="), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running drover: %v", err)
	}
	return result{out.String(), errOut.String(), code}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const localInventory = `
host "l1" {
  connection = "local"
  vars = { role = "first", api_token = "tok-123" }
}
host "l2" {
  connection = "local"
  groups = ["odd"]
}
host "l3" {
  connection = "local"
  groups = ["odd"]
}
`

func TestCLIInventoryList(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	r := drover(t, "", "inventory", "list", "-i", inv)
	want := `HOST  ADDRESS  PORT  USER  CONNECTION  GROUPS
l1    -        -     root  local       ungrouped
l2    -        -     root  local       odd
l3    -        -     root  local       odd

3 hosts
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}

	r = drover(t, "", "inventory", "list", "-i", inv, "--vars", "l1:nosuch")
	if r.code != 0 || !strings.Contains(r.stdout, `role = "first"`) || !strings.Contains(r.stdout, "api_token = (sensitive)") {
		t.Errorf("--vars: exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "tok-123") {
		t.Errorf("a secret-looking variable was shown:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, `warning: no host or group matches "nosuch"`) {
		t.Errorf("no warning for an unmatched term: %q", r.stderr)
	}

	r = drover(t, "", "inventory", "list", "-i", inv, "--json", "odd")
	var hosts []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var h map[string]any
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		hosts = append(hosts, h)
	}
	if len(hosts) != 2 || hosts[0]["name"] != "l2" || hosts[0]["connection"] != "local" {
		t.Errorf("--json: %v", hosts)
	}
}

func TestCLIInventoryDiagnostics(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "bad.hcl", "host \"x\" {\n  port = \"abc\"\n}\n")
	r := drover(t, "", "inventory", "list", "-i", inv)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{`on ` + inv + ` line 2`, `port = "abc"`, inv + ":2:", "fix them"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "\x1b[") {
		t.Errorf("colour with NO_COLOR set:\n%q", r.stderr)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	for _, args := range [][]string{
		{"exec", "-i", inv, "all", "--"},
		{"exec", "-i", inv},
		{"exec", "-i", inv, "all", "--timeout", "soon", "--", "true"},
		{"ping", "-i", inv, "a", "b"},
		{"ping", "--bogus"},
		{"nosuchcommand"},
		{"ping", "all"}, // no inventory
	} {
		if r := drover(t, "", args...); r.code != 64 {
			t.Errorf("%q: exit %d, want 64 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if r := drover(t, "", "ping", "-i", inv, "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "no hosts selected") {
		t.Errorf("empty selection: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCLIExecLocal(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	r := drover(t, "", "exec", "-i", inv, "all", "--", "echo", "out;", "echo", "err", ">&2")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range []string{"l1", "l2", "l3"} {
		if !strings.Contains(r.stdout, h+" | ok | exit 0") {
			t.Errorf("no ok line for %s:\n%s", h, r.stdout)
		}
	}
	if strings.Count(r.stdout, "    out\n  stderr:\n    err\n") != 3 {
		t.Errorf("output blocks:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, ": 3 ok\n") {
		t.Errorf("recap:\n%s", r.stdout)
	}

	r = drover(t, "", "exec", "-i", inv, "odd", "--", "exit 3")
	if r.code != 1 || !strings.Contains(r.stdout, "l2 | failed | exit 3") || !strings.Contains(r.stdout, "0 ok, 2 failed") {
		t.Errorf("failing command: exit %d\n%s", r.code, r.stdout)
	}

	r = drover(t, "", "exec", "-i", inv, "l1", "--timeout", "200ms", "--", "sleep 5")
	if r.code != 1 || !strings.Contains(r.stdout, "l1 | failed | timeout") {
		t.Errorf("timeout: exit %d\n%s", r.code, r.stdout)
	}

	r = drover(t, "", "exec", "--json", "-i", inv, "l1", "--", "echo hi")
	events := parseEvents(t, r.stdout)
	kinds := []string{}
	for _, e := range events {
		kinds = append(kinds, e["kind"].(string))
	}
	if got := strings.Join(kinds, ","); got != "run_start,host_phase,connect,command,host_done,recap" {
		t.Errorf("event kinds %s", got)
	}
	if c := events[3]; c["stdout"] != "hi\n" || c["exit_code"] != 0.0 || c["status"] != "ok" {
		t.Errorf("command event %v", c)
	}
	if r.code != 0 {
		t.Errorf("exit %d", r.code)
	}
}

func parseEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var events []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		events = append(events, e)
	}
	return events
}

func TestCLIPingLocal(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	r := drover(t, "", "ping", "-i", inv, "localhost")
	if r.code != 0 || !strings.Contains(r.stdout, "localhost | ok | connect") || !strings.Contains(r.stdout, "| rtt ") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// interruptRun starts drover with --json, sends SIGINT once `connects`
// connect events have been printed, and returns the events and how long
// drover took to stop after the signal.
func interruptRun(t *testing.T, connects int, args ...string) (events []map[string]any, stopTime time.Duration) {
	t.Helper()
	cmd := exec.Command(droverBin(t), append([]string{"--json"}, args...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir(), "SSH_AUTH_SOCK=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	var sent time.Time
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), `"kind":"connect"`) {
			if connects--; connects == 0 {
				time.Sleep(300 * time.Millisecond) // let the commands start
				sent = time.Now()
				_ = cmd.Process.Signal(syscall.SIGINT)
			}
		}
	}
	err = cmd.Wait()
	if sent.IsZero() {
		t.Fatalf("never interrupted: %v\n%s\n%s", err, strings.Join(lines, "\n"), errOut.String())
	}
	stopTime = time.Since(sent)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130; stderr %s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "stopping") {
		t.Errorf("stderr %q", errOut.String())
	}
	return parseEvents(t, strings.Join(lines, "\n")), stopTime
}

// Ctrl-C: the running host is cut, the others never start, the recap says
// so and the exit status is 130.
func TestCLIInterrupt(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "hosts.hcl", localInventory)
	events, took := interruptRun(t, 1, "exec", "--forks", "1", "-i", inv, "all", "--", "sleep 30")
	if took > 10*time.Second {
		t.Errorf("took %v to stop", took)
	}
	checkInterruptRecap(t, events, 1, 2)
}

func checkInterruptRecap(t *testing.T, events []map[string]any, cancelled, notStarted float64) {
	t.Helper()
	recap := events[len(events)-1]
	counts, _ := recap["counts"].(map[string]any)
	if recap["kind"] != "recap" || recap["interrupted"] != true || counts["cancelled"] != cancelled || counts["not_started"] != notStarted {
		t.Errorf("recap %v, want %v cancelled and %v not started", recap, cancelled, notStarted)
	}
}

// fleetInventory writes an inventory of the fleet's hosts plus "dead", a
// host on a port where nothing listens.
func fleetInventory(t *testing.T, f *integration.Fleet) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile)
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "host %q {\n  address = %q\n  port = %d\n  groups = [\"fleet\"]\n}\n", h.Name, h.Addr, h.Port)
	}
	fmt.Fprintf(&b, "host \"dead\" {\n  address = \"127.0.0.1\"\n  port = %d\n  groups = [\"fleet\"]\n}\n", deadPort)
	return writeFile(t, t.TempDir(), "fleet.hcl", b.String())
}

func TestCLIFleet(t *testing.T) {
	f := integration.Start(t, 5)
	inv := fleetInventory(t, f)
	kh := []string{"--known-hosts", f.KnownHostsFile, "--connect-timeout", "5s"}

	r := drover(t, "", append([]string{"ping", "-i", inv}, kh...)...)
	if r.code != 1 || !strings.Contains(r.stdout, ": 5 ok, 1 unreachable\n") || !strings.Contains(r.stdout, "unreachable: dead (refused)") {
		t.Errorf("ping: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if !strings.Contains(r.stdout, h.Name+" | ok | connect ") {
			t.Errorf("ping: no ok line for %s", h.Name)
		}
	}

	// Each host answers with its own hostname: one connection per host.
	r = drover(t, "", append([]string{"exec", "-i", inv, "fleet:!dead"}, append(kh, "--", "hostname")...)...)
	if r.code != 0 {
		t.Fatalf("exec: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if !strings.Contains(r.stdout, h.Name+" | ok | exit 0") || !strings.Contains(r.stdout, "    "+h.Name+"\n") {
			t.Errorf("exec: no block for %s:\n%s", h.Name, r.stdout)
		}
	}

	// Ctrl-C over SSH stops within the grace periods even though the
	// remote commands would run for a minute.
	events, took := interruptRun(t, 2, append([]string{"exec", "-i", inv, "--forks", "2", "fleet:!dead"}, append(kh, "--", "sleep 60")...)...)
	if took > graceCut+graceClose+3*time.Second {
		t.Errorf("took %v to stop after Ctrl-C", took)
	}
	checkInterruptRecap(t, events, 2, 3)

	// A host whose key is not in known_hosts is refused, with a hint.
	empty := writeFile(t, t.TempDir(), "known_hosts", "")
	r = drover(t, "", "ping", "-i", inv, "--known-hosts", empty, f.Hosts[0].Name)
	if r.code != 1 || !strings.Contains(r.stdout, "unreachable | host-key-unknown") || !strings.Contains(r.stdout, "hint:") {
		t.Errorf("unknown host key: exit %d\n%s", r.code, r.stdout)
	}
}

// --become with -K: the password is read once (here from stdin, there being
// no terminal), sudo accepts it, and it never appears in the output.
func TestCLIFleetBecomePassword(t *testing.T) {
	f := integration.Start(t, 2)
	inv := fleetInventory(t, f)
	pw := integration.PasswordUserPassword
	args := []string{"exec", "-i", inv, "fleet:!dead", "--known-hosts", f.KnownHostsFile,
		// The host prints the password without it being on the command line.
		"-u", integration.PasswordUser, "--become", "-K", "--", "id -u; echo " + base64.StdEncoding.EncodeToString([]byte(pw)) + " | base64 -d; echo"}
	for _, jsonOut := range []bool{false, true} {
		a := args
		if jsonOut {
			a = append([]string{"--json"}, args...)
		}
		r := drover(t, pw+"\n", a...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, pw) || strings.Contains(r.stdout, `Pa55 '`) {
			t.Errorf("the become password appears in the output:\n%s", r.stdout)
		}
		if !jsonOut && strings.Count(r.stdout, "    0\n    ********\n") != 2 {
			t.Errorf("want uid 0 and a masked echo on both hosts:\n%s", r.stdout)
		}
	}
}
