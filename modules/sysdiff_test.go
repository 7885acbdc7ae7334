package modules

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules/contract"
)

// The system modules' Diff tests: canned Check output in, the rendered plan
// (changes, uploads, scripts) and the Check fragment out, compared with
// golden files in testdata/<module>/. `go test ./modules -run 'Test(User|
// Group|Cron|Sysctl|Download|Archive|Git|WaitFor)Diff' -update` rewrites them.

type sysCase struct {
	name   string
	values cty.Value
	dir    string // Config.Dir
	out    string // the Check fragment's stdout
}

// stableRun replaces this run's id (transport.RunID, in the stale-temporary
// sweeps of check scripts and in safeFS's staging names) with RUN, so that
// golden files do not change from one run to the next.
func stableRun(s string) string { return strings.ReplaceAll(s, transport.RunID(), "RUN") }

func runSysDiff(t *testing.T, m contract.Module, goldenDir string, cases []sysCase) {
	t.Helper()
	old := tempSuffix
	tempSuffix = func() string { return "TMP" }
	t.Cleanup(func() { tempSuffix = old })
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			task, err := m.Configure(contract.Config{Values: c.values, Dir: c.dir})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			out := contract.CheckOutput{Stdout: []byte(c.out)}
			var got strings.Builder
			got.WriteString("check:\n" + indent(strings.Replace(task.Check(), safeFS, "[safeFS]\n", 1), "  $ "))
			plan, err := task.Diff(out)
			if err != nil {
				got.WriteString("error: " + err.Error() + "\n")
			} else {
				got.WriteString(renderPlan(t, plan))
			}
			if r, ok := task.(contract.Relations); ok {
				for _, p := range r.Provides() {
					got.WriteString("provides " + p.Kind + " " + p.Name + "\n")
				}
				for _, u := range r.Uses() {
					got.WriteString("uses " + u.Kind + " " + u.Name + "\n")
				}
			}
			golden.Check(t, filepath.Join("testdata", goldenDir, c.name+".txt"), stableRun(got.String()))
			// Diff is pure: a second call gives the same result.
			plan2, err2 := task.Diff(out)
			if (err == nil) != (err2 == nil) || (err == nil && renderPlan(t, plan2) != renderPlan(t, plan)) {
				t.Error("a second Diff gave a different result")
			}
		})
	}
}

type sysConfigCase struct {
	name   string
	values cty.Value
	want   string // substring of the error
}

func runSysConfigErrors(t *testing.T, m contract.Module, cases []sysConfigCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Configure(contract.Config{Values: c.values, Dir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func strs(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	v := make([]cty.Value, len(s))
	for i, e := range s {
		v[i] = cty.StringVal(e)
	}
	return cty.ListVal(v)
}

// hostileText holds what careless shell code trips on: quotes, command
// substitution, backticks, a separator, a backslash.
const hostileText = `it's "$(touch /tmp/pwned)"; ` + "`id`" + ` \ x`

// blob renders a blob line of the system modules' Check format.
func blob(key, content string) string {
	return "blob " + key + " " + strconv.Itoa(len(content)) + "\n" + content + "\n"
}

func TestParseKV(t *testing.T) {
	content := "x=1\nblob y 3\nz\n"
	out := "a=b=c\n" + blob("keys", content) + "tool.x=/bin/x\nblob empty 0\n\n"
	kv, err := parseKV([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if kv.vals["a"] != "b=c" || kv.vals["tool.x"] != "/bin/x" || kv.has("x") {
		t.Errorf("vals = %v: a blob's content must not be read as keys", kv.vals)
	}
	if string(kv.blobs["keys"]) != content {
		t.Errorf("blob = %q, want %q", kv.blobs["keys"], content)
	}
	if b, ok := kv.blobs["empty"]; !ok || len(b) != 0 {
		t.Errorf("empty blob = %q, %v", b, ok)
	}
	for _, bad := range []string{"blob k 99\nshort\n", "blob k\n", "blob k x\n"} {
		if _, err := parseKV([]byte(bad)); err == nil {
			t.Errorf("parseKV(%q) succeeded", bad)
		}
	}
}

func cmdOf(script string) transport.Cmd { return transport.Cmd{Command: script} }

func intVal(n int64) cty.Value { return cty.NumberIntVal(n) }

// sysRecordConn is a transport.Conn that records the commands run on it and
// answers them with res.
type sysRecordConn struct {
	mu   sync.Mutex
	cmds []sysRecordedCmd
	res  transport.Result
}

type sysRecordedCmd struct{ command, stdin string }

func (c *sysRecordConn) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	var in []byte
	if cmd.Stdin != nil {
		in, _ = io.ReadAll(cmd.Stdin)
	}
	c.mu.Lock()
	c.cmds = append(c.cmds, sysRecordedCmd{cmd.Command, string(in)})
	c.mu.Unlock()
	return c.res, nil
}

func (c *sysRecordConn) Put(context.Context, string, io.Reader, transport.PutOptions) error {
	return nil
}
func (c *sysRecordConn) Get(context.Context, string, io.Writer) error { return nil }
func (c *sysRecordConn) Stats() transport.Stats                       { return transport.Stats{} }
func (c *sysRecordConn) Close() error                                 { return nil }
