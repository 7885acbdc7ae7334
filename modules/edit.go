package modules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// What the modules that edit part of a text file (line, ini) share: Check
// fetches the whole file, Diff computes the new content in Go, and the step
// writes it only if the file is still what Check read.

// maxEditFile is the largest file these modules edit: Check fetches it all.
const maxEditFile = 1 << 20

// editedFile is the file a task edits, and whether the task removes
// (Absent) and may create (Create) what it manages there. Its state is the
// whole file: the batched read (PathChecker) fetches it with every other
// path of the host, and Check reads the same on its own.
type editedFile struct {
	Path           string
	Absent, Create bool
}

func (f editedFile) Check() string { return statFragment(f.Path, false, maxEditFile) }

func (f editedFile) CheckPath() contract.PathCheck {
	return contract.PathCheck{Path: f.Path, FetchMax: maxEditFile}
}

// EditedPath is the file (contract.ContentEditor).
func (f editedFile) EditedPath() string { return f.Path }

// contentRead is the state read that finds f a regular file holding
// content, as the batched read (CheckPath) reports it, for DiffContent.
func (f editedFile) contentRead(content []byte) contract.CheckOutput {
	return contract.CheckOutput{Path: &contract.PathState{Type: "file", Size: int64(len(content)), Content: content, HasContent: len(content) <= maxEditFile}}
}

// read is what Check read of the file, for a task of module: a regular
// file with its content, or Type "missing" when the task is to create it.
// done is the empty plan for a missing file that Absent has nothing to
// remove from. A missing file without Create is a contract.NeedsError (an
// earlier task of the play may provide it; hint says what else to do);
// a file of another type, or too large to fetch, an error.
func (f editedFile) read(module string, out contract.CheckOutput, hint string) (r remoteFile, done *contract.Plan, err error) {
	if r, err = parseRemote(out); err != nil {
		return r, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	switch r.Type {
	case "missing":
		if f.Absent {
			return r, &contract.Plan{}, nil
		}
		if !f.Create {
			return r, nil, &contract.NeedsError{
				Resource: contract.Resource{Kind: "path", Name: f.Path},
				Err:      fmt.Errorf("%s does not exist; %s", f.Path, hint),
			}
		}
		return r, nil, nil
	case "file":
	default:
		return r, nil, fmt.Errorf("%s is a %s, not a regular file", f.Path, typeName(r.Type))
	}
	if !r.HasContent {
		return r, nil, fmt.Errorf("%s is %d bytes, larger than the %s module's cap of %d bytes (1 MiB); manage it with a file or template task", f.Path, r.Size, module, maxEditFile)
	}
	return r, nil, nil
}

// sweep returns what adds to a plan of the task the removal of what killed
// runs left beside the file (sweepStale, counted by the batched read or
// Check), passing an error through.
func (f editedFile) sweep(out contract.CheckOutput) func(*contract.Plan, error) (*contract.Plan, error) {
	return func(p *contract.Plan, err error) (*contract.Plan, error) {
		if err != nil {
			return nil, err
		}
		r, perr := parseRemote(out)
		if perr != nil {
			return p, nil
		}
		return sweepStale(p, f.Path, r.Stale), nil
	}
}

// keepOwner and keepMode are drover_install's owner and mode arguments that
// keep the old file's, read at apply time from its name ($b) in the
// directory the step entered.
const (
	keepOwner = `"$(stat -c %u:%g -- "$b")"`
	keepMode  = `"$(stat -c %a -- "$b")"`
)

// editStep uploads c beside the file p and renames it over p with owner
// and mode (drover_install's arguments, as shell words: shell.Quote'd values
// or keepOwner/keepMode). It first verifies that p is still what Check read,
// old (with create: that p still does not exist), and otherwise fails with
// "re-run": a change made since the plan is never overwritten. p's directory
// may belong to another user (a dotfile in a home), so everything goes
// through safeFS, on p's name in the directory drover_cd entered.
func editStep(p string, create bool, old []byte, c *fileContent, owner, mode string) contract.Step {
	tmp := tempPath(p)
	dir, base := path.Split(p)
	var b strings.Builder
	b.WriteString(safeFS + removeOnExit(tmp))
	fmt.Fprintf(&b, "drover_cd %s\nb=%s\n", shell.Quote(dirOf(dir)), shell.Quote(base))
	if create {
		b.WriteString("if [ -e \"$b\" ] || [ -L \"$b\" ]; then printf 'drover: %s was created since it was read; re-run\\n' " + shell.Quote(p) + " >&2; exit 1; fi\n")
	} else {
		sum := sha256.Sum256(old)
		b.WriteString("if [ -L \"$b\" ] || [ ! -f \"$b\" ]; then printf 'drover: %s was replaced since it was read; re-run\\n' " + shell.Quote(p) + " >&2; exit 1; fi\n")
		b.WriteString("h=$(drover_read \"$b\" | sha256sum)\n")
		fmt.Fprintf(&b, "if [ \"${h%%%% *}\" != %s ]; then printf 'drover: %%s changed since it was read; re-run\\n' %s >&2; exit 1; fi\n", hex.EncodeToString(sum[:]), shell.Quote(p))
	}
	up := contract.Upload{Path: tmp, Mode: 0o600, Open: c.Open, Size: c.Size}
	if m, err := strconv.ParseUint(mode, 8, 32); err == nil && owner == "''" && len(mode) == 4 && plainMode("", uint32(m)) {
		// The uploader's file with a plain mode: written with it, as
		// installUpload does, and no chmod.
		up.Mode, mode = fs.FileMode(m), "''"
	}
	b.WriteString(shell.Join("drover_install", path.Base(tmp)) + " \"$b\" " + owner + " " + mode + "\n")
	return contract.Step{
		Uploads: []contract.Upload{up},
		Script:  b.String(),
	}
}

// editChange is the Change of an edit of p from old to updated: a unified
// diff, or for content a diff cannot show (binary, sensitive) the checksums
// or "(sensitive)".
func editChange(action contract.Action, p string, old []byte, c *fileContent, sensitive bool) contract.Change {
	ch := contract.Change{Action: action, Subject: p, Sensitive: sensitive}
	from := p
	if action == contract.Create {
		from = "/dev/null"
	}
	switch {
	case sensitive:
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "content", Old: "(sensitive)", New: "(sensitive)"})
	case isText(old) && c.Text != nil:
		ch.Diff = unified(from, p, string(old), string(c.Text))
	default:
		sum := sha256.Sum256(old)
		ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "sha256", Old: shortSum(hex.EncodeToString(sum[:])), New: shortSum(c.SHA256)})
	}
	return ch
}

// splitLines is content's lines, each with its newline (the last one may
// have none).
func splitLines(content string) []string {
	lines := strings.SplitAfter(content, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
