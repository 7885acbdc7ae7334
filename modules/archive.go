package modules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Archive unpacks a tar or zip archive into a directory, once per archive
// content.
type Archive struct{}

func (Archive) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "archive",
		Summary: "Unpack a tar or zip archive into a directory.",
		Doc: `Unpacks source into dest, unless dest/.drover-archive-NAME already holds the
sha256 of this archive: a changed archive is unpacked again, an unchanged one
is not even read twice.

The archive is unpacked into a temporary directory beside dest first; only
when that succeeded is it renamed to dest (when dest does not exist) or
copied into dest entry by entry (when it does: files of the archive
replace files of the same name, other files stay, dest keeps its mode and
owner). A failed unpack never leaves a half-populated dest.

source is a file on the controller (relative to the playbook), uploaded
first, or with remote_source = true a file already on the host (a download
task's path). Formats: tar, tar.gz/tgz and tar.bz2 (tar with gzip or bzip2),
tar.xz/txz (tar with xz), zip (unzip). Files are owned by the connecting
user (root with become) unless owner/group say otherwise; ownership recorded
in the archive is not restored.`,
		Attributes: []contract.Attribute{
			{Name: "source", Type: cty.String, Required: true, Doc: "The archive: a path on the controller, or on the host with remote_source."},
			{Name: "dest", Type: cty.String, Required: true, Doc: "Absolute directory to unpack into. Its parent must exist."},
			{Name: "remote_source", Type: cty.Bool, Default: cty.False, Doc: "source is a path on the host, not on the controller."},
			{Name: "format", Type: cty.String, Default: cty.StringVal("auto"), Doc: "auto (from source's extension), tar, tar.gz, tar.bz2, tar.xz or zip."},
			{Name: "strip_components", Type: cty.Number, Default: cty.NumberIntVal(0), Doc: "Leading path components to drop from each member (tar formats only)."},
			{Name: "owner", Type: cty.String, Doc: "Owner of the unpacked files. Unset: the connecting user (root with become)."},
			{Name: "group", Type: cty.String, Doc: "Group of the unpacked files. Unset with owner set: the owner's login group."},
			{Name: "name", Type: cty.String, Doc: "Names the marker file dest/.drover-archive-NAME. Default: source's file name without its extension."},
		},
		Example: `archive "app" {
  source           = "dist/app-1.4.2.tar.gz"
  dest             = "/opt/app"
  strip_components = 1
  owner            = "app"
  group            = "app"
}`,
	}
}

type archiveTask struct {
	source       string // local absolute path, or remote path
	remote       bool
	sum          string // sha256 of a local source
	size         int64
	dest, name   string
	format       string
	strip        int64
	owner, group string
}

var (
	archiveFormats = map[string]string{
		".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar.xz": "tar.xz", ".txz": "tar.xz",
		".tar.bz2": "tar.bz2", ".tbz2": "tar.bz2", ".tar": "tar", ".zip": "zip",
	}
	markerName = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)
)

// archiveExt returns the archive extension of name ("" when unknown).
func archiveExt(name string) string {
	lower := strings.ToLower(name)
	for _, ext := range []string{".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".txz", ".tbz2", ".tar", ".zip"} {
		if strings.HasSuffix(lower, ext) {
			return ext
		}
	}
	return ""
}

func (Archive) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Archive{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &archiveTask{source: a.str("source"), remote: a.boolean("remote_source"), dest: a.str("dest"),
		owner: a.str("owner"), group: a.str("group"), name: a.str("name")}
	if t.source == "" || hasNewline(t.source) {
		return nil, &contract.AttrError{Attr: "source", Msg: "must be a file path"}
	}
	if !path.IsAbs(t.dest) || path.Clean(t.dest) == "/" || hasNewline(t.dest) {
		return nil, &contract.AttrError{Attr: "dest", Msg: fmt.Sprintf("must be an absolute directory other than /, got %q", t.dest)}
	}
	t.dest = path.Clean(t.dest)
	ext := archiveExt(t.source)
	switch f := a.str("format"); f {
	case "", "auto":
		if ext == "" {
			return nil, &contract.AttrError{Attr: "format", Msg: fmt.Sprintf("cannot tell the format of %q from its name; set format to tar, tar.gz, tar.bz2, tar.xz or zip", t.source)}
		}
		t.format = archiveFormats[ext]
	case "tar", "tar.gz", "tar.bz2", "tar.xz", "zip":
		t.format = f
	default:
		return nil, &contract.AttrError{Attr: "format", Msg: fmt.Sprintf("%q is not one of auto, tar, tar.gz, tar.bz2, tar.xz, zip", f)}
	}
	if t.strip, _, err = a.integer("strip_components"); err != nil {
		return nil, err
	}
	if t.strip < 0 || t.strip > 64 {
		return nil, &contract.AttrError{Attr: "strip_components", Msg: "must be between 0 and 64"}
	}
	if t.strip > 0 && t.format == "zip" {
		return nil, &contract.AttrError{Attr: "strip_components", Msg: "is supported for tar formats only (unzip cannot strip components)"}
	}
	for _, f := range [][2]string{{"owner", t.owner}, {"group", t.group}} {
		if f[1] != "" {
			if err := checkAccountName(f[0], f[1]); err != nil {
				return nil, err
			}
		}
	}
	if t.name == "" {
		base := path.Base(t.source)
		t.name = base[:len(base)-len(archiveExt(base))]
	}
	if !markerName.MatchString(t.name) {
		return nil, &contract.AttrError{Attr: "name", Msg: fmt.Sprintf("%q cannot name a marker file: use letters, digits, '.', '_', '+', '-' (set name)", t.name)}
	}
	if t.remote {
		if !path.IsAbs(t.source) {
			return nil, &contract.AttrError{Attr: "source", Msg: "with remote_source = true, must be an absolute path on the host"}
		}
		return t, nil
	}
	local, err := LocalPath(cfg, t.source)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error() + " (for a file on the host, set remote_source = true)"}
	}
	t.source = local
	f, err := os.Open(t.source)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: fmt.Sprintf("cannot read the archive on the controller: %v (for a file on the host, set remote_source = true)", err)}
	}
	defer f.Close()
	h := sha256.New()
	if t.size, err = io.Copy(h, f); err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: fmt.Sprintf("reading %s: %v", t.source, err)}
	}
	t.sum = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

func (t *archiveTask) marker() string { return path.Join(t.dest, ".drover-archive-"+t.name) }

func (t *archiveTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.dest}}
}

func (t *archiveTask) Uses() []contract.Resource {
	r := []contract.Resource{{Kind: "path", Name: path.Dir(t.dest)}}
	if t.remote {
		r = append(r, contract.Resource{Kind: "path", Name: t.source})
	}
	if t.owner != "" {
		r = append(r, contract.Resource{Kind: "user", Name: t.owner})
	}
	if t.group != "" {
		r = append(r, contract.Resource{Kind: "group", Name: t.group})
	}
	return r
}

func (t *archiveTask) tools() []string {
	switch t.format {
	case "zip":
		return []string{"unzip"}
	case "tar.gz":
		return []string{"tar", "gzip"}
	case "tar.xz":
		return []string{"tar", "xz"}
	case "tar.bz2":
		return []string{"tar", "bzip2"}
	}
	return []string{"tar"}
}

func (t *archiveTask) Check() string {
	var b strings.Builder
	b.WriteString(shTools(append(t.tools(), "sha256sum")...))
	m := shell.Quote(t.marker())
	fmt.Fprintf(&b, "if [ -f %[1]s ]; then printf 'marker=%%s\\n' \"$(head -n 1 %[1]s)\"; fi\n", m)
	fmt.Fprintf(&b, "if [ -d %[1]s ]; then echo dest=dir; elif [ -e %[1]s ]; then echo dest=other; fi\n", shell.Quote(t.dest))
	// The upload and the private unpack directory of a killed run are named
	// beside dest (transport's scheme): counted here, removed first.
	b.WriteString(staleCheck("stale", t.dest))
	if t.remote {
		fmt.Fprintf(&b, "if [ -f %[1]s ]; then printf 'srcsum=%%s\\n' \"$(sha256sum < %[1]s | cut -d' ' -f1)\"; fi\n", shell.Quote(t.source))
	}
	return b.String()
}

func (t *archiveTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := t.dest
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	sum := t.sum
	if t.remote {
		if !st.has("tool.sha256sum") {
			return nil, fmt.Errorf("%s: sha256sum is not installed on the host (coreutils or busybox)", subject)
		}
		if sum = st.vals["srcsum"]; sum == "" {
			return nil, fmt.Errorf("%s: the archive %s does not exist on the host", subject, t.source)
		}
	}
	stale, _ := strconv.Atoi(st.vals["stale"])
	p := &contract.Plan{}
	if st.vals["marker"] == sum {
		return sweepStale(p, t.dest, stale), nil
	}
	if st.vals["dest"] == "other" {
		return nil, fmt.Errorf("%s exists and is not a directory", t.dest)
	}
	for _, tool := range t.tools() {
		if !st.has("tool." + tool) {
			return nil, fmt.Errorf("%s: unpacking %s needs %s on the host (Debian: apt-get install %s)", subject, t.format, tool, debPackage(tool))
		}
	}
	change := contract.Change{Action: contract.Create, Subject: subject, Attrs: []contract.AttrChange{{Name: "unpack", New: path.Base(t.source) + " (sha256:" + shortSum(sum) + ")"}}}
	if old := st.vals["marker"]; old != "" {
		change.Action = contract.Update
		change.Attrs[0].Old = "sha256:" + shortSum(old)
	}
	p.Changes = append(p.Changes, change)
	step := contract.Step{}
	src := t.source
	if !t.remote {
		// Beside dest, in the one temporary-name scheme, so that the sweep
		// of a later run finds it if this one is killed mid-upload.
		src = tempPath(t.dest)
		local := t.source
		step.Uploads = []contract.Upload{{Path: src, Mode: 0o600, Size: t.size, Open: func() (io.ReadCloser, error) { return os.Open(local) }}}
	}
	step.Script = t.unpackScript(src, sum)
	p.Steps = append(p.Steps, step)
	return sweepStale(p, t.dest, stale), nil
}

func debPackage(tool string) string {
	switch tool {
	case "xz":
		return "xz-utils"
	case "bzip2", "gzip", "tar", "unzip":
		return tool
	}
	return "coreutils"
}

// unpackScript unpacks src into a private directory beside dest (safeFS),
// sets ownership there, moves the result into place, and writes the marker
// last. An uploaded archive is first moved into the private directory and
// checked (drover_adopt): the directory's owner could otherwise swap it for
// an archive of their own, which root would unpack with its setuid bits.
// Unpacking into an existing dest copies into it as root, so its directory
// must be root's (drover_fixed) and dest root's or the task's owner's.
func (t *archiveTask) unpackScript(src, sum string) string {
	var b strings.Builder
	b.WriteString(safeFS)
	parent, base := path.Split(t.dest)
	b.WriteString(shRequireDir(dirOf(parent)))
	if t.remote {
		fmt.Fprintf(&b, "t=%s\ntrap drover_unstage EXIT\n", shell.Quote(src))
	} else {
		fmt.Fprintf(&b, "t=%s\ntrap 'rm -f \"$t\"; drover_unstage' EXIT\n", shell.Quote(src))
	}
	fmt.Fprintf(&b, "drover_cd %s\nb=%s\n", shell.Quote(dirOf(parent)), shell.Quote(base))
	// dest's own owner may be the one the task gives its files (drover
	// made it so); anyone else's dest, or a directory of dest's that
	// another user can change, is refused.
	fmt.Fprintf(&b, "o=%s\n", shell.Quote(t.owner))
	b.WriteString(`if [ -L "$b" ] || { [ -d "$b" ] && ! { drover_fixed "$b" && ( drover_enter "$b" && { drover_fixed x || [ "$(stat -c %U .)" = "$o" ] || [ "$(stat -c %u .)" = "$o" ]; } ); }; }; then
  printf 'drover: %s exists and is a link, or belongs to another user than owner, or its directory can be changed by another user; drover will not unpack into it as root (unpack into a new directory, or make it and its directory root'\''s)\n' ` + shell.Quote(t.dest) + ` >&2; exit 1
fi
`)
	if t.remote {
		b.WriteString("drover_stage \"$b\"\n")
	} else {
		b.WriteString(shell.Join("drover_adopt", path.Base(src)) + "\n" + "t=f\n")
	}
	b.WriteString("mkdir x\n")
	if t.format == "zip" {
		b.WriteString("unzip -q -o \"$t\" -d x\n")
	} else {
		args := []string{"tar", "-x", "-o"}
		switch t.format {
		case "tar.gz":
			args = append(args, "-z")
		case "tar.xz":
			args = append(args, "-J")
		case "tar.bz2":
			args = append(args, "-j")
		}
		if t.strip > 0 {
			args = append(args, "--strip-components="+strconv.FormatInt(t.strip, 10))
		}
		fmt.Fprintf(&b, "%s -f \"$t\" -C x\n", shell.Join(args...))
	}
	if t.owner != "" || t.group != "" {
		fmt.Fprintf(&b, "chown -R %s x\n", shell.Quote(ownerSpec(t.owner, t.group)))
	}
	// An existing dest keeps its own mode and owner (a directory task may
	// manage them): its entries are copied in one by one.
	// GNU cp follows a link it finds at a destination file unless told to
	// remove it first.
	b.WriteString(`chmod 755 x
r=
if cp --help 2>&1 | grep -q -e --remove-destination; then r=--remove-destination; fi
if [ -d "../$b" ]; then
for e in x/* x/.[!.]* x/..?*; do
if [ -e "$e" ] || [ -L "$e" ]; then cp -a $r "$e" "../$b"/; fi
done
else mv -T x "../$b"; fi
`)
	fmt.Fprintf(&b, "printf '%%s\\n' %s > m\nmv -fT m \"../$b\"/%s\n", shell.Quote(sum), shell.Quote(path.Base(t.marker())))
	return b.String()
}
