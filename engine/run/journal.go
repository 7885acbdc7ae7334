package run

import (
	"context"
	"os"
	"os/user"

	"github.com/drover-cm/drover/engine/remote"
)

// journaled is ctx with the Journal every apply's steps record their
// changes under on each host (docs/undo.md): the caller's (the CLI adds
// drover's version) or a new one with the operator and playbook of opts.
func journaled(ctx context.Context, opts Options) context.Context {
	if remote.JournalOf(ctx) != nil {
		return ctx
	}
	return remote.WithJournal(ctx, remote.NewJournal(JournalMeta(opts, "")))
}

// JournalMeta is a run's journal metadata: operator (user@controller),
// playbook (the run lock's holder names it), and version when known.
func JournalMeta(opts Options, version string) map[string]string {
	m := map[string]string{}
	if opts.Lock != nil && opts.Lock.Holder.User != "" {
		m["operator"] = opts.Lock.Holder.User + "@" + opts.Lock.Holder.Controller
		m["playbook"] = opts.Lock.Holder.Playbook
	} else {
		name, host := "unknown", "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		if h, err := os.Hostname(); err == nil {
			host = h
		}
		m["operator"] = name + "@" + host
	}
	if version != "" {
		m["version"] = version
	}
	return m
}
