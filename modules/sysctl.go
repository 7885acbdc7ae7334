package modules

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Sysctl sets a kernel parameter now (sysctl -w) and persistently (a line in
// a file of /etc/sysctl.d, read at boot).
type Sysctl struct{}

const sysctlDefaultFile = "/etc/sysctl.d/99-drover.conf"

func (Sysctl) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "sysctl",
		Summary: "Set a kernel parameter now and across reboots.",
		Doc: `Keeps a "name = value" line in a sysctl.d file (edited in a temporary copy
and renamed, mode 0644) and, with reload, sets the running kernel's value
with sysctl -w when it differs. Values are compared with whitespace
normalised, so "4096 87380 6291456" matches what the kernel prints with tabs.

state = "absent" removes the line from the file (and the file when nothing is
left in it); the running value is left alone, since drover cannot know what
it was before.`,
		Attributes: []contract.Attribute{
			{Name: "name", Type: cty.String, Required: true, Doc: "Parameter name, e.g. net.ipv4.ip_forward."},
			{Name: "value", Type: cty.String, Doc: "Value, e.g. \"1\". Required when state = \"present\"."},
			stateAttr,
			{Name: "file", Type: cty.String, Default: cty.StringVal(sysctlDefaultFile), Doc: "The file that holds the line: an absolute path, usually in /etc/sysctl.d and ending in .conf."},
			{Name: "reload", Type: cty.Bool, Default: cty.True, Doc: "Also set the running kernel's value now with sysctl -w."},
		},
		Example: `sysctl "forwarding" {
  name  = "net.ipv4.ip_forward"
  value = "1"
  file  = "/etc/sysctl.d/60-router.conf"
}`,
	}
}

var sysctlName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./:@-]*$`)

type sysctlTask struct {
	name, value, file string
	state             string
	reload            bool
}

func (Sysctl) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Sysctl{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &sysctlTask{name: a.str("name"), value: normSpace(a.str("value")), file: a.str("file"),
		reload: !a.set("reload") || a.boolean("reload")}
	if t.state, err = a.state(); err != nil {
		return nil, err
	}
	if !sysctlName.MatchString(t.name) {
		return nil, &contract.AttrError{Attr: "name", Msg: fmt.Sprintf("%q is not a sysctl name (letters, digits and . / _ -)", t.name)}
	}
	if t.state == "present" && !a.set("value") {
		return nil, &contract.AttrError{Attr: "value", Msg: "is required when state = \"present\""}
	}
	if hasNewline(a.str("value")) || strings.ContainsRune(t.value, 0) {
		return nil, &contract.AttrError{Attr: "value", Msg: "must be one line"}
	}
	if t.file == "" {
		t.file = sysctlDefaultFile
	}
	if !path.IsAbs(t.file) || hasNewline(t.file) {
		return nil, &contract.AttrError{Attr: "file", Msg: fmt.Sprintf("must be an absolute path, got %q", t.file)}
	}
	t.file = path.Clean(t.file)
	return t, nil
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func (t *sysctlTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.file}}
}
func (t *sysctlTask) Uses() []contract.Resource { return nil }

func (t *sysctlTask) Check() string {
	var b strings.Builder
	b.WriteString(shTools("sysctl"))
	if t.state == "present" && t.reload {
		fmt.Fprintf(&b, "if v=$(sysctl -n %s 2>&1); then %selse %sfi\n", shell.Quote(t.name), shVarBlob("kernel", "v"), shVarBlob("kernelerr", "v"))
	}
	b.WriteString(shFileBlob("file", shell.Quote(t.file)))
	return b.String()
}

// persisted returns the values the file sets for the name, in order.
func (t *sysctlTask) persisted(content string) []string {
	var vals []string
	for _, l := range strings.Split(content, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		if strings.TrimPrefix(strings.TrimSpace(k), "-") == t.name {
			vals = append(vals, normSpace(v))
		}
	}
	return vals
}

func (t *sysctlTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := "sysctl " + t.name
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	vals := t.persisted(string(st.blobs["file"]))
	p := &contract.Plan{}
	if t.state == "absent" {
		if len(vals) == 0 {
			return p, nil
		}
		p.Changes = append(p.Changes, contract.Change{Action: contract.Delete, Subject: subject,
			Attrs: []contract.AttrChange{{Name: "file", Old: t.file}, {Name: "value", Old: strings.Join(vals, ", ")}}})
		p.Steps = append(p.Steps, contract.Step{Script: t.persistScript()})
		return p, nil
	}
	change := contract.Change{Action: contract.Update, Subject: subject}
	persistOK := len(vals) > 0
	for _, v := range vals {
		persistOK = persistOK && v == t.value
	}
	if !persistOK {
		if len(vals) == 0 {
			change.Action = contract.Create
		}
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "value (" + t.file + ")", Old: strings.Join(vals, ", "), New: t.value})
		p.Steps = append(p.Steps, contract.Step{Script: t.persistScript()})
	}
	if t.reload {
		if !st.has("tool.sysctl") {
			return nil, fmt.Errorf("%s: sysctl is not installed on the host (Debian: apt-get install procps), or set reload = false", subject)
		}
		if e, bad := st.blobs["kernelerr"]; bad {
			return nil, fmt.Errorf("%s: the kernel has no such parameter: %s", subject, strings.TrimSpace(string(e)))
		}
		if cur := normSpace(string(st.blobs["kernel"])); cur != t.value {
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "value (running kernel)", Old: cur, New: t.value})
			p.Steps = append(p.Steps, contract.Step{Script: shell.Join("sysctl", "-q", "-w", t.name+"="+t.value)})
		}
	}
	if len(change.Attrs) > 0 {
		p.Changes = append(p.Changes, change)
	}
	return p, nil
}

// sysctlEditAwk replaces every line setting K by one "K = V" line (P=1) or
// drops them (P=0); a missing line is appended.
const sysctlEditAwk = `awk 'BEGIN { k = ENVIRON["K"]; l = k " = " ENVIRON["V"]; p = ENVIRON["P"] == "1" }
{ s = $0; sub(/^[ \t]+/, "", s); key = ""
  c = substr(s, 1, 1); i = index(s, "=")
  if (c != "#" && c != ";" && i > 0) { key = substr(s, 1, i - 1); sub(/[ \t]+$/, "", key); sub(/^-/, "", key) } }
key == k { if (p && !done) { print l; done = 1 }; next }
{ print }
END { if (p && !done) print l }'`

func (t *sysctlTask) persistScript() string {
	var b strings.Builder
	present := "0"
	if t.state == "present" {
		present = "1"
	}
	b.WriteString(safeFS)
	fmt.Fprintf(&b, "K=%s V=%s P=%s\nexport K V P\n", shell.Quote(t.name), shell.Quote(t.value), present)
	b.WriteString(safeRewrite(t.file, sysctlEditAwk))
	return b.String()
}
