package modules

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// sysVals reads the decoded attributes of a task through the package's
// attribute reader (attrs.go), which applies Spec defaults, converts types
// and strips the engine's sensitivity marks. Every attribute is read once up
// front so that a type error or a missing required attribute is reported
// before anything else.
type sysVals struct{ a *attrs }

func newSysVals(spec *contract.Spec, cfg contract.Config) (sysVals, error) {
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
		return 0, false, &contract.AttrError{Attr: name, Msg: fmt.Sprintf("must be a whole number, got %s", bf.Text('g', -1))}
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, false, &contract.AttrError{Attr: name, Msg: "number out of range"}
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
	return "", &contract.AttrError{Attr: "state", Msg: fmt.Sprintf("must be \"present\" or \"absent\", got %q", s)}
}

// stateAttr is the state attribute every system module shares.
var stateAttr = contract.Attribute{
	Name: "state", Type: cty.String, Default: cty.StringVal("present"),
	Doc: `"present" or "absent".`,
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
