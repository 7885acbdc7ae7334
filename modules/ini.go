package modules

import (
	"cmp"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// iniModule sets or removes one key of an INI-style file, keeping the rest
// of the file as it is. It is the worked example of docs/writing-a-module.md,
// whose code blocks are checked against this file.
type iniModule struct{}

var iniSpec = &contract.Spec{
	Name:    "ini",
	Summary: "Set or remove a key in a section of an INI-style file.",
	Doc: `Edits one "key = value" line of an INI-style file (php.ini, my.cnf,
systemd units and drop-ins, configparser files; up to 1 MiB) and leaves every other
line, comment and blank line as it is. While planning, drover reads the file
and computes the new content in Go; the plan shows a unified diff.

A section starts at a line "[name]" and runs to the next one; the lines
before the first section header are the file's global section (section
unset). A key line is "key = value" ("key=value" too, and the value is
compared without the spaces around it); lines starting with "#" or ";" are
comments, so a commented-out key is left alone. Names are compared exactly
(case matters).

With state = "present", the first line of the key in the section gets the
value (a line that already has it is not rewritten), further lines of the
same key in that section are removed (parsers disagree on which one wins),
and a missing key is added after the section's last non-blank line. A
missing section is added at the end of the file. Without key, the section is
only made to exist. With state = "absent", every line of the key in the
section is removed; without key, the whole section is.

The new content is written to a temporary file that is renamed over the old
one, which keeps its owner and mode unless they are set. Just before that,
the apply verifies that the file still has the checksum it had when it was
read, and otherwise fails with "changed since it was read; re-run".`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the file on the host."},
		{Name: "section", Type: cty.String, Doc: "The section's name, without brackets. Unset: the lines before the first section."},
		{Name: "key", Type: cty.String, Doc: "The key. Unset: the whole section is managed (made to exist, or removed)."},
		{Name: "value", Type: cty.String, Doc: "The key's value, one line. Required with key and state = \"present\"."},
		presenceAttr,
		{Name: "create", Type: cty.Bool, Default: cty.True, Doc: "Create the file when it does not exist (state = \"present\"); false makes a missing file an error."},
		{Name: "no_extra_spaces", Type: cty.Bool, Default: cty.False, Doc: "Write \"key=value\" instead of \"key = value\"."},
		modeAttr, ownerAttr, groupAttr,
	},
	Example: `ini "php_memory" {
  path    = "/etc/php/8.2/fpm/php.ini"
  section = "PHP"
  key     = "memory_limit"
  value   = "256M"
}`,
}

func (iniModule) Spec() *contract.Spec { return iniSpec }

// iniTask is one configured ini task. It is an editedFile
// (modules/edit.go): Check, and CheckPath for the batched read, fetch the
// whole file; read interprets what they found.
type iniTask struct {
	editedFile
	Section, Key, Value string
	NoSpaces, Sensitive bool
	Meta                fileMeta
}

func (iniModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(iniSpec, cfg)
	t := &iniTask{Meta: readMeta(a)}
	t.Path, _ = a.absPath("path")
	t.Section, _ = a.str("section")
	key, hasKey := a.str("key")
	value, hasValue := a.str("value")
	t.Key, t.Value = key, value
	t.Absent = a.enum("state", "present", "absent") == "absent"
	t.Create, t.NoSpaces = a.boolean("create"), a.boolean("no_extra_spaces")
	t.Sensitive = a.sensitive("value")
	if a.err != nil {
		return nil, a.err
	}
	switch {
	case strings.ContainsAny(t.Section, "[]\r\n") || strings.TrimSpace(t.Section) != t.Section:
		return nil, &contract.AttrError{Attr: "section", Msg: "must be a name without brackets, newlines or spaces around it"}
	case hasKey && !validIniKey(key):
		return nil, &contract.AttrError{Attr: "key", Msg: `must be a name without "=", newlines or spaces around it, not starting with "#", ";" or "["`}
	case strings.ContainsAny(value, "\r\n") || strings.TrimSpace(value) != value:
		return nil, &contract.AttrError{Attr: "value", Msg: "must be one line without spaces around it (INI parsers strip them)"}
	case t.Absent && hasValue:
		return nil, &contract.AttrError{Attr: "value", Msg: "cannot be set with state = \"absent\": every line of the key is removed"}
	case !t.Absent && hasKey && !hasValue:
		return nil, &contract.AttrError{Attr: "value", Msg: "is required with key and state = \"present\""}
	case !hasKey && t.Section == "":
		return nil, &contract.AttrError{Attr: "key", Msg: "is required when section is unset (the global section cannot be added or removed)"}
	}
	return t, nil
}

// validIniKey reports whether k can be a key: a line holding it must read back
// as that key, never as a comment, a section header or another key.
func validIniKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, "=\r\n") && strings.TrimSpace(k) == k && !strings.ContainsAny(k[:1], "#;[")
}

func (t *iniTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	r, done, err := t.read("ini", out, "set create = true to create it")
	if done != nil || err != nil {
		return done, err
	}
	// What a killed run left beside the file is removed first (and said).
	if r.Type == "missing" {
		return sweepStale(t.create(), t.Path, r.Stale), nil
	}
	return sweepStale(t.update(r), t.Path, r.Stale), nil
}

// create plans a new file holding the section and key.
func (t *iniTask) create() *contract.Plan {
	c := bytesContent([]byte(t.edit("")), t.Sensitive)
	mode := uint32(0o644)
	if t.Meta.HasMode {
		mode = t.Meta.Mode
	}
	ch := editChange(contract.Create, t.Path, nil, c, t.Sensitive)
	meta := []contract.AttrChange{{Name: "mode", New: fmtMode(mode)}}
	if t.Meta.Owner != "" {
		meta = append(meta, contract.AttrChange{Name: "owner", New: t.Meta.Owner})
	}
	if t.Meta.Group != "" {
		meta = append(meta, contract.AttrChange{Name: "group", New: t.Meta.Group})
	}
	ch.Attrs = append(meta, ch.Attrs...)
	owner := shell.Quote(chownSpec(t.Meta.Owner, t.Meta.Group))
	return &contract.Plan{
		Changes: []contract.Change{ch},
		Steps:   []contract.Step{editStep(t.Path, true, nil, c, owner, fmtMode(mode))},
	}
}

// update plans the edit of an existing file, and its owner and mode.
func (t *iniTask) update(r remoteFile) *contract.Plan {
	metaCh, fix := metaChanges(t.Meta, r)
	updated := t.edit(string(r.Content))
	if updated == string(r.Content) {
		if len(metaCh) == 0 {
			return &contract.Plan{}
		}
		return &contract.Plan{
			Changes: []contract.Change{{Action: contract.Update, Subject: t.Path, Attrs: metaCh}},
			Steps:   []contract.Step{{Script: safeFS + safeMeta(t.Path, false, fix)}},
		}
	}
	c := bytesContent([]byte(updated), t.Sensitive)
	ch := editChange(contract.Update, t.Path, r.Content, c, t.Sensitive)
	ch.Attrs = append(metaCh, ch.Attrs...)
	owner, mode := keepOwner, keepMode
	if fix.Owner != "" {
		// Owner or group set: the one not set stays as Check saw it.
		owner = shell.Quote(chownSpec(cmp.Or(t.Meta.Owner, r.UID), cmp.Or(t.Meta.Group, r.GID)))
	}
	if t.Meta.HasMode {
		mode = fmtMode(t.Meta.Mode)
	}
	return &contract.Plan{
		Changes: []contract.Change{ch},
		Steps:   []contract.Step{editStep(t.Path, false, r.Content, c, owner, mode)},
	}
}

// edit returns content with the section and key as the task wants them.
// It is the whole module's logic, and pure: table-tested in ini_test.go.
func (t *iniTask) edit(content string) string {
	lines := splitLines(content)
	nl := "\n"
	if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
		nl = "\r\n" // keep a file's line endings
	}
	head, end, found := iniSection(lines, t.Section)
	switch {
	case !found && t.Absent:
		return content
	case !found:
		lines = terminate(lines, nl)
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
			lines = append(lines, nl)
		}
		lines = append(lines, "["+t.Section+"]"+nl)
		if t.Key != "" {
			lines = append(lines, t.line()+nl)
		}
	case t.Key == "" && t.Absent:
		if end == len(lines) {
			// The last section: also the blank lines that set it apart,
			// as adding it put one there.
			for head > 0 && strings.TrimSpace(lines[head-1]) == "" {
				head--
			}
		}
		lines = slices.Delete(lines, head, end)
	case t.Key == "":
		return content
	default:
		lines = t.setKey(lines, head, end, nl)
	}
	return strings.Join(lines, "")
}

// setKey sets (or with Absent removes) the key in the section whose lines
// are lines[head+1:end].
func (t *iniTask) setKey(lines []string, head, end int, nl string) []string {
	var out []string
	seen := false
	for i, l := range lines {
		k, v := iniKeyValue(l)
		if i <= head || i >= end || k != t.Key {
			out = append(out, l)
			continue
		}
		if t.Absent || seen {
			continue // removed, or a duplicate of the first
		}
		seen = true
		if v != t.Value {
			l = t.line() + l[len(strings.TrimRight(l, "\r\n")):] // keep its line ending
		}
		out = append(out, l)
	}
	if t.Absent || seen {
		return out
	}
	// A new key goes after the section's last non-blank line.
	at := head + 1
	for i := end - 1; i > head; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			at = i + 1
			break
		}
	}
	out = terminate(out[:at], nl)
	return append(append(out, t.line()+nl), lines[at:]...)
}

// line is the key's line, without its newline.
func (t *iniTask) line() string {
	if t.NoSpaces {
		return t.Key + "=" + t.Value
	}
	return strings.TrimRight(t.Key+" = "+t.Value, " ")
}

// iniSection finds the section name among lines: its header's index (-1
// for the global section, which always exists) and the index of the next
// header (or len(lines)).
func iniSection(lines []string, name string) (head, end int, found bool) {
	head = -1
	if name != "" {
		head = slices.IndexFunc(lines, func(l string) bool { n, ok := iniHeader(l); return ok && n == name })
		if head < 0 {
			return -1, -1, false
		}
	}
	for end = head + 1; end < len(lines); end++ {
		if _, ok := iniHeader(lines[end]); ok {
			break
		}
	}
	return head, end, true
}

// iniHeader is the section name of a "[name]" line.
func iniHeader(l string) (string, bool) {
	s := strings.TrimSpace(l)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return "", false
	}
	return strings.TrimSpace(s[1 : len(s)-1]), true
}

// iniKeyValue is the key and value of a "key = value" line; "" for a
// comment, a header, a blank line or a line without "=".
func iniKeyValue(l string) (key, value string) {
	s := strings.TrimSpace(l)
	if s == "" || strings.ContainsAny(s[:1], "#;[") {
		return "", ""
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", ""
	}
	return strings.TrimSpace(k), strings.TrimSpace(v)
}

// terminate ends the last line with nl when it has no newline.
func terminate(lines []string, nl string) []string {
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += nl
	}
	return lines
}

// The file may be provided by another task (a package, a template) and
// its owner and group by user and group tasks: ini runs after them.
func (t *iniTask) Provides() []contract.Resource { return nil }

func (t *iniTask) Uses() []contract.Resource {
	return append([]contract.Resource{{Kind: "path", Name: t.Path}}, t.Meta.uses()...)
}
