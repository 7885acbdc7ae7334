// Package planfile is drover's saved plan: what `drover plan -out FILE`
// writes and `drover apply FILE` applies. After Terraform's
// internal/plans/planfile, a saved plan records what it was computed from,
// so that apply can refuse when any of it moved:
//
//   - every local file the plan read (playbook, inventory, group_vars,
//     variable files, templates, copied sources), by digest;
//   - the variables given, non-sensitive ones in clear and every one by
//     digest (a sensitive value never in clear: apply reads it again from
//     the same source and compares digests);
//   - per host and play, each task's changes as the plan showed them, the
//     digest of the state its check read and the digest of its changes.
//
// The file is a header line naming the format, the plan as indented JSON
// (for reviewers and jq), and a trailer with the SHA-256 of everything
// before it. The checksum catches edits and truncation, not a forger: the
// file is written 0600 and deserves the care of the playbook itself.
//
// Every digest is an HMAC-SHA256 keyed with a random key of the plan (kept
// in the file): the digest of a weak secret cannot be looked up in a
// precomputed table, though whoever holds the file can still test guesses
// against it, as against any hash.
package planfile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/report"
)

// Format is the version of the file layout this drover writes and reads.
// Any change to Plan that an older drover would misread bumps it.
const Format = 1

// Magic starts every plan file: `drover apply FILE` tells a plan from a
// playbook by it.
const Magic = "drover-plan format "

const (
	headerPrefix  = Magic
	trailerPrefix = "sha256 "
)

// Plan is a saved plan.
type Plan struct {
	// Drover is the version of drover that wrote it: apply refuses a plan
	// from another version, whose modules may plan differently.
	Drover  string    `json:"drover_version"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Key is the HMAC key of every digest in the plan (hex).
	Key     string   `json:"digest_key"`
	Command Command  `json:"command"`
	Files   []File   `json:"files"`
	Inputs  []Input  `json:"variables"`
	Hosts   []Host   `json:"hosts"`
	Summary Summary  `json:"summary"`
	Applied *Applied `json:"applied,omitempty"`
}

// Command is what the plan's command line said, for apply to run again.
type Command struct {
	Playbooks   []string `json:"playbooks"` // absolute paths
	Inventories []string `json:"inventories"`
	Limit       string   `json:"limit,omitempty"`
	AllowLocal  []string `json:"allow_local,omitempty"`
	VarFiles    []string `json:"var_files,omitempty"`
	// Vars are the --var NAME=VALUE flags; a sensitive variable is never
	// given this way (plan -out refuses it).
	Vars []string `json:"vars,omitempty"`
	// Overrides are the connection flags given (--user, --become, ...), by
	// flag name.
	Overrides map[string]string `json:"overrides,omitempty"`
}

// File is a local file the plan read, or a directory (a tree of files).
type File struct {
	Path   string `json:"path"`
	Role   string `json:"role"` // "playbook", "inventory", "var-file", "local", "limit"
	Digest string `json:"digest"`
}

// Input is a variable given outside the playbook.
type Input struct {
	Name   string `json:"name"`
	Source string `json:"source"` // "-var", "DROVER_VAR_port", "prod.hcl:3"
	// Value is the value in JSON (with its type), for a variable that is
	// not sensitive; omitted for a sensitive one.
	Value     json.RawMessage `json:"value,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
	Digest    string          `json:"digest"`
}

// Host is one host's plan, play by play.
type Host struct {
	Name  string `json:"name"`
	Plays []Play `json:"plays"`
}

// Play is one play's tasks on a host.
type Play struct {
	// Index is the play's place in the playbook (from 0); names need not
	// be unique.
	Index int    `json:"index"`
	Name  string `json:"name"`
	Tasks []Task `json:"tasks"`
}

// Task is one task instance's plan on a host.
type Task struct {
	Addr   string `json:"task"`
	Module string `json:"module"`
	// State is the digest of the state its check read ("" when it read
	// none: deferred, skipped). StateSummary says it in words, masked.
	State        string `json:"state_digest,omitempty"`
	StateSummary string `json:"state,omitempty"`
	// Changes are what the plan showed (masked); ChangesDigest covers the
	// changes with their real values.
	Changes       []report.ChangeView `json:"changes,omitempty"`
	ChangesDigest string              `json:"changes_digest,omitempty"`
	// Deferred: its configuration is known only after earlier tasks ran,
	// so apply works it out then, as plan showed ("known after apply").
	Deferred bool   `json:"deferred,omitempty"`
	Skipped  string `json:"skipped,omitempty"`
}

// Summary counts the plan's changes.
type Summary = report.PlanSummary

// Applied says when the plan was applied: a plan is applied once.
type Applied struct {
	At time.Time `json:"at"`
	By string    `json:"by"` // user@controller
}

// New returns an empty plan with a fresh id and digest key.
func New(droverVersion string) (*Plan, error) {
	var id [8]byte
	var key [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("making the plan's id: %w", err)
	}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("making the plan's digest key: %w", err)
	}
	return &Plan{Drover: droverVersion, ID: hex.EncodeToString(id[:]), Created: time.Now().UTC().Truncate(time.Second), Key: hex.EncodeToString(key[:])}, nil
}

// Digester is the plan's digest function.
func (p *Plan) Digester() (Digester, error) {
	k, err := hex.DecodeString(p.Key)
	if err != nil || len(k) < 16 {
		return Digester{}, errors.New("the plan's digest key is missing or malformed")
	}
	return Digester{key: k}, nil
}

// Changed reports whether the plan has anything for apply to do: a change,
// or a task known only after apply.
func (p *Plan) Changed() bool { return p.Summary.Changed() || p.Summary.Deferred > 0 }

// Marshal encodes the plan with its header and checksum.
func Marshal(p *Plan) ([]byte, error) {
	body, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the plan: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%d\n", headerPrefix, Format)
	b.Write(body)
	b.WriteByte('\n')
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "%s%x\n", trailerPrefix, sum)
	return b.Bytes(), nil
}

// FormatError is a file that is not a plan this drover can read.
type FormatError struct {
	Path string
	Msg  string
}

func (e *FormatError) Error() string { return e.Path + ": " + e.Msg }

// Unmarshal decodes a plan file (path names it in errors) and checks its
// format, its checksum, and that drover version droverVersion wrote it.
func Unmarshal(path string, data []byte, droverVersion string) (*Plan, error) {
	p, err := Decode(path, data, droverVersion)
	if err != nil {
		return nil, err
	}
	if p.Drover != droverVersion {
		return nil, &FormatError{Path: path, Msg: fmt.Sprintf("made by drover %s; this is drover %s, whose modules may plan differently: make the plan again with this drover", p.Drover, droverVersion)}
	}
	return p, nil
}

// Decode is Unmarshal without the version check, to show a plan another
// drover made (droverVersion is for messages).
func Decode(path string, data []byte, droverVersion string) (*Plan, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	header, _, ok := bytes.Cut(data, []byte("\n"))
	if !ok || !strings.HasPrefix(string(header), headerPrefix) {
		return nil, bad("not a drover plan file (it does not start with %q); make one with drover plan -out FILE", headerPrefix+"N")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(header), headerPrefix))
	if err != nil {
		return nil, bad("not a drover plan file (malformed header %q)", header)
	}
	if n != Format {
		return nil, bad("a plan of file format %d; this drover (%s) reads format %d only: make the plan again with this drover", n, droverVersion, Format)
	}
	i := bytes.LastIndex(data[:len(data)-1], []byte("\n"+trailerPrefix))
	if i < 0 || data[len(data)-1] != '\n' {
		return nil, bad("the plan file is truncated (no checksum line at its end): make the plan again")
	}
	want := strings.TrimSpace(string(data[i+1+len(trailerPrefix):]))
	got := sha256.Sum256(data[:i+1])
	if want != hex.EncodeToString(got[:]) {
		return nil, bad("the plan file was modified after drover wrote it (its checksum does not match): make the plan again rather than editing it")
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data[len(header)+1 : i+1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, bad("the plan cannot be decoded: %v", err)
	}
	return &p, nil
}
