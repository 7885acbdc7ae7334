package modules

import (
	"fmt"
	"path"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// directoryModule manages a directory.
type directoryModule struct{}

var directorySpec = &contract.Spec{
	Name:    "directory",
	Summary: "Create or remove a directory; manage its mode and ownership.",
	Doc: `With state = "present" (the default) the directory is created if missing,
together with any missing parent directories (parents get the default mode of
mkdir -p, 0755 under the usual umask, and the connecting user as owner); mode,
owner and group apply to the directory itself, not to its content or parents.
An existing file or symbolic link at the path is an error, never replaced.

With state = "absent" the directory and everything in it are removed (rm -rf).
To protect against a typo or an empty variable wiping a system, absent refuses
"/", every top-level directory (/etc, /usr, /home, ...) and the well-known
system directories below them (/usr/bin, /usr/lib, /var/lib, /var/log, ...).`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the directory on the host."},
		modeAttr, ownerAttr, groupAttr, presenceAttr,
	},
	Example: `directory "app" {
  path  = "/srv/app"
  mode  = "0750"
  owner = "app"
  group = "app"
}`,
}

func (directoryModule) Spec() *contract.Spec { return directorySpec }

func (directoryModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(directorySpec, cfg)
	t := &directoryTask{}
	t.Path, _ = a.absPath("path")
	t.Absent = a.enum("state", "present", "absent") == "absent"
	t.Meta = readMeta(a)
	if a.err != nil {
		return nil, a.err
	}
	if t.Absent {
		if why := dangerousToRemove(t.Path); why != "" {
			return nil, &contract.AttrError{Attr: "path", Msg: why}
		}
	}
	return t, nil
}

// protectedDirs are directories that state = "absent" never removes, besides
// "/" and every top-level directory.
var protectedDirs = map[string]bool{
	"/usr/bin": true, "/usr/sbin": true, "/usr/lib": true, "/usr/lib64": true, "/usr/lib32": true,
	"/usr/libexec": true, "/usr/include": true, "/usr/local": true, "/usr/share": true, "/usr/src": true,
	"/var/lib": true, "/var/log": true, "/var/cache": true, "/var/spool": true, "/var/tmp": true,
	"/var/mail": true, "/var/backups": true, "/var/opt": true, "/var/www": true,
	"/etc/ssh": true, "/etc/ssl": true, "/etc/systemd": true, "/etc/default": true, "/etc/init.d": true,
	"/usr/local/bin": true, "/usr/local/sbin": true, "/usr/local/lib": true, "/usr/local/share": true,
}

// dangerousToRemove says why path must not be removed recursively, or "".
func dangerousToRemove(p string) string {
	if p == "/" || strings.Count(p, "/") == 1 || protectedDirs[p] {
		return fmt.Sprintf("refusing to remove %s with state = \"absent\": it is a system directory (see `drover modules directory`)", p)
	}
	return ""
}

type directoryTask struct {
	Path   string
	Absent bool
	Meta   fileMeta
}

func (t *directoryTask) Check() string { return statFragment(t.Path, false, 0) }

func (t *directoryTask) CheckPath() contract.PathCheck { return contract.PathCheck{Path: t.Path} }

func (t *directoryTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	r, err := parseRemote(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	switch r.Type {
	case "file", "other":
		return nil, fmt.Errorf("%s exists and is not a directory; drover will not replace it", t.Path)
	case "link":
		return nil, fmt.Errorf("%s is a symbolic link; manage the directory it points to, or replace the link with a symlink task", t.Path)
	}
	if t.Absent {
		if r.Type == "missing" {
			return &contract.Plan{}, nil
		}
		return &contract.Plan{
			Changes: []contract.Change{{Action: contract.Delete, Subject: t.Path + "/"}},
			Steps:   []contract.Step{{Script: safeFS + safeRemove(t.Path, true)}},
		}, nil
	}
	if r.Type == "missing" {
		mode := uint32(0o755)
		if t.Meta.HasMode {
			mode = t.Meta.Mode
		}
		ch := contract.Change{Action: contract.Create, Subject: t.Path + "/", Attrs: []contract.AttrChange{{Name: "mode", New: fmtMode(mode)}}}
		if t.Meta.Owner != "" {
			ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "owner", New: t.Meta.Owner})
		}
		if t.Meta.Group != "" {
			ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "group", New: t.Meta.Group})
		}
		script := safeFS + safeMkdir(t.Path, chownSpec(t.Meta.Owner, t.Meta.Group), mode)
		return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Script: script}}}, nil
	}
	attrs, fix := metaChanges(t.Meta, r)
	if len(attrs) == 0 {
		return &contract.Plan{}, nil
	}
	return &contract.Plan{
		Changes: []contract.Change{{Action: contract.Update, Subject: t.Path + "/", Attrs: attrs}},
		Steps:   []contract.Step{{Script: safeFS + safeMeta(t.Path, true, fix)}},
	}, nil
}

func (t *directoryTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.Path}}
}

func (t *directoryTask) Uses() []contract.Resource {
	if t.Path == "/" {
		return t.Meta.uses()
	}
	return append([]contract.Resource{{Kind: "path", Name: path.Dir(t.Path)}}, t.Meta.uses()...)
}
