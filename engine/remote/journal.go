package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/shell"
)

// Journal is what the steps of a run need to journal their changes on the
// host (modules' journalFS, docs/undo.md): the run's id, a directory name
// on the host, and its metadata, written once per host at the first
// journaled change. A context without a Journal journals nothing.
type Journal struct {
	Run  string
	Meta map[string]string // time, operator, playbook, version, undo, ...
}

// NewJournal is a Journal with a fresh run id: the controller's UTC time to
// the millisecond and random hex, so that ids sort by time (retention
// keeps the newest) and two runs never share one.
func NewJournal(meta map[string]string) *Journal {
	now := time.Now().UTC()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	m := map[string]string{"time": now.Format(time.RFC3339)}
	for k, v := range meta {
		m[k] = v
	}
	return &Journal{Run: now.Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:]), Meta: m}
}

type journalKey struct{}

// WithJournal returns ctx whose applied steps journal under j.
func WithJournal(ctx context.Context, j *Journal) context.Context {
	return context.WithValue(ctx, journalKey{}, j)
}

// JournalOf is the Journal of ctx, nil when it has none.
func JournalOf(ctx context.Context) *Journal {
	j, _ := ctx.Value(journalKey{}).(*Journal)
	return j
}

// journalVars is the script line that sets the journal's shell variables
// ($_fjr the run id, $_fjm its metadata lines; with batch, $_fju is the
// host's umask the preamble saved in $m and $_fjok a file in the batch's
// private directory that says the journal directory was checked), "" when
// ctx has no Journal.
// Values are one line each: a newline in one becomes a space.
func journalVars(ctx context.Context, batch bool) string {
	j := JournalOf(ctx)
	if j == nil {
		return ""
	}
	keys := make([]string, 0, len(j.Meta))
	for k := range j.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var meta []string
	for _, k := range keys {
		meta = append(meta, k+"="+strings.NewReplacer("\n", " ", "\r", " ").Replace(j.Meta[k]))
	}
	s := "_fjr=" + shell.Quote(j.Run) + " _fjm=" + shell.Quote(strings.Join(meta, "\n"))
	if batch {
		s += ` _fju=$m _fjok="$d/journal-ok"`
	}
	return s + "\n"
}
