package modules

import (
	"bytes"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
)

// sysVals reads the decoded attributes of a task through the package's
// attribute reader (values.go), which applies Spec defaults, converts types
// and strips the engine's sensitivity marks. Every attribute is read once up
// front so that a type error or a missing required attribute is reported
// before anything else.
type sysVals struct{ a *attrs }

func newSysVals(spec *Spec, cfg Config) (sysVals, error) {
	v := sysVals{readAttrs(spec, cfg)}
	for _, at := range spec.Attributes {
		v.a.get(at.Name)
	}
	if v.a.err != nil {
		return v, v.a.err
	}
	return v, nil
}

// set reports whether the attribute has a (non-null) value.
func (v sysVals) set(name string) bool { return v.a.get(name) != cty.NilVal }

func (v sysVals) str(name string) string {
	s, _ := v.a.str(name)
	return s
}

func (v sysVals) boolean(name string) bool { return v.a.boolean(name) }

func (v sysVals) strMap(name string) map[string]string { return v.a.strMap(name) }

// integer returns a whole-number attribute; ok is false when it is unset.
func (v sysVals) integer(name string) (n int64, ok bool, err error) {
	val := v.a.get(name)
	if val == cty.NilVal || val.Type() != cty.Number {
		return 0, false, nil
	}
	bf := val.AsBigFloat()
	if !bf.IsInt() {
		return 0, false, &AttrError{Attr: name, Msg: fmt.Sprintf("must be a whole number, got %s", bf.Text('g', -1))}
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, false, &AttrError{Attr: name, Msg: "number out of range"}
	}
	return i, true, nil
}

// strs returns a list of strings; nil when unset.
func (v sysVals) strs(name string) []string {
	val := v.a.get(name)
	if val == cty.NilVal || !val.CanIterateElements() {
		return nil
	}
	out := []string{}
	for it := val.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			v.a.fail(name, "elements must not be null")
			continue
		}
		out = append(out, e.AsString())
	}
	return out
}

// state returns the "state" attribute, "present" when unset, or an error for
// anything but present/absent.
func (v sysVals) state() (string, error) {
	s := v.str("state")
	switch s {
	case "":
		return "present", nil
	case "present", "absent":
		return s, nil
	}
	return "", &AttrError{Attr: "state", Msg: fmt.Sprintf("must be \"present\" or \"absent\", got %q", s)}
}

// stateAttr is the state attribute every system module shares.
var stateAttr = Attribute{
	Name: "state", Type: cty.String, Default: cty.StringVal("present"),
	Doc: `"present" or "absent".`,
}

// kv is the parsed output of a Check fragment written in the system modules'
// format: "key=value" lines, and blobs written as a line "blob KEY SIZE"
// followed by exactly SIZE bytes and a newline. Sizes, not markers, delimit
// blobs, so no content can forge a key.
type kv struct {
	vals  map[string]string
	blobs map[string][]byte
}

func parseKV(out []byte) (kv, error) {
	r := kv{vals: map[string]string{}, blobs: map[string][]byte{}}
	for len(out) > 0 {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			nl = len(out)
		}
		line := string(out[:nl])
		out = out[min(nl+1, len(out)):]
		if rest, ok := strings.CutPrefix(line, "blob "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				return r, fmt.Errorf("malformed state line %q", line)
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > len(out) {
				return r, fmt.Errorf("malformed or cut state blob %q", line)
			}
			r.blobs[f[0]] = bytes.Clone(out[:n])
			out = out[n:]
			if len(out) > 0 && out[0] == '\n' {
				out = out[1:]
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			r.vals[k] = v
		}
	}
	return r, nil
}

func (k kv) has(key string) bool { _, ok := k.vals[key]; return ok }

// shFileBlob is a sh fragment printing the file at path (a shell word or
// "$var") as blob key, when it is a readable regular file.
func shFileBlob(key, pathWord string) string {
	return fmt.Sprintf("if [ -f %[2]s ] && [ -r %[2]s ]; then printf 'blob %[1]s %%s\\n' \"$(($(wc -c < %[2]s)))\"; cat %[2]s; echo; fi\n", key, pathWord)
}

// shVarBlob is a sh fragment printing the content of variable name as blob key.
func shVarBlob(key, name string) string {
	return fmt.Sprintf("printf 'blob %[1]s %%s\\n' \"$(($(printf %%s \"$%[2]s\" | wc -c)))\"; printf '%%s\\n' \"$%[2]s\"\n", key, name)
}

// shTools is a sh fragment printing "tool.NAME=1" for each tool found. It
// forks nothing: command -v is a builtin and its output is not captured.
func shTools(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "if command -v %[1]s >/dev/null 2>&1; then echo 'tool.%[2]s=1'; fi\n", shell.Quote(n), n)
	}
	return b.String()
}

// shRequireDir is a sh line that fails with a clear message unless dir
// exists. Steps check their directory when they run rather than at plan
// time: an earlier task of the play may create it.
func shRequireDir(dir string) string {
	return fmt.Sprintf("[ -d %[1]s ] || { printf '%%s does not exist on the host: create it first (a directory task)\\n' %[1]s >&2; exit 1; }\n", shell.Quote(dir))
}

// ownerSpec is chown's OWNER[:GROUP] argument: "owner:" gives the owner's
// login group when group is unset, ":group" changes the group only.
func ownerSpec(owner, group string) string {
	switch {
	case owner != "" && group != "":
		return owner + ":" + group
	case owner != "":
		return owner + ":"
	}
	return ":" + group
}

// hasNewline reports whether s holds a line break that would split a line of
// a configuration file.
func hasNewline(s string) bool { return strings.ContainsAny(s, "\n\r") }

// checkFailed wraps a failed Check into an error.
func checkFailed(what string, out CheckOutput) error {
	msg := strings.TrimSpace(string(out.Stderr))
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", out.ExitCode)
	}
	return fmt.Errorf("reading the state of %s: %s", what, msg)
}
