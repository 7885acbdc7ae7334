package modules

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/modules/contract"
)

// attrs reads a task's attribute values. The engine gives an object with
// every Spec attribute; attributes missing from the object (tests, older
// engines) or null fall back to the Spec default. Values may carry cty marks
// (the engine marks sensitive values): they are stripped for reading, and an
// attribute that held any mark is reported by sensitive().
//
// Errors are collected, so that Configure can report the first one after
// reading everything.
type attrs struct {
	spec   *contract.Spec
	obj    map[string]cty.Value
	marked map[string]bool
	err    error
}

func readAttrs(spec *contract.Spec, cfg contract.Config) *attrs {
	a := &attrs{spec: spec, obj: map[string]cty.Value{}, marked: map[string]bool{}}
	v := cfg.Values
	if v == cty.NilVal || v.IsNull() {
		return a
	}
	v, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if len(pm.Path) > 0 {
			if ga, ok := pm.Path[0].(cty.GetAttrStep); ok {
				a.marked[ga.Name] = true
				continue
			}
		}
		// The whole object is marked: every attribute is sensitive.
		for _, at := range spec.Attributes {
			a.marked[at.Name] = true
		}
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		a.fail("", "the task's attributes are not an object (engine bug)")
		return a
	}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		a.obj[k.AsString()] = ev
	}
	return a
}

func (a *attrs) fail(name, format string, args ...any) {
	if a.err == nil {
		a.err = &contract.AttrError{Attr: name, Msg: fmt.Sprintf(format, args...)}
	}
}

func (a *attrs) attr(name string) *contract.Attribute {
	for i := range a.spec.Attributes {
		if a.spec.Attributes[i].Name == name {
			return &a.spec.Attributes[i]
		}
	}
	panic("modules: " + a.spec.Name + " has no attribute " + name)
}

// get returns the value of name converted to its Spec type, with the default
// applied; cty.NilVal when it is null.
func (a *attrs) get(name string) cty.Value {
	at := a.attr(name)
	v, ok := a.obj[name]
	if !ok || v.IsNull() {
		v = at.Default
	}
	if v == cty.NilVal || v.IsNull() {
		if at.Required {
			a.fail(name, "is required")
		}
		return cty.NilVal
	}
	if !v.IsWhollyKnown() {
		a.fail(name, "its value is not known until the play runs; a module attribute must be known when the task is planned")
		return cty.NilVal
	}
	if at.Type != cty.DynamicPseudoType {
		cv, err := convert.Convert(v, at.Type)
		if err != nil {
			a.fail(name, "must be %s: %v", at.Type.FriendlyName(), err)
			return cty.NilVal
		}
		v = cv
	}
	return v
}

func (a *attrs) sensitive(name string) bool { return a.marked[name] || a.attr(name).Sensitive }

func (a *attrs) anySensitive() bool {
	for _, at := range a.spec.Attributes {
		if a.marked[at.Name] {
			return true
		}
	}
	return false
}

// str returns a string attribute and whether it is set.
func (a *attrs) str(name string) (string, bool) {
	v := a.get(name)
	if v == cty.NilVal {
		return "", false
	}
	if v.Type() != cty.String {
		cv, err := convert.Convert(v, cty.String)
		if err != nil {
			a.fail(name, "must be a string")
			return "", false
		}
		v = cv
	}
	return v.AsString(), true
}

func (a *attrs) boolean(name string) bool {
	v := a.get(name)
	if v == cty.NilVal {
		return false
	}
	return v.True()
}

func (a *attrs) strMap(name string) map[string]string {
	v := a.get(name)
	if v == cty.NilVal {
		return nil
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() {
			a.fail(name, "the value of %q is null", k.AsString())
			continue
		}
		out[k.AsString()] = ev.AsString()
	}
	return out
}

// strOrList reads an attribute that is either a string or a list of strings.
func (a *attrs) strOrList(name string) (s string, list []string, isList bool) {
	v := a.get(name)
	if v == cty.NilVal {
		return "", nil, false
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil, false
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			sv, err := convert.Convert(ev, cty.String)
			if err != nil || sv.IsNull() {
				a.fail(name, "every element must be a string")
				return "", nil, true
			}
			list = append(list, sv.AsString())
		}
		return "", list, true
	default:
		a.fail(name, "must be a string or a list of strings, not %s", ty.FriendlyName())
		return "", nil, false
	}
}

// enum reads a string attribute that must be one of values.
func (a *attrs) enum(name string, values ...string) string {
	s, _ := a.str(name)
	for _, v := range values {
		if s == v {
			return s
		}
	}
	a.fail(name, "must be one of %s, not %q", quoteList(values), s)
	return values[0]
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// absPath reads a path attribute that must be an absolute, clean path on the
// host. The path is cleaned of trailing slashes and "//"; a ".." component is
// refused because what it names depends on symlinks on the host.
func (a *attrs) absPath(name string) (string, bool) {
	p, ok := a.str(name)
	if !ok {
		return "", false
	}
	if err := checkAbsPath(p); err != "" {
		a.fail(name, "%s", err)
		return "", false
	}
	return path.Clean(p), true
}

func checkAbsPath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("must be an absolute path (starting with /), not %q", p)
	case strings.ContainsRune(p, 0):
		return "must not contain a NUL byte"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return fmt.Sprintf("must not contain \"..\" (%q); write the path it means", p)
		}
	}
	return ""
}

var modeRE = regexp.MustCompile(`^0?[0-7]{3,4}$`)

// mode reads an octal permission string such as "0644" or "2775"; ok is
// false when the attribute is not set.
func (a *attrs) mode(name string) (mode uint32, ok bool) {
	s, set := a.str(name)
	if !set {
		return 0, false
	}
	if !modeRE.MatchString(s) {
		a.fail(name, "must be an octal mode string like \"0644\" or \"2775\" (3 or 4 octal digits, optionally after a 0), not %q", s)
		return 0, false
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		a.fail(name, "must be an octal mode no larger than 7777, not %q", s)
		return 0, false
	}
	return uint32(n), true
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?$`)

// account reads an owner or group: a user/group name or a numeric id.
func (a *attrs) account(name string) string {
	s, ok := a.str(name)
	if !ok {
		return ""
	}
	if !nameRE.MatchString(s) || len(s) > 64 {
		a.fail(name, "must be a user or group name (letters, digits, _ . - @, not starting with -) or a numeric id, not %q", s)
		return ""
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
