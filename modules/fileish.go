package modules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aymanbagabas/go-udiff"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Shared machinery of the modules that manage one regular file (file,
// template, copy of a single file): the Check fragment that reads a path's
// metadata and checksum (and, for small text, its content for the diff), its
// parser, and the Diff that writes through a temporary file and a rename.

// maxDiffSize is the largest file whose old content Check fetches to show a
// unified diff; larger or binary content is compared by checksum only.
const maxDiffSize = 64 << 10

// remoteFile is what a Check fragment found at a path.
type remoteFile struct {
	Type       string // "file", "dir", "link", "other", "missing"
	Mode       uint32
	UID, GID   string
	User       string
	Group      string
	Size       int64
	SHA256     string // "" when not read
	Content    []byte
	HasContent bool
	LinkTarget string // for "link", when read
	Empty      bool   // for "dir", when checked
	Stale      int    // temporary files of earlier runs beside it
}

// statFragment prints, in the KV dialect, "type=T" for the path in $p and,
// for a file or directory, "stat=MODE UID GID USER GROUP SIZE"
// (contract.StatFormat). With sum, a file's "sha256=" is printed too; with
// fetchMax > 0, a file no larger than that is printed as the tail
// "content", unless its sha256 is unlessSum: a file that already has the
// desired content is not sent back. A tail, not a blob: the content is
// cat'ed after the stat, and a write in between would make a blob's size
// wrong.
func statFragment(p string, sum bool, fetchMax int64, unlessSum ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "set -e\np=%s\n", shell.Quote(p))
	b.WriteString("if [ -L \"$p\" ]; then echo type=link\n")
	b.WriteString("elif [ -d \"$p\" ]; then echo type=dir; echo \"stat=$(stat -c '" + contract.StatFormat + "' \"$p\")\"\n")
	b.WriteString("elif [ -f \"$p\" ]; then echo type=file\n")
	b.WriteString("  set -- $(stat -c '" + contract.StatFormat + "' \"$p\"); echo \"stat=$*\"\n")
	if sum {
		b.WriteString("  h=$(sha256sum <\"$p\"); echo \"sha256=${h%% *}\"\n")
	}
	if fetchMax > 0 {
		cond := fmt.Sprintf("[ \"$6\" -le %d ]", fetchMax)
		if sum && len(unlessSum) > 0 {
			cond += fmt.Sprintf(" && [ \"${h%%%% *}\" != %s ]", shell.Quote(unlessSum[0]))
		}
		// As pathBatch's fetch: only the entry itself, never a link swapped
		// in since the type was read.
		fmt.Fprintf(&b, "  if %s; then echo 'tail content'; ( exec 3<\"$p\" && [ \"$(stat -L -c %%d:%%i /proc/self/fd/3)\" = \"$(stat -c %%d:%%i -- \"$p\")\" ] && [ ! -L \"$p\" ] && cat <&3 ); fi\n", cond)
	}
	b.WriteString("elif [ -e \"$p\" ]; then echo type=other\n")
	b.WriteString("else echo type=missing\nfi\n")
	return b.String()
}

// parseRemote parses the output of statFragment (and of the fragments that
// print the same keys: symlink's "empty=1" and tail "target").
func parseRemote(out contract.CheckOutput) (remoteFile, error) {
	var r remoteFile
	if out.ExitCode != 0 {
		return r, checkErr(out)
	}
	if s := out.Path; s != nil {
		return remoteFile{Type: s.Type, Mode: s.Mode, UID: s.UID, GID: s.GID, User: s.User, Group: s.Group,
			Size: s.Size, SHA256: s.SHA256, Content: s.Content, HasContent: s.HasContent, Stale: s.Stale}, nil
	}
	st, err := contract.ParseKV(out.Stdout)
	if err != nil {
		return r, err
	}
	r.Type = st.Vals["type"]
	if r.Type == "" {
		return r, fmt.Errorf("no state in check output %q", out.Stdout)
	}
	if l, ok := st.Vals["stat"]; ok {
		s, err := contract.ParseStatLine(l)
		if err != nil {
			return r, err
		}
		r.Mode, r.UID, r.GID, r.User, r.Group, r.Size = s.Mode, s.UID, s.GID, s.User, s.Group, s.Size
	}
	r.SHA256 = st.Vals["sha256"]
	r.Stale, _ = strconv.Atoi(st.Vals["stale"])
	r.Empty = st.Has("empty")
	r.Content, r.HasContent = st.Blobs["content"]
	// readlink ends the target with a newline; the target itself may hold
	// more.
	r.LinkTarget = strings.TrimSuffix(string(st.Blobs["target"]), "\n")
	return r, nil
}

// checkErr is the error for a Check fragment that exited non-zero.
func checkErr(out contract.CheckOutput) error {
	msg := strings.TrimSpace(string(out.Stderr))
	if msg == "" {
		msg = "no error message"
	}
	return fmt.Errorf("reading the current state failed (exit status %d): %s", out.ExitCode, msg)
}

// fileMeta is the desired mode and ownership of a path; unset parts are left
// as they are on an existing path.
type fileMeta struct {
	Mode    uint32
	HasMode bool
	Owner   string
	Group   string
}

func readMeta(a *attrs) fileMeta {
	var m fileMeta
	m.Mode, m.HasMode = a.mode("mode")
	m.Owner = a.account("owner")
	m.Group = a.account("group")
	return m
}

func (m fileMeta) uses() []contract.Resource {
	var rs []contract.Resource
	if m.Owner != "" && !isNumeric(m.Owner) {
		rs = append(rs, contract.Resource{Kind: "user", Name: m.Owner})
	}
	if m.Group != "" && !isNumeric(m.Group) {
		rs = append(rs, contract.Resource{Kind: "group", Name: m.Group})
	}
	return rs
}

func isNumeric(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func sameAccount(want, name, id string) bool {
	if isNumeric(want) {
		return want == id
	}
	return want == name
}

// metaFix is what metaChanges says to change: chown's argument (chownSpec)
// and chmod's, "" for none.
type metaFix struct{ Owner, Mode string }

// metaChanges compares desired metadata with r and returns the attribute
// changes and the fix that makes them (safeMeta runs it).
func metaChanges(m fileMeta, r remoteFile) ([]contract.AttrChange, metaFix) {
	var ch []contract.AttrChange
	var fix metaFix
	if m.Owner != "" && !sameAccount(m.Owner, r.User, r.UID) {
		ch = append(ch, contract.AttrChange{Name: "owner", Old: r.User, New: m.Owner})
	}
	if m.Group != "" && !sameAccount(m.Group, r.Group, r.GID) {
		ch = append(ch, contract.AttrChange{Name: "group", Old: r.Group, New: m.Group})
	}
	if len(ch) > 0 {
		fix.Owner = chownSpec(m.Owner, m.Group)
	}
	switch {
	case m.HasMode && m.Mode != r.Mode:
		ch = append(ch, contract.AttrChange{Name: "mode", Old: fmtMode(r.Mode), New: fmtMode(m.Mode)})
		fix.Mode = fmtMode(m.Mode)
	case m.HasMode && fix.Owner != "" && m.Mode&0o6000 != 0:
		// chown clears the setuid and setgid bits: set them again.
		fix.Mode = fmtMode(m.Mode)
	case !m.HasMode && fix.Owner != "" && r.Mode&0o6000 != 0:
		fix.Mode = fmtMode(r.Mode)
	}
	return ch, fix
}

func fmtMode(m uint32) string { return fmt.Sprintf("%04o", m) }

// fileContent is the desired content of a file.
type fileContent struct {
	Open   func() (io.ReadCloser, error)
	Size   int64
	SHA256 string
	// Text is the content when it is small text that a diff can show; nil
	// otherwise.
	Text      []byte
	Sensitive bool
}

func bytesContent(b []byte, sensitive bool) *fileContent {
	sum := sha256.Sum256(b)
	c := &fileContent{
		Open:      func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		Size:      int64(len(b)),
		SHA256:    hex.EncodeToString(sum[:]),
		Sensitive: sensitive,
	}
	if isText(b) && len(b) <= maxDiffSize {
		c.Text = b
	}
	return c
}

func isText(b []byte) bool { return bytes.IndexByte(b, 0) < 0 && utf8.Valid(b) }

// tempSuffix makes the run id and random part of temporary file names
// (transport's one scheme); tests replace it.
var tempSuffix = transport.TempSuffix

// tempPath is a temporary name in the same directory as p (so a rename over
// p is atomic), hidden and recognisable: transport.TempName's scheme.
func tempPath(p string) string { return transport.TempNameWith(p, tempSuffix()) }

// fileTask is a regular file with optional managed content and metadata.
type fileTask struct {
	Path    string
	Absent  bool
	Content *fileContent // nil: content not managed (an empty file is created)
	Meta    fileMeta
	// NewMode is the mode of a new file when Meta has none (0: 0644).
	NewMode uint32
}

func (t *fileTask) Check() string {
	pc := t.CheckPath()
	if pc.Sum {
		return statFragment(pc.Path, true, pc.FetchMax, pc.UnlessSum)
	}
	return statFragment(pc.Path, false, 0)
}

// CheckPath: the checksum when the content is managed, and the old content
// for a diff when it is small text, not sensitive, and not already right.
func (t *fileTask) CheckPath() contract.PathCheck {
	pc := contract.PathCheck{Path: t.Path}
	if t.Absent || t.Content == nil {
		return pc
	}
	pc.Sum, pc.UnlessSum = true, t.Content.SHA256
	if t.Content.Text != nil && !t.Content.Sensitive {
		pc.FetchMax = maxDiffSize
	}
	return pc
}

func (t *fileTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	r, err := parseRemote(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	plan, err := t.diff(r)
	if err != nil {
		return nil, err
	}
	return sweepStale(plan, t.Path, r.Stale), nil
}

// sweepStale adds to plan the removal of the n temporary files and private
// staging directories that killed earlier runs left beside p (the check
// counted them), so the report says so; the step re-checks each one
// (transport.StaleTemps) as it removes it (drover_rmstale).
func sweepStale(plan *contract.Plan, p string, n int) *contract.Plan {
	if n == 0 {
		return plan
	}
	d, base := path.Split(p)
	plan.Changes = append(plan.Changes, contract.Change{Action: contract.Delete,
		Subject: fmt.Sprintf("%d stale drover temporary file(s) of an earlier run beside %s", n, p)})
	// First, so a run killed again mid-upload leaves only its own file.
	plan.Steps = append([]contract.Step{{Script: safeFS + "if [ -d " + shell.Quote(dirOf(d)) + " ]; then drover_cd " + shell.Quote(dirOf(d)) + "\n" +
		transport.StaleTemps("", base, `drover_rmstale "$_df"`) + "fi\n"}}, plan.Steps...)
	return plan
}

// staleCheck is the check lines (KV dialect) that print key=N, the number
// of temporary entries of earlier runs beside p (transport.StaleTemps), for
// a module whose check is its own script rather than the batched path read.
func staleCheck(key, p string) string {
	return transport.CountStaleTemps(p) + "echo \"" + key + "=$_dk\"\n"
}

func (t *fileTask) diff(r remoteFile) (*contract.Plan, error) {
	if t.Absent {
		switch r.Type {
		case "missing":
			return &contract.Plan{}, nil
		case "dir":
			return nil, fmt.Errorf("%s is a directory; use a directory task with state = \"absent\" to remove it", t.Path)
		}
		return &contract.Plan{
			Changes: []contract.Change{{Action: contract.Delete, Subject: t.Path}},
			Steps:   []contract.Step{{Script: safeFS + safeRemove(t.Path, false)}},
		}, nil
	}
	switch r.Type {
	case "dir":
		return nil, fmt.Errorf("%s is a directory; a file cannot replace it (remove it first with a directory task, state = \"absent\")", t.Path)
	case "link":
		return nil, fmt.Errorf("%s is a symbolic link; manage the file it points to, or replace the link with a symlink task", t.Path)
	case "other":
		return nil, fmt.Errorf("%s exists but is not a regular file (a device, socket or FIFO); drover will not replace it", t.Path)
	case "missing":
		return t.create(), nil
	}
	return t.update(r)
}

func (t *fileTask) sensitive() bool { return t.Content != nil && t.Content.Sensitive }

func (t *fileTask) create() *contract.Plan {
	ch := contract.Change{Action: contract.Create, Subject: t.Path, Sensitive: t.sensitive()}
	mode := uint32(0o644)
	if t.NewMode != 0 {
		mode = t.NewMode
	}
	if t.Meta.HasMode {
		mode = t.Meta.Mode
	}
	ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "mode", New: fmtMode(mode)})
	if t.Meta.Owner != "" {
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "owner", New: t.Meta.Owner})
	}
	if t.Meta.Group != "" {
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "group", New: t.Meta.Group})
	}
	c := t.Content
	if c == nil {
		c = bytesContent(nil, false)
	} else if c.Text != nil && !c.Sensitive {
		ch.Diff = unified("/dev/null", t.Path, "", string(c.Text))
	} else if c.Sensitive {
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "content", New: "(sensitive)"})
	} else {
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "sha256", New: shortSum(c.SHA256)})
	}
	return &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{t.writeStep(c, t.Meta.Owner, t.Meta.Group, mode)}}
}

func (t *fileTask) update(r remoteFile) (*contract.Plan, error) {
	ch := contract.Change{Action: contract.Update, Subject: t.Path, Sensitive: t.sensitive()}
	c := t.Content
	contentChanged := false
	if c != nil {
		if r.SHA256 == "" {
			return nil, fmt.Errorf("%s: could not read its checksum (is sha256sum installed on the host?)", t.Path)
		}
		contentChanged = r.SHA256 != c.SHA256
	}
	attrs, fix := metaChanges(t.Meta, r)
	if contentChanged {
		if c.Text != nil && !c.Sensitive && r.HasContent && isText(r.Content) {
			ch.Diff = unified(t.Path, t.Path, string(r.Content), string(c.Text))
		} else if c.Sensitive {
			ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "content", Old: "(sensitive)", New: "(sensitive)"})
		} else {
			ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "sha256", Old: shortSum(r.SHA256), New: shortSum(c.SHA256)})
		}
	}
	ch.Attrs = append(ch.Attrs, attrs...)
	if !contentChanged && len(attrs) == 0 {
		return &contract.Plan{}, nil
	}
	plan := &contract.Plan{Changes: []contract.Change{ch}}
	if contentChanged {
		// Keep what the user did not ask to change: the new file gets the
		// old one's owner, group and mode unless set.
		owner, group, mode := t.Meta.Owner, t.Meta.Group, r.Mode
		if owner == "" {
			owner = r.UID
		}
		if group == "" {
			group = r.GID
		}
		if t.Meta.HasMode {
			mode = t.Meta.Mode
		}
		plan.Steps = []contract.Step{t.writeStep(c, owner, group, mode)}
	} else {
		plan.Steps = []contract.Step{{Script: safeFS + safeMeta(t.Path, false, fix)}}
	}
	return plan, nil
}

// installUpload is the upload of content (open, size) to tmp, beside p,
// and the script lines (after safeFS) that put it in place as p with owner
// (chown's argument, "" to keep the uploader's) and mode. A file that keeps
// the uploader as owner, has no setuid, setgid or sticky bit and is
// writable by no one else is written with its final mode from the start
// (the upload sets it before any content, as it sets 0600 otherwise), so
// drover_install has no chmod to run: the content is never readable by
// anyone the final file does not let read it, nor writable by anyone but
// the uploader. Otherwise the upload is 0600 and the mode is set after the
// chown, which would clear those bits.
func installUpload(tmp, p, owner string, mode uint32, open func() (io.ReadCloser, error), size int64) (contract.Upload, string) {
	up := contract.Upload{Path: tmp, Mode: 0o600, Open: open, Size: size}
	if !plainMode(owner, mode) {
		return up, safeInstall(tmp, p, owner, mode)
	}
	up.Mode = fs.FileMode(mode)
	dir, base := path.Split(p)
	return up, "drover_cd " + shell.Quote(dirOf(dir)) + "\n" + shell.Join("drover_install", path.Base(tmp), base, "", "") + "\n"
}

// plainMode reports whether a file with owner (chown's argument) and mode
// can be uploaded with its final mode (installUpload).
func plainMode(owner string, mode uint32) bool {
	return owner == "" && mode&^0o777 == 0 && mode&0o022 == 0
}

// writeStep uploads c to a temporary name beside the file, and puts it in
// place with its owner and mode (safeInstall). The file is never truncated
// in place: a reader sees the old content or the new.
func (t *fileTask) writeStep(c *fileContent, owner, group string, mode uint32) contract.Step {
	tmp := tempPath(t.Path)
	up, install := installUpload(tmp, t.Path, chownSpec(owner, group), mode, c.Open, c.Size)
	return contract.Step{
		Uploads: []contract.Upload{up},
		Script:  safeFS + removeOnExit(tmp) + install,
	}
}

func (t *fileTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.Path}}
}

func (t *fileTask) Uses() []contract.Resource {
	return append([]contract.Resource{{Kind: "path", Name: path.Dir(t.Path)}}, t.Meta.uses()...)
}

func shortSum(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// unified is a unified diff of old and new; a diff that fails (it cannot
// with consistent edits) degrades to a note rather than failing the plan.
func unified(oldLabel, newLabel, old, new string) string {
	d, err := udiff.ToUnified(oldLabel, newLabel, old, udiff.Lines(old, new), udiff.DefaultContextLines)
	if err != nil {
		return "(diff unavailable: " + err.Error() + ")\n"
	}
	return d
}
