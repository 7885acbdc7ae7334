package modules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Group manages a local group with groupadd/groupmod/groupdel (shadow-utils)
// or busybox addgroup/delgroup.
type Group struct{}

func (Group) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "group",
		Summary: "Create, change or remove a local group.",
		Doc: `Manages a group in /etc/group with groupadd, groupmod and groupdel
(shadow-utils), or busybox addgroup and delgroup where those are what the host
has (Alpine). Changing the gid of an existing group needs groupmod.

Other tasks that name the group (a user's group or groups, a file's group) are
ordered after this one.`,
		Attributes: []contract.Attribute{
			{Name: "name", Type: cty.String, Required: true, Doc: "Group name: letters, digits, `_`, `.`, `-`, starting with a letter or `_`, at most 32 characters."},
			stateAttr,
			{Name: "gid", Type: cty.Number, Doc: "Numeric group id. Unset: the system picks one when creating, and an existing group keeps its gid."},
			{Name: "system", Type: cty.Bool, Default: cty.False, Doc: "Create a system group (gid from the system range). Only used when creating."},
		},
		Example: `group "docker" {
  name   = "docker"
  gid    = 998
  system = true
}`,
	}
}

// accountName is what useradd and groupadd accept without --badname.
var accountName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,30}\$?$`)

func checkAccountName(attr, name string) error {
	if !accountName.MatchString(name) {
		return &contract.AttrError{Attr: attr, Msg: fmt.Sprintf("%q is not a valid user or group name: use letters, digits, '_', '.', '-', starting with a letter or '_', at most 32 characters", name)}
	}
	return nil
}

func (Group) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Group{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &groupTask{name: a.str("name"), system: a.boolean("system")}
	if err := checkAccountName("name", t.name); err != nil {
		return nil, err
	}
	if t.state, err = a.state(); err != nil {
		return nil, err
	}
	gid, ok, err := a.integer("gid")
	if err != nil {
		return nil, err
	}
	if ok {
		if gid < 0 || gid > 1<<31-2 {
			return nil, &contract.AttrError{Attr: "gid", Msg: fmt.Sprintf("%d is out of range", gid)}
		}
		t.gid = &gid
	}
	return t, nil
}

type groupTask struct {
	name   string
	state  string
	gid    *int64
	system bool
}

func (t *groupTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "group", Name: t.name}}
}
func (t *groupTask) Uses() []contract.Resource { return nil }

// Facts: the group's entry and the tools, gathered with every other
// account task's on the host (contract.FactChecker).
func (t *groupTask) Facts() []contract.Fact {
	return append(contract.Tools("groupadd", "groupmod", "groupdel", "addgroup", "delgroup"),
		contract.Fact{Kind: contract.FactGroup, Key: t.name})
}

func (t *groupTask) CheckRest() string { return "" }

func (t *groupTask) Check() string { return remote.FactScript(t.Facts()) }

// groupEntry is a parsed /etc/group line.
type groupEntry struct {
	name    string
	gid     int64
	members []string
}

func parseGroupEntry(line string) (groupEntry, error) {
	f := strings.Split(line, ":")
	if len(f) < 4 {
		return groupEntry{}, fmt.Errorf("malformed group entry %q", line)
	}
	gid, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return groupEntry{}, fmt.Errorf("malformed gid in group entry %q", line)
	}
	g := groupEntry{name: f[0], gid: gid}
	if f[3] != "" {
		g.members = strings.Split(f[3], ",")
	}
	return g, nil
}

func (t *groupTask) diff(out contract.CheckOutput) (*contract.Plan, error) {
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", t.name, err)
	}
	f := contract.FactsOf(out, contract.KV{Vals: st.vals})
	shadow := f.Tool("groupadd")
	busybox := !shadow && f.Tool("addgroup")
	subject := "group " + t.name
	line, exists := f.Group(t.name)
	p := &contract.Plan{}
	switch {
	case t.state == "absent" && !exists:
		return p, nil
	case t.state == "absent":
		cmd := shell.Join("groupdel", t.name)
		if !shadow {
			if !f.Tool("delgroup") {
				return nil, fmt.Errorf("%s: neither groupdel nor delgroup is installed on the host", subject)
			}
			cmd = shell.Join("delgroup", t.name)
		}
		p.Changes = append(p.Changes, contract.Change{Action: contract.Delete, Subject: subject})
		p.Steps = append(p.Steps, contract.Step{Script: cmd})
		return p, nil
	case !exists:
		var args []string
		var attrs []contract.AttrChange
		switch {
		case shadow:
			args = []string{"groupadd"}
			if t.gid != nil {
				args = append(args, "-g", strconv.FormatInt(*t.gid, 10))
			}
			if t.system {
				args = append(args, "-r")
			}
		case busybox:
			args = []string{"addgroup"}
			if t.gid != nil {
				args = append(args, "-g", strconv.FormatInt(*t.gid, 10))
			}
			if t.system {
				args = append(args, "-S")
			}
		default:
			return nil, fmt.Errorf("%s: neither groupadd (shadow-utils) nor busybox addgroup is installed on the host", subject)
		}
		if t.gid != nil {
			attrs = append(attrs, contract.AttrChange{Name: "gid", New: strconv.FormatInt(*t.gid, 10)})
		}
		if t.system {
			attrs = append(attrs, contract.AttrChange{Name: "system", New: "true"})
		}
		args = append(args, t.name)
		p.Changes = append(p.Changes, contract.Change{Action: contract.Create, Subject: subject, Attrs: attrs})
		p.Steps = append(p.Steps, contract.Step{Script: shell.Join(args...)})
		return p, nil
	}
	cur, err := parseGroupEntry(line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if t.gid != nil && *t.gid != cur.gid {
		if !f.Tool("groupmod") {
			return nil, fmt.Errorf("%s: changing the gid needs groupmod (shadow-utils; on Alpine: apk add shadow)", subject)
		}
		p.Changes = append(p.Changes, contract.Change{Action: contract.Update, Subject: subject,
			Attrs: []contract.AttrChange{{Name: "gid", Old: strconv.FormatInt(cur.gid, 10), New: strconv.FormatInt(*t.gid, 10)}}})
		p.Steps = append(p.Steps, contract.Step{Script: shell.Join("groupmod", "-g", strconv.FormatInt(*t.gid, 10), t.name)})
	}
	return p, nil
}
