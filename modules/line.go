package modules

import (
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// lineModule ensures one line is present in (or absent from) a text file.
type lineModule struct{}

var lineSpec = &contract.Spec{
	Name:    "line",
	Summary: "Ensure a line is present in, or absent from, a text file.",
	Doc: `Edits one line of an existing text file (up to 1 MiB) without managing the
rest of it. While planning, drover reads the file and computes the new content
in Go, so regular expressions have exact Go RE2 semantics
(https://golang.org/s/re2syntax) and the plan shows a unified diff.

With state = "present": if regexp is set and matches some lines, the last
matching line is replaced by line. Otherwise, if the exact line is already in
the file, nothing changes. Otherwise line is inserted: after the last line
matching insert_after, or before the last line matching insert_before
("EOF" and "BOF" mean the end and the beginning of the file); at the end of
the file when neither is set or nothing matches.

With state = "absent": every line matching regexp is removed (every line equal
to line when regexp is unset).

The change is written to a temporary file that gets the old file's owner and
mode and is renamed over it. Just before that, the apply verifies that the
file still has the checksum it had when it was read; if not, the task fails
with "changed since it was read; re-run" instead of overwriting someone
else's change. Regular expressions match a line without its newline.`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the file on the host."},
		{Name: "line", Type: cty.String, Doc: "The line, without its newline. Required with state = \"present\"."},
		{Name: "regexp", Type: cty.String, Doc: "A Go RE2 regular expression selecting the line(s) to replace (present) or remove (absent)."},
		presenceAttr,
		{Name: "insert_after", Type: cty.String, Doc: "Regexp of the line after which a new line goes (the last match), or \"EOF\"."},
		{Name: "insert_before", Type: cty.String, Doc: "Regexp of the line before which a new line goes (the last match), or \"BOF\"."},
		{Name: "create", Type: cty.Bool, Default: cty.False, Doc: "Create the file (mode 0644) when it does not exist, instead of failing."},
	},
	Example: `line "sshd_no_passwords" {
  path   = "/etc/ssh/sshd_config"
  regexp = "^#?PasswordAuthentication\\s"
  line   = "PasswordAuthentication no"
}`,
}

func (lineModule) Spec() *contract.Spec { return lineSpec }

func (lineModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(lineSpec, cfg)
	t := &lineTask{}
	t.Path, _ = a.absPath("path")
	t.Absent = a.enum("state", "present", "absent") == "absent"
	t.Create = a.boolean("create")
	line, hasLine := a.str("line")
	t.Line = line
	t.Sensitive = a.sensitive("line")
	compile := func(name string, special string) (*regexp.Regexp, bool) {
		s, ok := a.str(name)
		if !ok || s == special {
			return nil, ok
		}
		re, err := regexp.Compile(s)
		if err != nil {
			a.fail(name, "is not a valid regular expression: %v", err)
		}
		return re, ok
	}
	t.Regexp, _ = compile("regexp", "")
	var hasAfter, hasBefore bool
	t.After, hasAfter = compile("insert_after", "EOF")
	t.Before, hasBefore = compile("insert_before", "BOF")
	t.BOF = hasBefore && t.Before == nil
	if a.err != nil {
		return nil, a.err
	}
	switch {
	case hasAfter && hasBefore:
		return nil, &contract.AttrError{Attr: "insert_before", Msg: "cannot be set together with insert_after"}
	case !t.Absent && !hasLine:
		return nil, &contract.AttrError{Attr: "line", Msg: "is required with state = \"present\""}
	case t.Absent && !hasLine && t.Regexp == nil:
		return nil, &contract.AttrError{Attr: "regexp", Msg: "state = \"absent\" needs regexp (or line) to say which lines to remove"}
	case strings.ContainsAny(line, "\n"):
		return nil, &contract.AttrError{Attr: "line", Msg: "must be one line (it contains a newline)"}
	}
	return t, nil
}

// lineTask is an editedFile (modules/edit.go): Check and CheckPath read
// the whole file.
type lineTask struct {
	editedFile
	Line          string
	Regexp        *regexp.Regexp
	After, Before *regexp.Regexp // nil: EOF / BOF or unset
	BOF           bool
	Sensitive     bool
}

func (t *lineTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	return t.sweep(out)(t.diff(out))
}

func (t *lineTask) diff(out contract.CheckOutput) (*contract.Plan, error) {
	r, done, err := t.read("line", out, "set create = true to create it, or manage it with a file task")
	if done != nil || err != nil {
		return done, err
	}
	if r.Type == "missing" {
		return t.plan(contract.Create, nil, t.Line+"\n"), nil
	}
	old := string(r.Content)
	updated := t.edit(old)
	if updated == old {
		return &contract.Plan{}, nil
	}
	return t.plan(contract.Update, r.Content, updated), nil
}

// DiffContent plans the edit of the file holding content, as an earlier
// task's plan leaves it (contract.ContentEditor): the line module's plan
// depends on nothing else (the step keeps the file's owner and mode, read
// when it runs, and checks the content's SHA-256 first).
func (t *lineTask) DiffContent(content []byte) (*contract.Plan, error) {
	return t.Diff(t.contentRead(content))
}

// edit returns content with the line ensured present or absent.
func (t *lineTask) edit(content string) string {
	lines := splitLines(content)
	body := func(l string) string { return strings.TrimSuffix(l, "\n") }
	matches := func(re *regexp.Regexp, l string) bool { return re.MatchString(body(l)) }
	lastMatch := func(re *regexp.Regexp) int {
		for i := len(lines) - 1; i >= 0; i-- {
			if matches(re, lines[i]) {
				return i
			}
		}
		return -1
	}
	if t.Absent {
		var kept []string
		for _, l := range lines {
			if t.Regexp != nil && matches(t.Regexp, l) || t.Regexp == nil && body(l) == t.Line {
				continue
			}
			kept = append(kept, l)
		}
		return strings.Join(kept, "")
	}
	if t.Regexp != nil {
		if i := lastMatch(t.Regexp); i >= 0 {
			lines[i] = t.Line + "\n"
			if i == len(lines)-1 && !strings.HasSuffix(content, "\n") {
				lines[i] = t.Line // keep a missing final newline missing
			}
			return strings.Join(lines, "")
		}
	}
	for _, l := range lines {
		if body(l) == t.Line {
			return content
		}
	}
	at := len(lines)
	switch {
	case t.BOF:
		at = 0
	case t.Before != nil:
		if i := lastMatch(t.Before); i >= 0 {
			at = i
		}
	case t.After != nil:
		if i := lastMatch(t.After); i >= 0 {
			at = i + 1
		}
	}
	if at == len(lines) && len(lines) > 0 && !strings.HasSuffix(lines[at-1], "\n") {
		lines[at-1] += "\n"
	}
	lines = append(lines[:at], append([]string{t.Line + "\n"}, lines[at:]...)...)
	return strings.Join(lines, "")
}

func (t *lineTask) plan(action contract.Action, old []byte, updated string) *contract.Plan {
	c := bytesContent([]byte(updated), t.Sensitive)
	ch := editChange(action, t.Path, old, c, t.Sensitive)
	step := editStep(t.Path, false, old, c, keepOwner, keepMode)
	if action == contract.Create {
		ch.Attrs = append([]contract.AttrChange{{Name: "mode", New: "0644"}}, ch.Attrs...)
		step = editStep(t.Path, true, nil, c, "''", "0644")
	}
	return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{step}, Writes: &contract.FileWrite{Path: t.Path, Content: []byte(updated)}}
}

// The line module edits a file that something else usually provides (a
// package, a file task), so it uses the path (and so its parents) and
// provides nothing.
func (t *lineTask) Provides() []contract.Resource { return nil }

func (t *lineTask) Uses() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.Path}}
}
