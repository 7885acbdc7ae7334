package modules

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// probeModule runs a read-only command and keeps its output. It is the only
// module allowed in runbooks (Spec.ReadOnly): its Check runs the command and
// its Diff never plans a change, so nothing it does goes through Apply.
type probeModule struct{}

// Probe limits.
const (
	DefaultProbeTimeout   = 10       // seconds
	DefaultProbeMaxOutput = 64 << 10 // bytes of stdout (and of stderr) kept
)

var probeFormats = []string{"text", "lines", "table", "kv", "number", "json"}

var probeSpec = &contract.Spec{
	Name:     "probe",
	Summary:  "Run a read-only command and parse its output into values (runbooks).",
	ReadOnly: true,
	Doc: `Runs shell code while the state is read (in the same batched round trip as
every other task), with standard input from /dev/null, no terminal, under a
timeout, and keeps its output capped at max_output bytes (marked truncated
beyond). Nothing is ever applied: in a play a probe always reports ok.

When a tool the command needs is missing (requires, or the command's first
word), the next fallback command whose first word exists runs instead; when
none can run, or the command exits 127 (command not found), the probe's status
is "not available", not a failure. A timed-out command is cut (its whole
process group) and its status is "timeout".

The output is parsed with format: text (value is the trimmed output), lines,
table (rows: one map per line, keyed by the header's or columns' names, the
last column taking the rest of the line), kv (values: "key: value" or
key=value lines), number (value: the first number), json (value: the decoded
document). regex, when set, is matched against each line: every matching line
is a row of its named groups (or "1", "2", ...), and value is the first
group of the first match. Checks read them as probe.NAME.rows, .values,
.value, .lines, .stdout, .status, .available.`,
	Attributes: []contract.Attribute{
		{Name: "command", Type: cty.String, Required: true,
			Doc: "Shell code to run. As root it runs in a read-only mount namespace as uid 65534 with no capability to undo it; as another user, that user's permissions bound it (see docs/runbooks.md)."},
		{Name: "fallback", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String),
			Doc: "Commands tried in order when command's tools are missing (ss → netstat)."},
		{Name: "requires", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String),
			Doc: "Programs command needs (checked with command -v); default: its first word."},
		{Name: "timeout", Type: cty.Number, Default: cty.NumberIntVal(DefaultProbeTimeout),
			Doc: "Seconds before the command is killed (status timeout)."},
		{Name: "max_output", Type: cty.Number, Default: cty.NumberIntVal(DefaultProbeMaxOutput),
			Doc: "Bytes of stdout and of stderr kept; more is cut and marked truncated."},
		{Name: "ok_exit_codes", Type: cty.List(cty.Number), Default: cty.ListVal([]cty.Value{cty.NumberIntVal(0)}),
			Doc: "Exit statuses that mean the command worked (grep: [0, 1])."},
		{Name: "format", Type: cty.String, Default: cty.StringVal("text"),
			Doc: "How to parse the output: text, lines, table, kv, number or json."},
		{Name: "columns", Type: cty.List(cty.String),
			Doc: "table: column names (the last takes the rest of the line). Unset: the header line's words, lower-cased."},
		{Name: "header", Type: cty.Bool, Default: cty.True,
			Doc: "table: the first line is a header (skipped when columns are given)."},
		{Name: "separator", Type: cty.String,
			Doc: "table: field separator (default: runs of blanks); kv: key/value separator (default: the first ':' or '=')."},
		{Name: "regex", Type: cty.String,
			Doc: "RE2 regular expression matched against each line; its groups become rows (named groups by name)."},
	},
	Outputs: []contract.Attribute{
		{Name: "status", Type: cty.String, Doc: `"ok", "failed", "timeout" or "not available".`},
		{Name: "available", Type: cty.Bool, Doc: "Whether a command could run (status is not \"not available\")."},
		{Name: "ok", Type: cty.Bool, Doc: "status == \"ok\"."},
		{Name: "ran", Type: cty.String, Doc: "The command that ran (command or a fallback)."},
		{Name: "exit_code", Type: cty.Number, Doc: "The command's exit status."},
		{Name: "stdout", Type: cty.String, Doc: "Standard output (capped)."},
		{Name: "stderr", Type: cty.String, Doc: "Standard error (capped)."},
		{Name: "truncated", Type: cty.Bool, Doc: "Whether output was cut at max_output."},
		{Name: "lines", Type: cty.List(cty.String), Doc: "Non-empty output lines."},
		{Name: "rows", Type: cty.List(cty.Map(cty.String)), Doc: "table and regex: one map per row."},
		{Name: "values", Type: cty.Map(cty.String), Doc: "kv: the keys and values."},
		{Name: "value", Type: cty.DynamicPseudoType, Doc: "text: trimmed output; number: a number; json: the document; regex: the first group of the first match (a number when it is one)."},
	},
	Example: `probe "disk" {
  command  = "df -P"
  fallback = ["busybox df -P"]
  timeout  = 5
  format   = "table"
  columns  = ["filesystem", "blocks", "used", "available", "capacity", "mount"]
}`,
}

func (probeModule) Spec() *contract.Spec { return probeSpec }

// ProbeTask is a configured probe, for the runbook engine.
type ProbeTask struct {
	Alternatives []ProbeAlt // command, then fallbacks
	Timeout      float64
	MaxOutput    int
	OKCodes      []int
	Format       string
	Columns      []string
	Header       bool
	Separator    string
	Regex        *regexp.Regexp
	// RequireEnforced keeps a root probe from running where the read-only
	// mount namespace cannot be set up (--require-enforced).
	RequireEnforced bool
}

// RequireReadOnly makes the probe refuse to run as root unenforced.
func (t *ProbeTask) RequireReadOnly() { t.RequireEnforced = true }

// ProbeAlt is one command a probe may run, with the programs it needs.
type ProbeAlt struct {
	Command  string
	Requires []string
}

func (probeModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(probeSpec, cfg)
	t := &ProbeTask{Header: true}
	cmd, _ := a.str("command")
	if strings.TrimSpace(cmd) == "" {
		return nil, &contract.AttrError{Attr: "command", Msg: "must not be empty"}
	}
	req := a.strList("requires")
	if len(req) == 0 {
		req = firstWord(cmd)
	}
	t.Alternatives = []ProbeAlt{{Command: cmd, Requires: req}}
	for _, f := range a.strList("fallback") {
		if strings.TrimSpace(f) == "" {
			return nil, &contract.AttrError{Attr: "fallback", Msg: "commands must not be empty"}
		}
		t.Alternatives = append(t.Alternatives, ProbeAlt{Command: f, Requires: firstWord(f)})
	}
	for _, alt := range t.Alternatives {
		for _, r := range alt.Requires {
			if !validProgram(r) {
				return nil, &contract.AttrError{Attr: "requires", Msg: fmt.Sprintf("%q is not a program name", r)}
			}
		}
	}
	t.Timeout = a.number("timeout", DefaultProbeTimeout)
	if t.Timeout <= 0 || t.Timeout > 3600 {
		return nil, &contract.AttrError{Attr: "timeout", Msg: "must be between 0 and 3600 seconds"}
	}
	t.MaxOutput = int(a.number("max_output", DefaultProbeMaxOutput))
	if t.MaxOutput < 1 || t.MaxOutput > 16<<20 {
		return nil, &contract.AttrError{Attr: "max_output", Msg: "must be between 1 byte and 16 MiB"}
	}
	for _, v := range listElems(a.get("ok_exit_codes")) {
		if v.Type() == cty.Number && v.IsKnown() && !v.IsNull() {
			n, _ := v.AsBigFloat().Int64()
			t.OKCodes = append(t.OKCodes, int(n))
		}
	}
	t.Format = a.enum("format", probeFormats...)
	t.Columns = a.strList("columns")
	if v := a.get("header"); v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() {
		t.Header = v.True()
	}
	t.Separator, _ = a.str("separator")
	if re, ok := a.str("regex"); ok && re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			return nil, &contract.AttrError{Attr: "regex", Msg: fmt.Sprintf("invalid regular expression: %v", err)}
		}
		t.Regex = rx
	}
	if a.err != nil {
		return nil, a.err
	}
	return t, nil
}

func (a *attrs) strList(name string) []string {
	var out []string
	for _, v := range listElems(a.get(name)) {
		if v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			out = append(out, v.AsString())
		}
	}
	return out
}

func (a *attrs) number(name string, def float64) float64 {
	v := a.get(name)
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return def
	}
	f, _ := v.AsBigFloat().Float64()
	return f
}

func listElems(v cty.Value) []cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() {
		return nil
	}
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

var programRe = regexp.MustCompile(`^[A-Za-z0-9_./+-]+$`)

func validProgram(s string) bool { return programRe.MatchString(s) }

// firstWord is the program a command line starts with, after variable
// assignments; nil when it starts with shell syntax (a subshell, a group, a
// keyword) that command -v cannot judge.
func firstWord(cmd string) []string {
	for _, w := range strings.Fields(cmd) {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "=") {
			continue // LC_ALL=C
		}
		switch w {
		case "if", "for", "while", "until", "case", "!", "{", "(", "[", "test", "exec", "command", "env", "cat", "echo", "printf":
			return nil // builtins and the basics are always there
		}
		if validProgram(w) {
			return []string{w}
		}
		return nil
	}
	return nil
}

// Check runs the first alternative whose programs exist, under the timeout,
// with its output captured to files and printed capped, after a header line:
// "drover-probe ALT RC SIZE ESIZE MISSING...", then "drover-ro GUARANTEE"
// (probe_readonly.go).
func (t *ProbeTask) Check() string {
	var b strings.Builder
	b.WriteString("t=$(mktemp 2>/dev/null || mktemp -p /dev/shm) || { echo 'drover: mktemp failed' >&2; exit 125; }\n")
	b.WriteString("trap 'rm -f \"$t\" \"$t.e\" \"$t.rc\" \"$t.to\" \"$t.ro\"' EXIT\n")
	b.WriteString("alt=-1 rc=127 miss=\n")
	for i, alt := range t.Alternatives {
		if i == 0 {
			b.WriteString("if ")
		} else {
			b.WriteString("elif ")
		}
		b.WriteString(haveAll(alt.Requires))
		fmt.Fprintf(&b, "; then alt=%d c=%s\n", i, shell.Quote(alt.Command))
	}
	b.WriteString("fi\n")
	// Programs missing, for the report, when nothing could run.
	var all []string
	seen := map[string]bool{}
	for _, alt := range t.Alternatives {
		for _, r := range alt.Requires {
			if !seen[r] {
				seen[r] = true
				all = append(all, r)
			}
		}
	}
	if len(all) > 0 {
		b.WriteString("if [ $alt = -1 ]; then for p in")
		for _, p := range all {
			b.WriteString(" " + shell.Quote(p))
		}
		b.WriteString("; do command -v \"$p\" >/dev/null 2>&1 || miss=\"$miss $p\"; done; fi\n")
	}
	to := strconv.FormatFloat(t.Timeout, 'f', -1, 64)
	lim := strconv.Itoa(t.MaxOutput + 1)
	// run runs its arguments under the timeout. GNU and busybox timeout kill
	// the command's process group; without timeout, a watchdog does it from
	// a job of its own (set -m).
	fmt.Fprintf(&b, `run() {
if command -v timeout >/dev/null 2>&1; then
{ timeout -k 2 %[1]s "$@" </dev/null 2>"$t.e"; echo $? >"$t.rc"; } | head -c %[2]s >"$t"
rc=$(cat "$t.rc" 2>/dev/null || echo 1)
else
set -m; "$@" </dev/null >"$t" 2>"$t.e" & p=$!; set +m
( sleep %[1]s; kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null; : >"$t.to"; sleep 2; kill -KILL -$p 2>/dev/null || kill -KILL $p 2>/dev/null ) </dev/null >/dev/null 2>&1 & w=$!
wait $p; rc=$?
kill $w 2>/dev/null
[ -e "$t.to" ] && rc=124
fi
}
ro=
if [ $alt != -1 ]; then
`, to, lim)
	b.WriteString(readOnlyScript(t.RequireEnforced))
	fmt.Fprintf(&b, `fi
: >>"$t"; : >>"$t.e"
set -- $(wc -c <"$t") $(wc -c <"$t.e")
printf 'drover-probe %%s %%s %%s %%s%%s\ndrover-ro %%s\n' "$alt" "$rc" "$1" "$2" "$miss" "$ro"
head -c %[1]s "$t"
head -c %[1]s "$t.e" >&2
exit 0
`, lim)
	return b.String()
}

func haveAll(progs []string) string {
	if len(progs) == 0 {
		return "true"
	}
	parts := make([]string, len(progs))
	for i, p := range progs {
		parts[i] = "command -v " + shell.Quote(p) + " >/dev/null 2>&1"
	}
	return strings.Join(parts, " && ")
}

// Diff never plans a change: a probe only reads.
func (t *ProbeTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	return &contract.Plan{}, nil
}

// Result interprets the output of Check.
func (t *ProbeTask) Result(out contract.CheckOutput) *contract.ProbeResult {
	r := &contract.ProbeResult{Status: contract.ProbeFailed, ExitCode: out.ExitCode}
	nl := bytes.IndexByte(out.Stdout, '\n')
	var hdr []string
	if nl >= 0 {
		hdr = strings.Fields(string(out.Stdout[:nl]))
	}
	if len(hdr) < 5 || hdr[0] != "drover-probe" {
		r.Stderr = string(out.Stderr)
		if r.Stderr == "" {
			r.Stderr = string(out.Stdout)
		}
		r.ParseError = fmt.Sprintf("the probe's wrapper did not run (exit status %d)", out.ExitCode)
		r.Value = t.value(r)
		return r
	}
	alt, _ := strconv.Atoi(hdr[1])
	rc, _ := strconv.Atoi(hdr[2])
	size, _ := strconv.Atoi(hdr[3])
	esize, _ := strconv.Atoi(hdr[4])
	r.Missing = hdr[5:]
	r.ExitCode = rc
	stdout := out.Stdout[nl+1:]
	if rest, ok := bytes.CutPrefix(stdout, []byte("drover-ro ")); ok {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			r.ReadOnly, stdout = string(rest[:i]), rest[i+1:]
		}
	}
	if len(stdout) > t.MaxOutput {
		stdout = stdout[:t.MaxOutput]
	}
	stderr := out.Stderr
	if len(stderr) > t.MaxOutput {
		stderr = stderr[:t.MaxOutput]
	}
	r.Stdout, r.Stderr = string(stdout), string(stderr)
	r.Truncated = size > t.MaxOutput || esize > t.MaxOutput
	switch {
	case alt == -2:
		r.Status = contract.ProbeRefused
	case alt < 0 || alt >= len(t.Alternatives):
		r.Status = contract.ProbeNotAvailable
	default:
		r.Ran = t.Alternatives[alt].Command
		switch {
		case rc == 127:
			r.Status = contract.ProbeNotAvailable
		case rc == 124 || rc == 137:
			r.Status = contract.ProbeTimeout
		case containsInt(t.OKCodes, rc) || (r.Truncated && rc == 141):
			r.Status = contract.ProbeOK
		default:
			r.Status = contract.ProbeFailed
		}
	}
	r.Value = t.value(r)
	return r
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// value builds probe.NAME: parsed values only from a probe that worked.
func (t *ProbeTask) value(r *contract.ProbeResult) cty.Value {
	lines := cty.ListValEmpty(cty.String)
	rows := cty.ListValEmpty(cty.Map(cty.String))
	values := cty.MapValEmpty(cty.String)
	value := cty.NullVal(cty.DynamicPseudoType)
	if r.Status == contract.ProbeOK {
		p, err := ParseProbeOutput(r.Stdout, t.parseOptions())
		if err != nil {
			r.ParseError = err.Error()
		}
		lines, rows, values, value = p.Lines, p.Rows, p.Values, p.Value
	}
	return cty.ObjectVal(map[string]cty.Value{
		"status":    cty.StringVal(r.Status),
		"available": cty.BoolVal(r.Status != contract.ProbeNotAvailable),
		"ok":        cty.BoolVal(r.Status == contract.ProbeOK),
		"ran":       cty.StringVal(r.Ran),
		"exit_code": cty.NumberIntVal(int64(r.ExitCode)),
		"stdout":    cty.StringVal(strings.ToValidUTF8(r.Stdout, "\uFFFD")),
		"stderr":    cty.StringVal(strings.ToValidUTF8(r.Stderr, "\uFFFD")),
		"truncated": cty.BoolVal(r.Truncated),
		"lines":     lines,
		"rows":      rows,
		"values":    values,
		"value":     value,
	})
}

// ValueType is the type of probe.NAME before a host answered: every
// attribute known by type, value dynamic.
func (probeModule) ValueType() cty.Type {
	return cty.Object(map[string]cty.Type{
		"status": cty.String, "available": cty.Bool, "ok": cty.Bool, "ran": cty.String,
		"exit_code": cty.Number, "stdout": cty.String, "stderr": cty.String, "truncated": cty.Bool,
		"lines": cty.List(cty.String), "rows": cty.List(cty.Map(cty.String)),
		"values": cty.Map(cty.String), "value": cty.DynamicPseudoType,
	})
}

// StatusValue is probe.NAME for a probe with no output to parse.
func (probeModule) StatusValue(status string) cty.Value {
	return (&ProbeTask{}).value(&contract.ProbeResult{Status: status})
}

// MutatingHint is MutatingHint for the attributes that hold commands.
func (probeModule) MutatingHint(attr, command string) string {
	if attr != "command" && attr != "fallback" {
		return ""
	}
	return MutatingHint(command)
}

// TimeoutSeconds is the probe's timeout attribute.
func (t *ProbeTask) TimeoutSeconds() float64 { return t.Timeout }

func (t *ProbeTask) parseOptions() ParseOptions {
	return ParseOptions{Format: t.Format, Columns: t.Columns, Header: t.Header, Separator: t.Separator, Regex: t.Regex}
}
