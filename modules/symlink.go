package modules

import (
	"fmt"
	"path"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// symlinkModule manages a symbolic link.
type symlinkModule struct{}

var symlinkSpec = &contract.Spec{
	Name:    "symlink",
	Summary: "Create, retarget or remove a symbolic link.",
	Doc: `Makes path a symbolic link to target. The link is created under a temporary
name in the same directory and renamed over path, so path always exists: a
reader sees the old link or the new one. The target is written as given (a
relative target is relative to the link's directory) and need not exist.

An existing regular file, device or empty directory at path is an error unless
force = true, which replaces it; a non-empty directory is never replaced.
With state = "absent" the link is removed; anything else at path is an error.`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the link on the host."},
		{Name: "target", Type: cty.String, Doc: "What the link points to, absolute or relative to the link's directory. Required when state is \"present\"."},
		{Name: "force", Type: cty.Bool, Default: cty.False, Doc: "Replace a regular file, device or empty directory at path. A non-empty directory is never replaced."},
		presenceAttr,
	},
	Example: `symlink "current" {
  path   = "/srv/app/current"
  target = "/srv/app/releases/v2"
}`,
}

func (symlinkModule) Spec() *contract.Spec { return symlinkSpec }

func (symlinkModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(symlinkSpec, cfg)
	t := &symlinkTask{}
	t.Path, _ = a.absPath("path")
	t.Absent = a.enum("state", "present", "absent") == "absent"
	t.Force = a.boolean("force")
	target, ok := a.str("target")
	if a.err != nil {
		return nil, a.err
	}
	if !t.Absent {
		switch {
		case !ok || target == "":
			return nil, &contract.AttrError{Attr: "target", Msg: "is required when state is \"present\""}
		case strings.ContainsRune(target, 0):
			return nil, &contract.AttrError{Attr: "target", Msg: "must not contain a NUL byte"}
		}
	}
	if t.Path == "/" {
		return nil, &contract.AttrError{Attr: "path", Msg: "cannot be /"}
	}
	t.Target = target
	return t, nil
}

type symlinkTask struct {
	Path, Target string
	Force        bool
	Absent       bool
}

func (t *symlinkTask) Check() string {
	// First: the target blob ends the output. The new links a killed run
	// left beside the path (safeLink's temporary names) are counted.
	return "set -e\np=" + shell.Quote(t.Path) + "\n" + staleCheck("stale", t.Path) + `if [ -L "$p" ]; then echo type=link; echo 'tail target'; readlink "$p"
elif [ -d "$p" ]; then echo type=dir; if [ -z "$(ls -A "$p")" ]; then echo empty=1; fi
elif [ -f "$p" ]; then echo type=file
elif [ -e "$p" ]; then echo type=other
else echo type=missing
fi
`
}

func (t *symlinkTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	r, err := parseRemote(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	p, err := t.diff(r)
	if err != nil {
		return nil, err
	}
	return sweepStale(p, t.Path, r.Stale), nil
}

func (t *symlinkTask) diff(r remoteFile) (*contract.Plan, error) {
	if t.Absent {
		switch r.Type {
		case "missing":
			return &contract.Plan{}, nil
		case "link":
			return &contract.Plan{
				Changes: []contract.Change{{Action: contract.Delete, Subject: t.Path, Attrs: []contract.AttrChange{{Name: "target", Old: r.LinkTarget}}}},
				Steps:   []contract.Step{{Script: safeFS + safeRemove(t.Path, false)}},
			}, nil
		}
		return nil, fmt.Errorf("%s is not a symbolic link (it is a %s); drover will not remove it", t.Path, typeName(r.Type))
	}
	ch := contract.Change{Action: contract.Update, Subject: t.Path}
	var pre string
	switch r.Type {
	case "link":
		if r.LinkTarget == t.Target {
			return &contract.Plan{}, nil
		}
		ch.Attrs = []contract.AttrChange{{Name: "target", Old: r.LinkTarget, New: t.Target}}
	case "missing":
		ch.Action = contract.Create
		ch.Attrs = []contract.AttrChange{{Name: "target", New: t.Target}}
	case "dir":
		if !r.Empty {
			return nil, fmt.Errorf("%s is a non-empty directory; a symlink never replaces one (move its content away first)", t.Path)
		}
		if !t.Force {
			return nil, fmt.Errorf("%s is an empty directory; set force = true to replace it with the link", t.Path)
		}
		pre = "rmdir -- \"$b\"\n"
		ch.Attrs = []contract.AttrChange{{Name: "type", Old: "directory", New: "symlink"}, {Name: "target", New: t.Target}}
	default:
		if !t.Force {
			return nil, fmt.Errorf("%s is a %s; set force = true to replace it with the link", t.Path, typeName(r.Type))
		}
		ch.Attrs = []contract.AttrChange{{Name: "type", Old: typeName(r.Type), New: "symlink"}, {Name: "target", New: t.Target}}
	}
	script := safeFS + safeLink(t.Path, t.Target, pre)
	return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Script: script}}}, nil
}

func typeName(t string) string {
	switch t {
	case "file":
		return "regular file"
	case "dir":
		return "directory"
	case "link":
		return "symbolic link"
	case "other":
		return "special file (device, socket or FIFO)"
	}
	return t
}

func (t *symlinkTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.Path}}
}

func (t *symlinkTask) Uses() []contract.Resource {
	return append([]contract.Resource{{Kind: "path", Name: path.Dir(t.Path)}}, t.OrdersOnly()...)
}

// OrdersOnly is the target (contract.OrderOnly): the link is made after
// what provides it, but Check reads the link alone (never through it), so
// a change to the target leaves that read fresh.
func (t *symlinkTask) OrdersOnly() []contract.Resource {
	if !t.Absent && strings.HasPrefix(t.Target, "/") && checkAbsPath(t.Target) == "" {
		if tp := path.Clean(t.Target); tp != t.Path && !strings.HasPrefix(t.Path, tp+"/") {
			return []contract.Resource{{Kind: "path", Name: tp}}
		}
	}
	return nil
}
