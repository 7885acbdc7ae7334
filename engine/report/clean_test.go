package report

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct {
		name, in, text, line string
	}{
		{"plain", "hello, world\n\tindented", "hello, world\n\tindented", `hello, world\n\tindented`},
		{"unicode kept", "naïve ✓ 日本 😀", "naïve ✓ 日本 😀", "naïve ✓ 日本 😀"},
		{"backslash kept", `C:\x1b`, `C:\x1b`, `C:\x1b`},
		{"osc 52 clipboard", "\x1b]52;c;cm0gLXJmIH4=\x07", `\x1b]52;c;cm0gLXJmIH4=\x07`, `\x1b]52;c;cm0gLXJmIH4=\x07`},
		{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, `\x1b[2J\x1b[H`},
		{"title", "\x1b]0;pwned\x1b\\", `\x1b]0;pwned\x1b\`, `\x1b]0;pwned\x1b\`},
		{"NUL BEL BS DEL", "a\x00b\x07c\x08d\x7f", `a\x00b\x07c\x08d\x7f`, `a\x00b\x07c\x08d\x7f`},
		{"CRLF is a newline", "one\r\ntwo\r\n", "one\ntwo\n", `one\x0d\ntwo\x0d\n`},
		{"lone CR overwrites", "rm -rf /\rls", `rm -rf /\x0dls`, `rm -rf /\x0dls`},
		{"C1 CSI", "a\u009b2Jb", `a\u009b2Jb`, `a\u009b2Jb`},
		{"raw 8-bit CSI byte", "a\x9b2Jb", `a\x9b2Jb`, `a\x9b2Jb`},
		{"invalid UTF-8", "\xff\xfe ok", `\xff\xfe ok`, `\xff\xfe ok`},
		{"bidi override", "user\u202etxt.exe", `user\u202etxt.exe`, `user\u202etxt.exe`},
		{"bidi isolates", "\u2066a\u2069\u200f", `\u2066a\u2069\u200f`, `\u2066a\u2069\u200f`},
		{"zero width and BOM", "pay\u200bpal\ufeff", `pay\u200bpal\ufeff`, `pay\u200bpal\ufeff`},
		{"line separator", "a\u2028b", `a\u2028b`, `a\u2028b`},
		{"tag character", "x\U000e0041", `x\U000e0041`, `x\U000e0041`},
		{"U+FFFD itself is visible", "a\ufffdb", "a\ufffdb", "a\ufffdb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Escape(c.in); got != c.text {
				t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.text)
			}
			if got := EscapeLine(c.in); got != c.line {
				t.Errorf("EscapeLine(%q) = %q, want %q", c.in, got, c.line)
			}
		})
	}
}

// sgr matches the colour sequences drover itself writes.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTerminalEscapesHostOutput: what a host prints reaches the terminal
// with its control characters visible, in every field a renderer draws,
// while drover's own colours still work.
func TestTerminalEscapesHostOutput(t *testing.T) {
	const hostile = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u202e"
	const shown = `\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\u202e`
	events := []Event{
		{Kind: KindCommand, Host: "h", Status: StatusFailed, ExitCode: Exit(1), Stdout: "out " + hostile, Stderr: "err " + hostile, Message: "msg " + hostile},
		{Kind: KindTask, Host: "h", Task: "file.x", Status: StatusChanged, Detail: &TaskResult{Module: "file",
			Changes: []ChangeView{{Action: "update", Subject: "/etc/x " + hostile, Diff: "--- a\n+++ b\n+" + hostile + "\n",
				Attrs: []AttrView{{Name: "owner", Old: "a" + hostile, New: "b"}}}}}},
		{Kind: KindTask, Host: "h", Task: "command.y", Status: StatusFailed, Message: "exit 1", Stdout: hostile, Detail: &TaskResult{Module: "command"}},
		{Kind: KindPlan, Host: "h", Detail: &HostPlan{Play: "p", Tasks: []TaskPlan{{Task: "t", Error: hostile}}, Error: "e " + hostile}},
		{Kind: KindHostDone, Host: "h", Status: StatusFailed, Message: hostile},
		{Kind: KindWarning, Message: "w " + hostile},
	}
	for _, color := range []bool{false, true} {
		var out, errOut bytes.Buffer
		term := NewTerminal(&out, &errOut, TerminalOptions{Color: color})
		for _, e := range events {
			term.Emit(e)
		}
		term.Emit(Event{Kind: KindRecap, Recap: &Recap{Hosts: []HostRecap{{Host: "h", Status: StatusFailed, Message: hostile}}}})
		term.Close()
		all := out.String() + errOut.String()
		if rest := sgr.ReplaceAllString(all, ""); strings.ContainsAny(rest, "\x1b\x07\u202e") {
			t.Errorf("color=%v: a raw control character reached the terminal:\n%q", color, rest)
		}
		if !color && strings.Contains(all, "\x1b") {
			t.Errorf("color off, yet ESC in the output:\n%q", all)
		}
		if n := strings.Count(all, shown); n < 8 {
			t.Errorf("color=%v: the escaped sequence is shown %d times, want it in every field:\n%s", color, n, all)
		}
	}
}

func TestRunbookWritersEscape(t *testing.T) {
	const hostile = "\x1b]52;c;eA==\x07\u202e"
	r := &RunbookReport{Runbook: "rb", Checks: []string{"c"}, Hosts: []RunbookHost{
		{Host: "a", Status: StatusOK, Findings: []Finding{{Check: "c", Severity: SevWarn, Message: "m " + hostile}},
			Probes: []ProbeOutput{{Name: "p", Command: "cat x", Status: "failed", Stdout: "o " + hostile, Stderr: "e " + hostile, Note: hostile}}},
		{Host: "b", Status: StatusUnreachable, Error: "refused " + hostile},
	}}
	var text, page, js bytes.Buffer
	if err := WriteRunbookText(&text, r, RunbookTextOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteRunbookHTML(&page, r, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteRunbookJSON(&js, r, nil); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "html": page.String()} {
		if strings.ContainsAny(out, "\x1b\x07\u202e") {
			t.Errorf("%s report has raw control characters:\n%q", name, out)
		}
		if !strings.Contains(out, `\x1b]52;c;eA==\x07\u202e`) {
			t.Errorf("%s report does not show the escaped sequence:\n%s", name, out)
		}
	}
	// JSON keeps the bytes: it escapes them itself.
	var back RunbookReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Hosts[0].Probes[0].Stdout != "o "+hostile {
		t.Errorf("JSON report changed the probe's output: %v %q", err, back.Hosts[0].Probes[0].Stdout)
	}
	if r.Hosts[0].Probes[0].Stdout != "o "+hostile {
		t.Error("writing a report changed the report")
	}
}

// maskSecrets are values the masker must hide in every writer, whatever the
// encoding does to them: HTML and JSON metacharacters, quotes, unicode
// (U+2028 is escaped by encoding/json), a control character, and a secret
// that spans lines (shown indented, or with CRLF, by the time it is output).
var maskSecrets = []string{
	`a&b<c>d`,
	`&<>"'` + "ünï€✓",
	`back\slash "quoted"`,
	"sep\u2028arator",
	"esc\x1b[0mape",
	"line-one-Xq\nline-two-Zr",
}

// leaks says whether secret (or one of its lines, which the masker hides
// too) can be read in out, decoded as a reader of kind would decode it, or
// as it is written inside a shell word.
func leaks(t *testing.T, kind, out, secret string) bool {
	t.Helper()
	var texts []string
	switch kind {
	case "json":
		// Every string of every JSON value, as a program reading it sees it.
		dec := json.NewDecoder(strings.NewReader(out))
		for {
			var v any
			if err := dec.Decode(&v); err != nil {
				break
			}
			texts = append(texts, allStrings(v)...)
		}
		texts = append(texts, out)
	case "html":
		texts = []string{html.UnescapeString(out)}
	default:
		texts = []string{out}
	}
	needles := []string{secret, Escape(secret), strings.ReplaceAll(secret, "'", `'\''`)}
	for _, l := range strings.Split(secret, "\n") {
		if l != secret {
			needles = append(needles, l, Escape(l))
		}
	}
	for _, tx := range texts {
		for _, n := range needles {
			if strings.Contains(tx, n) {
				return true
			}
		}
	}
	return false
}

func allStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, allStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for k, e := range v {
			out = append(out, k)
			out = append(out, allStrings(e)...)
		}
		return out
	}
	return nil
}

// TestMaskEveryWriter: a secret is hidden by every writer (terminal, JSON
// events, runbook text, JSON and HTML) in every field, including Detail.
func TestMaskEveryWriter(t *testing.T) {
	for _, secret := range maskSecrets {
		t.Run(strings.ToValidUTF8(Escape(secret), "?"), func(t *testing.T) {
			m := NewMasker()
			m.Add(secret)
			// A host prints the secret with CRLF line ends.
			printed := strings.ReplaceAll(secret, "\n", "\r\n")
			events := []Event{
				{Kind: KindCommand, Host: "h", Status: StatusFailed, ExitCode: Exit(1), Command: "echo " + secret,
					Stdout: "got " + printed + "\r\n", Stderr: "sudo: " + secret, Message: secret, Hint: "h " + secret},
				{Kind: KindTask, Host: "h", Task: "file.x", Status: StatusChanged, Detail: &TaskResult{Module: "file",
					Changes: []ChangeView{{Action: "update", Subject: "/etc/x", Diff: "--- a\n+++ b\n-old\n+pw=" + secret + "\n",
						Attrs: []AttrView{{Name: "comment", Old: "", New: secret}}}}}},
				{Kind: KindTask, Host: "h", Task: "command.y", Status: StatusFailed, Message: "failed: " + secret,
					Stdout: "out " + printed, Detail: &TaskResult{Module: "command"}},
				{Kind: KindPlan, Host: "h", Detail: &HostPlan{Play: "p", Error: "e " + secret,
					Tasks: []TaskPlan{{Task: "t", Error: secret, Changes: []ChangeView{{Action: "create", Subject: secret},
						// A command's argv, shown shell-quoted ('\'' for ').
						{Action: "run", Subject: shell.Join("sh", "-c", "echo $0", "pw="+secret)}}}}}},
				{Kind: "custom", Host: "h", Detail: map[string]any{"k": []string{secret}, secret: 1}},
				{Kind: KindHostDone, Host: "h", Status: StatusFailed, Message: secret},
				{Kind: KindWarning, Message: "w " + secret},
				{Kind: KindRecap, Recap: &Recap{Hosts: []HostRecap{{Host: "h", Status: StatusFailed, Message: secret}}}},
			}
			outs := map[string]string{}
			for _, color := range []bool{false, true} {
				var term, js bytes.Buffer
				s := Multi(NewTerminal(&term, &term, TerminalOptions{Masker: m, Color: color}), NewJSON(&js, m))
				for _, e := range events {
					s.Emit(e)
				}
				s.Close()
				outs[map[bool]string{false: "terminal", true: "terminal in colour"}[color]] = term.String()
				outs["json"] = js.String()
			}
			r := &RunbookReport{Runbook: "rb", Description: secret, Checks: []string{"c"}, Hosts: []RunbookHost{
				{Host: "a", Status: StatusOK, Findings: []Finding{{Check: "c", Key: secret, Severity: SevCrit, Message: "token " + secret}},
					Probes: []ProbeOutput{{Name: "p", Command: "cat " + secret, Status: "failed", Stdout: printed + "\n", Stderr: secret, Note: secret}}},
				{Host: "b", Status: StatusUnreachable, Error: "refused " + secret},
			}}
			var text, rjs, page bytes.Buffer
			for _, err := range []error{
				WriteRunbookText(&text, r, RunbookTextOptions{Masker: m, Full: true}),
				WriteRunbookJSON(&rjs, r, m),
				WriteRunbookHTML(&page, r, m),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			outs["runbook text"], outs["runbook json"], outs["runbook html"] = text.String(), rjs.String(), page.String()
			for name, out := range outs {
				kind := "text"
				switch {
				case strings.HasSuffix(name, "json"):
					kind = "json"
				case strings.HasSuffix(name, "html"):
					kind = "html"
				}
				if leaks(t, kind, out, secret) {
					t.Errorf("%s output leaks the secret %q:\n%s", name, secret, out)
				}
				if !strings.Contains(out, Redacted) {
					t.Errorf("%s output has no %s:\n%s", name, Redacted, out)
				}
			}
		})
	}
}

func TestMapStrings(t *testing.T) {
	type inner struct {
		S      string
		hidden string
	}
	type outer struct {
		Kind    Kind
		Status  Status
		S       string
		B       []byte
		Arr     [2]string
		P       *inner
		NilP    *inner
		M       map[string][]string
		NilM    map[string]int
		NilS    []string
		Any     any
		Anys    []any
		private string
	}
	up := func(s string) string { return strings.ToUpper(s) }
	in := outer{Kind: "ok", Status: "ok", S: "s", B: []byte("b"), Arr: [2]string{"a", "b"}, P: &inner{S: "p", hidden: "h"},
		M: map[string][]string{"k": {"v"}}, Any: &inner{S: "any"}, Anys: []any{"x", 1, nil}, private: "q"}
	got := mapStrings(in, up)
	want := outer{Kind: "ok", Status: "ok", S: "S", B: []byte("B"), Arr: [2]string{"A", "B"}, P: &inner{S: "P", hidden: "h"},
		M: map[string][]string{"K": {"V"}}, Any: &inner{S: "ANY"}, Anys: []any{"X", 1, nil}, private: "q"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if in.S != "s" || in.P.S != "p" || in.M["k"][0] != "v" || string(in.B) != "b" || in.Any.(*inner).S != "any" {
		t.Errorf("the original was changed: %+v", in)
	}
	if got := mapStrings[any](nil, up); got != nil {
		t.Errorf("nil interface: %v", got)
	}
	if got := mapStrings[*RunbookReport](nil, up); got != nil {
		t.Errorf("nil pointer: %v", got)
	}
}

// BenchmarkSinks: the cost per event of masking and escaping values before
// writing (a changed task with a 4 KiB diff, five secrets registered).
func BenchmarkSinks(b *testing.B) {
	m := NewMasker()
	for _, s := range []string{"hunter2", "s3cret&<>", "tok-9f8e7d", "line one\nline two", "pa'ss"} {
		m.Add(s)
	}
	diff := strings.Repeat("+a line of a configuration file, about sixty-four bytes long\n", 64)
	e := Event{Kind: KindTask, Host: "web1", Task: "template.site", Status: StatusChanged, Detail: &TaskResult{Module: "template",
		Changes: []ChangeView{{Action: "update", Subject: "/etc/nginx/conf.d/app.conf", Diff: diff, Attrs: []AttrView{{Name: "mode", Old: "0600", New: "0644"}}}}}}
	for _, sink := range []struct {
		name string
		s    Sink
	}{
		{"terminal", NewTerminal(io.Discard, io.Discard, TerminalOptions{Masker: m, Color: true})},
		{"json", NewJSON(io.Discard, m)},
	} {
		b.Run(sink.name, func(b *testing.B) {
			for range b.N {
				sink.s.Emit(e)
				sink.s.Emit(Event{Kind: KindHostDone, Host: "web1", Status: StatusChanged})
			}
		})
	}
}

// TestTerminalMasksSecretsMetWhileBuffering: a host's events are held until
// it is done; a secret registered in the meantime is masked in them too.
func TestTerminalMasksSecretsMetWhileBuffering(t *testing.T) {
	m := NewMasker()
	var out bytes.Buffer
	term := NewTerminal(&out, &out, TerminalOptions{Masker: m})
	term.Emit(Event{Kind: KindCommand, Host: "h", Status: StatusOK, ExitCode: Exit(0), Stdout: "late-secret-7q"})
	m.Add("late-secret-7q")
	term.Emit(Event{Kind: KindHostDone, Host: "h", Status: StatusOK})
	term.Close()
	if strings.Contains(out.String(), "late-secret-7q") || !strings.Contains(out.String(), Redacted) {
		t.Errorf("the secret met before the host's block was written is shown:\n%s", out.String())
	}
}
