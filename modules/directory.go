package modules

import (
	"fmt"
	"path"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// directoryModule manages a directory.
type directoryModule struct{}

var directorySpec = &Spec{
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
	Attributes: []Attribute{
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

func (directoryModule) Spec() *Spec { return directorySpec }

func (directoryModule) Configure(cfg Config) (Task, error) {
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
			return nil, &AttrError{Attr: "path", Msg: why}
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

func (t *directoryTask) CheckPath() PathCheck { return PathCheck{Path: t.Path} }

func (t *directoryTask) Diff(out CheckOutput) (*Plan, error) {
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
			return &Plan{}, nil
		}
		return &Plan{
			Changes: []Change{{Action: Delete, Subject: t.Path + "/"}},
			Steps:   []Step{{Script: safeFS + safeRemove(t.Path, true)}},
		}, nil
	}
	if r.Type == "missing" {
		mode := uint32(0o755)
		if t.Meta.HasMode {
			mode = t.Meta.Mode
		}
		ch := Change{Action: Create, Subject: t.Path + "/", Attrs: []AttrChange{{Name: "mode", New: fmtMode(mode)}}}
		if t.Meta.Owner != "" {
			ch.Attrs = append(ch.Attrs, AttrChange{Name: "owner", New: t.Meta.Owner})
		}
		if t.Meta.Group != "" {
			ch.Attrs = append(ch.Attrs, AttrChange{Name: "group", New: t.Meta.Group})
		}
		script := safeFS + safeMkdir(t.Path, chownSpec(t.Meta.Owner, t.Meta.Group), mode)
		return &Plan{Changes: []Change{ch}, Steps: []Step{{Script: script}}}, nil
	}
	attrs, fix := metaChanges(t.Meta, r)
	if len(attrs) == 0 {
		return &Plan{}, nil
	}
	return &Plan{
		Changes: []Change{{Action: Update, Subject: t.Path + "/", Attrs: attrs}},
		Steps:   []Step{{Script: safeFS + safeMeta(t.Path, true, fix)}},
	}, nil
}

func (t *directoryTask) Provides() []Resource {
	return []Resource{{Kind: "path", Name: t.Path}}
}

func (t *directoryTask) Uses() []Resource {
	if t.Path == "/" {
		return t.Meta.uses()
	}
	return append([]Resource{{Kind: "path", Name: path.Dir(t.Path)}}, t.Meta.uses()...)
}
