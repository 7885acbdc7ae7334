package planfile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/drover-cm/drover/modules/contract"
)

// Digester makes the plan's digests: HMAC-SHA256 with the plan's key.
type Digester struct {
	key []byte
	// skip is the plan file itself, left out of directory digests: it may
	// be saved inside a directory the plan reads, and it is rewritten.
	skip string
}

// Skipping returns d leaving the file at path out of directory digests.
func (d Digester) Skipping(path string) Digester {
	if a, err := filepath.Abs(path); err == nil {
		d.skip = a
	}
	return d
}

// NewDigester is a Digester with key (tests; plans use Plan.Digester).
func NewDigester(key []byte) Digester { return Digester{key: key} }

// Sum digests parts, each length-prefixed so that ("ab","c") and ("a","bc")
// differ.
func (d Digester) Sum(parts ...[]byte) string {
	m := hmac.New(sha256.New, d.key)
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// State digests what a task's check read: its output, the path state the
// batched read found, and facts (one "kind key=value" line each, from the
// batched read, for the facts the task asked for).
func (d Digester) State(out contract.CheckOutput, facts []string) string {
	path, _ := json.Marshal(out.Path) // plain data: cannot fail
	return d.Sum(out.Stdout, out.Stderr, []byte(fmt.Sprint(out.ExitCode)), path, []byte(strings.Join(facts, "\n")))
}

// Changes digests a task's changes with their real values (a sensitive
// value's digest, never the value, is what the file holds).
func (d Digester) Changes(p *contract.Plan) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(p.Changes) // plain data: cannot fail
	return d.Sum(b)
}

// Path digests a local file: its content; for a directory, the names,
// types, modes and contents of everything in it (a copied tree, an
// inventory directory); "absent" when it does not exist.
func (d Digester) Path(p string) (string, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "absent", nil
	}
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		sum, err := d.file(p)
		return "file " + sum, err
	}
	m := hmac.New(sha256.New, d.key)
	err = filepath.WalkDir(p, func(q string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.skip != "" && q == d.skip {
			return nil
		}
		rel, _ := filepath.Rel(p, q)
		info, err := e.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %s %o", rel, e.Type(), info.Mode().Perm())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(q)
			if err != nil {
				return err
			}
			line += " -> " + target
		case e.Type().IsRegular():
			sum, err := d.file(q)
			if err != nil {
				return err
			}
			line += " " + sum
		}
		fmt.Fprintf(m, "%q\n", line)
		return nil
	})
	if err != nil {
		return "", err
	}
	return "tree " + hex.EncodeToString(m.Sum(nil)), nil
}

func (d Digester) file(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	m := hmac.New(sha256.New, d.key)
	if _, err := io.Copy(m, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(m.Sum(nil)), nil
}

// ChangedFileError names the local files that are not what the plan read.
type ChangedFileError struct {
	Files []File // as the plan recorded them
	Why   []string
}

func (e *ChangedFileError) Error() string {
	var b strings.Builder
	b.WriteString("the plan is stale: ")
	if len(e.Files) == 1 {
		b.WriteString("a file it was made from changed since: ")
	} else {
		fmt.Fprintf(&b, "%d files it was made from changed since: ", len(e.Files))
	}
	for i, f := range e.Files {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s (%s)", f.Role, f.Path, e.Why[i])
	}
	b.WriteString("; make the plan again (drover plan -out) and review it")
	return b.String()
}

// CheckFiles digests every file the plan recorded again, and returns a
// *ChangedFileError naming those that changed.
func (d Digester) CheckFiles(files []File) error {
	ce := &ChangedFileError{}
	for _, f := range files {
		got, err := d.Path(f.Path)
		why := ""
		switch {
		case err != nil:
			why = fmt.Sprintf("cannot be read: %v", err)
		case got == f.Digest:
			continue
		case got == "absent":
			why = "removed"
		case f.Digest == "absent":
			why = "created"
		default:
			why = "modified"
		}
		ce.Files = append(ce.Files, f)
		ce.Why = append(ce.Why, why)
	}
	if len(ce.Files) > 0 {
		return ce
	}
	return nil
}
