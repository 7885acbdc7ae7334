package modules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/localpath"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// copyModule copies a local file or directory tree to the host.
type copyModule struct{}

var copySpec = &contract.Spec{
	Name:    "copy",
	Summary: "Copy a local file or directory tree to the host.",
	Doc: `Copies source, a file or a directory on the machine running drover, to path
on the host. Files are compared by sha256: drover hashes the local files when
the task is configured and the remote ones on the host, all in the one
state-reading round trip, and uploads only the files that differ. Every file is
written to a temporary name in its directory and renamed into place.

For a single file, path is the destination file itself (not a directory to
copy into), and the task behaves like the file module (with a diff for small
text files). For a directory, path is the destination directory: missing
directories are created, differing files uploaded, and with purge = true the
files and directories under path that are not in source are removed. Symbolic
links in source are followed when they point to a file; a link to a directory
is an error.

mode applies to files and dir_mode to directories; unset, a new file gets the
permission bits of the local file (so executables stay executable), a new
directory 0755, and existing ones keep theirs. owner and group apply to every
file and directory copied.`,
	Attributes: []contract.Attribute{
		{Name: "source", Type: cty.String, Required: true, Doc: "Local file or directory, relative to the directory of the playbook file that declares the task (or absolute)."},
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute destination path on the host: the file itself, or the directory that receives the tree."},
		modeAttr,
		{Name: "dir_mode", Type: cty.String, Doc: "Permissions of the directories of a tree copy, as an octal string. Unset: 0755 for a new directory; an existing one keeps its mode."},
		ownerAttr, groupAttr,
		{Name: "purge", Type: cty.Bool, Default: cty.False, Doc: "For a directory: remove files and directories under path that are not in source."},
	},
	Example: `copy "static_site" {
  source = "files/site"
  path   = "/srv/www/site"
  owner  = "www-data"
  group  = "www-data"
  purge  = true
}`,
}

func (copyModule) Spec() *contract.Spec { return copySpec }

func (copyModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(copySpec, cfg)
	dest, _ := a.absPath("path")
	meta := readMeta(a)
	dirMode, hasDirMode := a.mode("dir_mode")
	purge := a.boolean("purge")
	source, _ := a.str("source")
	if a.err != nil {
		return nil, a.err
	}
	local, err := LocalPath(cfg, source)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error()}
	}
	st, err := os.Stat(local)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: fmt.Sprintf("cannot read %s: %v", local, err), Err: err}
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, &contract.AttrError{Attr: "source", Msg: local + " is not a regular file or a directory"}
		}
		if purge || hasDirMode {
			attr := "purge"
			if hasDirMode {
				attr = "dir_mode"
			}
			return nil, &contract.AttrError{Attr: attr, Msg: fmt.Sprintf("only applies when source is a directory, and %s is a file", local)}
		}
		c, err := localContent(local, st.Size())
		if err != nil {
			return nil, &contract.AttrError{Attr: "source", Msg: err.Error(), Err: err}
		}
		return &fileTask{Path: dest, Content: c, Meta: meta, NewMode: uint32(st.Mode().Perm())}, nil
	}
	t := &copyDirTask{Root: dest, Meta: meta, DirMode: dirMode, HasDirMode: hasDirMode, Purge: purge}
	if err := t.scan(local, localRule(cfg)); err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error(), Err: err}
	}
	if dest == "/" && purge {
		return nil, &contract.AttrError{Attr: "purge", Msg: "refusing to purge /"}
	}
	return t, nil
}

// hashed caches localContent by file identity: Configure runs once per host,
// and a tree copied to a hundred hosts is hashed once. A fileContent is
// immutable, so hosts share it.
var hashed sync.Map // hashKey -> *fileContent

type hashKey struct {
	name  string
	size  int64
	mtime time.Time
	ino   uint64
}

// localContent hashes a local file; small text is kept for the diff.
func localContent(name string, _ int64) (*fileContent, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	key := hashKey{name: name, size: st.Size(), mtime: st.ModTime()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		key.ino = sys.Ino
	}
	if c, ok := hashed.Load(key); ok {
		return c.(*fileContent), nil
	}
	h := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &limitWriter{&head, maxDiffSize + 1}), f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	c := &fileContent{
		Open: func() (io.ReadCloser, error) { return os.Open(name) },
		Size: n, SHA256: hex.EncodeToString(h.Sum(nil)),
	}
	if n <= maxDiffSize && isText(head.Bytes()) {
		c.Text = head.Bytes()
	}
	if n == st.Size() {
		hashed.Store(key, c)
	}
	return c, nil
}

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// copyDirTask copies a local tree.
type copyDirTask struct {
	Root       string
	Meta       fileMeta // mode for files
	DirMode    uint32
	HasDirMode bool
	Purge      bool
	Dirs       []string // relative, slash-separated, parents first; "" is not included
	Files      []copyFile
}

type copyFile struct {
	Rel     string
	Local   string
	Perm    uint32
	Content *fileContent
}

// scan reads the tree at root. A symbolic link is followed only to a file
// the local path rule allows, so that a link in a playbook's files cannot
// pull a file from elsewhere on the controller.
func (t *copyDirTask) scan(root string, rule localpath.Rule) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		st, err := os.Stat(p) // follows links
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := rule.Resolve("", p); err != nil {
				return err
			}
		}
		switch {
		case d.IsDir():
			t.Dirs = append(t.Dirs, rel)
		case st.IsDir():
			return fmt.Errorf("%s is a symbolic link to a directory; copy does not follow those (copy the directory it points to instead)", p)
		case st.Mode().IsRegular():
			c, err := localContent(p, st.Size())
			if err != nil {
				return err
			}
			t.Files = append(t.Files, copyFile{Rel: rel, Local: p, Perm: uint32(st.Mode().Perm()), Content: c})
		default:
			return fmt.Errorf("%s is not a regular file or directory", p)
		}
		return nil
	})
}

func (t *copyDirTask) remote(rel string) string {
	if rel == "" {
		return t.Root
	}
	if t.Root == "/" {
		return "/" + rel
	}
	return t.Root + "/" + rel
}

// Check prints, in the KV dialect, the root's type= and stat=, then the
// list entry (entry.N=KIND [SHA256] MODE UID GID USER GROUP, numbered over
// Dirs then Files) with, after a file's entry, stale.N=COUNT when earlier
// runs left temporary entries beside it, then, for purge, every path under the root
// NUL-separated as the tail "purge".
func (t *copyDirTask) Check() string {
	var b strings.Builder
	fmt.Fprintf(&b, "set -e\nr=%s\n", shell.Quote(t.Root))
	b.WriteString(`if [ -L "$r" ]; then echo type=link; exit 0; fi
if [ ! -e "$r" ]; then echo type=missing; exit 0; fi
if [ ! -d "$r" ]; then echo type=other; exit 0; fi
echo type=dir
echo "stat=$(stat -c '%a %u %g %U %G' "$r")"
cd "$r"
f() {
  if [ -L "$1" ]; then echo "entry.$2=link"
  elif [ -f "$1" ]; then h=$(sha256sum <"$1"); echo "entry.$2=file ${h%% *} $(stat -c '%a %u %g %U %G' "$1")"
  elif [ -d "$1" ]; then echo "entry.$2=dir - $(stat -c '%a %u %g %U %G' "$1")"
  elif [ -e "$1" ]; then echo "entry.$2=other"
  else echo "entry.$2=missing"
  fi
}
`)
	i := 1
	for _, d := range t.Dirs {
		fmt.Fprintf(&b, "f %s %d\n", shell.Quote("./"+d), i)
		i++
	}
	for _, f := range t.Files {
		fmt.Fprintf(&b, "f %s %d\n", shell.Quote("./"+f.Rel), i)
		// The uploads and private directories a killed run left beside
		// the file (transport's scheme): shell builtins only, unless some
		// are there.
		fmt.Fprintf(&b, "%s[ \"$_dk\" = 0 ] || echo \"stale.%d=$_dk\"\n", transport.CountStaleTemps("./"+f.Rel), i)
		i++
	}
	if t.Purge {
		b.WriteString("echo 'tail purge'\nfind . -mindepth 1 -print0\n")
	}
	return b.String()
}

type copyEntry struct {
	Kind string // file, dir, link, other, missing
	SHA  string
	Stat remoteFile
}

type copyState struct {
	Root    remoteFile
	Entries []copyEntry
	Stale   map[int]int // entry index (from 0): temporary entries beside it
	Remote  []string    // with purge: every relative path under the root
}

func (t *copyDirTask) parse(out contract.CheckOutput) (copyState, error) {
	var s copyState
	if out.ExitCode != 0 {
		return s, checkErr(out)
	}
	st, err := contract.ParseKV(out.Stdout)
	if err != nil {
		return s, err
	}
	if s.Root.Type = st.Vals["type"]; s.Root.Type == "" {
		return s, fmt.Errorf("no state in check output")
	}
	if l, ok := st.Vals["stat"]; ok {
		f := strings.Fields(l)
		if len(f) != 5 {
			return s, fmt.Errorf("unexpected stat output %q", l)
		}
		root, err := parseStat(f)
		if err != nil {
			return s, err
		}
		root.Type = s.Root.Type
		s.Root = root
	}
	for _, l := range st.List("entry") {
		f := strings.Fields(l)
		if len(f) == 0 {
			return s, fmt.Errorf("unexpected state output %q", l)
		}
		e := copyEntry{Kind: f[0]}
		if len(f) == 7 {
			e.SHA = f[1]
			if e.Stat, err = parseStat(f[2:]); err != nil {
				return s, err
			}
		} else if len(f) != 1 {
			return s, fmt.Errorf("unexpected state output %q", l)
		}
		s.Entries = append(s.Entries, e)
	}
	for k, v := range st.Vals {
		if n, ok := strings.CutPrefix(k, "stale."); ok {
			i, err1 := strconv.Atoi(n)
			c, err2 := strconv.Atoi(v)
			if err1 != nil || err2 != nil || i < 1 {
				return s, fmt.Errorf("unexpected state output %q", k+"="+v)
			}
			if s.Stale == nil {
				s.Stale = map[int]int{}
			}
			s.Stale[i-1] = c
		}
	}
	for _, p := range bytes.Split(st.Blobs["purge"], []byte{0}) {
		if len(p) > 0 {
			s.Remote = append(s.Remote, strings.TrimPrefix(string(p), "./"))
		}
	}
	if n := len(t.Dirs) + len(t.Files); s.Root.Type == "dir" && len(s.Entries) != n {
		return s, fmt.Errorf("state output has %d entries, want %d", len(s.Entries), n)
	}
	return s, nil
}

// parseStat parses "MODE UID GID USER GROUP".
func parseStat(f []string) (remoteFile, error) {
	m, err := strconv.ParseUint(f[0], 8, 32)
	if err != nil {
		return remoteFile{}, fmt.Errorf("unexpected stat output %q", strings.Join(f, " "))
	}
	return remoteFile{Mode: uint32(m), UID: f[1], GID: f[2], User: f[3], Group: f[4]}, nil
}

func (t *copyDirTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	s, err := t.parse(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Root, err)
	}
	switch s.Root.Type {
	case "link":
		return nil, fmt.Errorf("%s is a symbolic link; copy a tree to the directory it points to", t.Root)
	case "other":
		return nil, fmt.Errorf("%s exists and is not a directory", t.Root)
	}
	plan := &contract.Plan{}
	var mkdirs, fixes, moves []string
	var uploads []contract.Upload
	var temps []string
	dirMeta := fileMeta{Mode: t.DirMode, HasMode: t.HasDirMode, Owner: t.Meta.Owner, Group: t.Meta.Group}
	newDirMode := uint32(0o755)
	if t.HasDirMode {
		newDirMode = t.DirMode
	}
	newDir := func(rel string) {
		mkdirs = append(mkdirs, safeMkdir(t.remote(rel), chownSpec(t.Meta.Owner, t.Meta.Group), newDirMode))
		plan.Changes = append(plan.Changes, contract.Change{Action: contract.Create, Subject: t.remote(rel) + "/", Attrs: []contract.AttrChange{{Name: "mode", New: fmtMode(newDirMode)}}})
	}
	missing := s.Root.Type == "missing"
	if missing {
		newDir("")
	} else if attrs, fix := metaChanges(dirMeta, s.Root); len(attrs) > 0 {
		fixes = append(fixes, safeMeta(t.Root, true, fix))
		plan.Changes = append(plan.Changes, contract.Change{Action: contract.Update, Subject: t.Root + "/", Attrs: attrs})
	}
	entry := func(i int) copyEntry {
		if missing {
			return copyEntry{Kind: "missing"}
		}
		return s.Entries[i]
	}
	for i, d := range t.Dirs {
		e := entry(i)
		switch e.Kind {
		case "missing":
			newDir(d)
		case "dir":
			if attrs, fix := metaChanges(dirMeta, e.Stat); len(attrs) > 0 {
				fixes = append(fixes, safeMeta(t.remote(d), true, fix))
				plan.Changes = append(plan.Changes, contract.Change{Action: contract.Update, Subject: t.remote(d) + "/", Attrs: attrs})
			}
		default:
			return nil, fmt.Errorf("%s is a %s where the source has a directory; remove it first", t.remote(d), typeName(e.Kind))
		}
	}
	for i, f := range t.Files {
		e := entry(len(t.Dirs) + i)
		p := t.remote(f.Rel)
		mode := f.Perm
		if t.Meta.HasMode {
			mode = t.Meta.Mode
		}
		var ch contract.Change
		switch e.Kind {
		case "missing":
			ch = contract.Change{Action: contract.Create, Subject: p, Attrs: []contract.AttrChange{{Name: "mode", New: fmtMode(mode)}, {Name: "sha256", New: shortSum(f.Content.SHA256)}}}
		case "file":
			attrs, fix := metaChanges(t.Meta, e.Stat)
			if e.SHA == f.Content.SHA256 {
				if len(attrs) > 0 {
					fixes = append(fixes, safeMeta(p, false, fix))
					plan.Changes = append(plan.Changes, contract.Change{Action: contract.Update, Subject: p, Attrs: attrs})
				}
				continue
			}
			ch = contract.Change{Action: contract.Update, Subject: p, Attrs: append([]contract.AttrChange{{Name: "sha256", Old: shortSum(e.SHA), New: shortSum(f.Content.SHA256)}}, attrs...)}
			if !t.Meta.HasMode {
				mode = e.Stat.Mode
			}
		default:
			return nil, fmt.Errorf("%s is a %s where the source has a file; remove it first", p, typeName(e.Kind))
		}
		plan.Changes = append(plan.Changes, ch)
		owner, group := t.Meta.Owner, t.Meta.Group
		if e.Kind == "file" {
			if owner == "" {
				owner = e.Stat.UID
			}
			if group == "" {
				group = e.Stat.GID
			}
		}
		tmp := tempPath(p)
		temps = append(temps, tmp)
		up, install := installUpload(tmp, p, chownSpec(owner, group), mode, f.Content.Open, f.Content.Size)
		uploads = append(uploads, up)
		moves = append(moves, install)
	}
	var purges []string
	if t.Purge && !missing {
		want := map[string]bool{}
		for _, d := range t.Dirs {
			want[d] = true
		}
		for _, f := range t.Files {
			want[f.Rel] = true
		}
		extra := append([]string(nil), s.Remote...)
		sort.Strings(extra)
		removed := ""
		for _, r := range extra {
			if want[r] || removed != "" && strings.HasPrefix(r, removed+"/") {
				continue
			}
			removed = r
			purges = append(purges, safeRemove(t.remote(r), true))
			plan.Changes = append(plan.Changes, contract.Change{Action: contract.Delete, Subject: t.remote(r)})
		}
	}
	if len(plan.Changes) == 0 {
		return t.sweep(plan, s), nil
	}
	if len(mkdirs) > 0 {
		plan.Steps = append(plan.Steps, contract.Step{Script: safeFS + strings.Join(mkdirs, "")})
	}
	var script strings.Builder
	script.WriteString(safeFS)
	if len(temps) > 0 {
		script.WriteString(removeOnExit(temps...))
	}
	for _, l := range [][]string{moves, fixes, purges} {
		for _, c := range l {
			script.WriteString(c)
		}
	}
	if script.Len() > len(safeFS) {
		plan.Steps = append(plan.Steps, contract.Step{Uploads: uploads, Script: script.String()})
	}
	return t.sweep(plan, s), nil
}

// sweep adds the removal of what killed runs left beside the tree's files
// (sweepStale: first, and reported).
func (t *copyDirTask) sweep(plan *contract.Plan, s copyState) *contract.Plan {
	for i := range t.Files {
		plan = sweepStale(plan, t.remote(t.Files[i].Rel), s.Stale[len(t.Dirs)+i])
	}
	return plan
}

func (t *copyDirTask) Provides() []contract.Resource {
	rs := []contract.Resource{{Kind: "path", Name: t.Root}}
	for _, d := range t.Dirs {
		rs = append(rs, contract.Resource{Kind: "path", Name: t.remote(d)})
	}
	for _, f := range t.Files {
		rs = append(rs, contract.Resource{Kind: "path", Name: t.remote(f.Rel)})
	}
	return rs
}

func (t *copyDirTask) Uses() []contract.Resource {
	rs := t.Meta.uses()
	if t.Root != "/" {
		rs = append(rs, contract.Resource{Kind: "path", Name: path.Dir(t.Root)})
	}
	return rs
}
