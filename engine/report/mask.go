package report

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// Redacted replaces every secret in output.
const Redacted = "********"

// Masker replaces registered secret values in text. The zero value and a nil
// *Masker mask nothing; a Masker is safe for concurrent use.
type Masker struct {
	mu      sync.RWMutex
	secrets []string
	plain   *strings.Replacer // secrets as they are
	escaped *strings.Replacer // secrets as they appear inside JSON strings
}

// NewMasker returns a Masker with no secrets.
func NewMasker() *Masker { return &Masker{} }

// Add registers a secret. Empty secrets are ignored. A secret that contains
// newlines is also masked line by line, since output is often split in lines.
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
		if !slices.Contains(m.secrets, s) {
			m.secrets = append(m.secrets, s)
		}
	}
	// Longest first: the replacer tries patterns in order at each position,
	// so a secret that contains another is replaced whole.
	slices.SortFunc(m.secrets, func(a, b string) int { return len(b) - len(a) })
	var plain, escaped []string
	for _, s := range m.secrets {
		plain = append(plain, s, Redacted)
		escaped = append(escaped, jsonEscape(s), Redacted)
	}
	m.plain = strings.NewReplacer(plain...)
	m.escaped = strings.NewReplacer(escaped...)
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

// JSON masks secrets in JSON text, where they appear escaped.
func (m *Masker) JSON(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	r := m.escaped
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// jsonEscape returns s as encoding/json writes it inside a string, without
// the quotes (HTML escaping off, as the JSON sink writes).
func jsonEscape(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}
