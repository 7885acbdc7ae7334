package report

import (
	"slices"
	"strings"
	"sync"
)

// Redacted replaces every secret in output.
const Redacted = "********"

// Masker replaces registered secret values in text. The zero value and a nil
// *Masker mask nothing; a Masker is safe for concurrent use.
//
// It matches secrets as they are, so it must see text before any encoding
// (JSON, HTML) or rendering changes them: writers mask values, then encode
// (see clean.go).
type Masker struct {
	mu      sync.RWMutex
	secrets []string
	plain   *strings.Replacer
}

// NewMasker returns a Masker with no secrets.
func NewMasker() *Masker { return &Masker{} }

// Add registers a secret. Empty secrets are ignored. A secret that contains
// newlines is also masked line by line, since output is often split in lines;
// one with a single quote is also masked as shell.Quote writes it.
func (m *Masker) Add(secret string) {
	if m == nil || secret == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	add := []string{secret}
	if strings.Contains(secret, "\n") {
		for _, l := range strings.Split(secret, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				add = append(add, l)
			}
		}
	}
	for _, s := range add {
		// A value shown inside a shell word (a command's argv in a plan)
		// has its single quotes written as '\''.
		for _, form := range []string{s, strings.ReplaceAll(s, "'", `'\''`)} {
			if !slices.Contains(m.secrets, form) {
				m.secrets = append(m.secrets, form)
			}
		}
	}
	// Longest first: the replacer tries patterns in order at each position,
	// so a secret that contains another is replaced whole.
	slices.SortFunc(m.secrets, func(a, b string) int { return len(b) - len(a) })
	var plain []string
	for _, s := range m.secrets {
		plain = append(plain, s, Redacted)
	}
	m.plain = strings.NewReplacer(plain...)
}

// String returns s with every secret replaced by Redacted.
func (m *Masker) String(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	r := m.plain
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}
