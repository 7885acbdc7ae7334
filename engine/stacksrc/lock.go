package stacksrc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2/hclsimple"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
)

// LockFile is the lock file's name, beside the playbook (playbook loading
// leaves it out of a directory's files).
const LockFile = config.LockFile

// Lock is the lock file: the commit each git source (repository and ref)
// resolved to.
type Lock struct {
	path string
	mu   sync.Mutex
	by   map[string]Entry
	// dirty: an entry was added or changed since it was read.
	dirty bool
}

// Entry is one locked source.
type Entry struct {
	URL    string
	Ref    string
	Commit string
}

type lockFile struct {
	Stacks []struct {
		Key    string `hcl:"key,label"`
		URL    string `hcl:"url"`
		Ref    string `hcl:"ref,optional"`
		Commit string `hcl:"commit"`
	} `hcl:"stack,block"`
}

// ReadLock reads the lock file in dir; a missing one is an empty lock.
func ReadLock(dir string) (*Lock, error) {
	l := &Lock{path: filepath.Join(dir, LockFile), by: map[string]Entry{}}
	src, err := os.ReadFile(l.path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lock file: %w", err)
	}
	var f lockFile
	if err := hclsimple.Decode(l.path, src, nil, &f); err != nil {
		return nil, fmt.Errorf("the lock file %s does not parse (%w); fix it, or delete it and run drover stack update to resolve every source again", l.path, err)
	}
	for _, s := range f.Stacks {
		l.by[s.Key] = Entry{URL: s.URL, Ref: s.Ref, Commit: s.Commit}
	}
	return l, nil
}

// Path is where the lock file is.
func (l *Lock) Path() string { return l.path }

// Get returns the locked entry of a source key.
func (l *Lock) Get(key string) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.by[key]
	return e, ok
}

// Set records the commit of a source key.
func (l *Lock) Set(key string, e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by[key] != e {
		l.by[key] = e
		l.dirty = true
	}
}

// Entries are the locked sources by key.
func (l *Lock) Entries() map[string]Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Entry, len(l.by))
	for k, e := range l.by {
		out[k] = e
	}
	return out
}

// Save writes the lock file when it changed, atomically.
func (l *Lock) Save() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirty {
		return nil
	}
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(
		"# Written by drover: the commit each git stack source resolved to. Keep it\n" +
			"# with the playbook; `drover stack update` resolves the refs again.\n")}})
	keys := make([]string, 0, len(l.by))
	for k := range l.by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := l.by[k]
		body.AppendNewline()
		b := body.AppendNewBlock("stack", []string{k}).Body()
		b.SetAttributeValue("url", cty.StringVal(e.URL))
		if e.Ref != "" {
			b.SetAttributeValue("ref", cty.StringVal(e.Ref))
		}
		b.SetAttributeValue("commit", cty.StringVal(e.Commit))
	}
	tmp, err := os.CreateTemp(filepath.Dir(l.path), ".drover.lock.*")
	if err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	_, err = tmp.Write(hclwrite.Format(f.Bytes()))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing the lock file %s: %w", l.path, err)
	}
	l.dirty = false
	return nil
}
