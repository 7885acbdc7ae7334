// Package stacksrc fetches stacks from git repositories for engine/config:
// a source git::URL//DIR?ref=REF is cloned once per run into a cache
// (~/.cache/drover/stacks), checked out at the commit the ref resolves to,
// and that commit is recorded in the playbook's lock file
// (drover.lock.hcl). Later runs check out the locked commit, whatever the
// ref points at by then, until `drover stack update` resolves refs again.
//
// git runs with hooks and the fsmonitor switched off and with only the
// plain transports allowed (no ext:: or other command-running helpers),
// as in the git module: what a repository says is data, never code.
package stacksrc

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Source is a parsed git source.
type Source struct {
	// URL is the repository (https://, ssh://, git://, file:// or host:path).
	URL string
	// Dir is the stack's directory inside the repository ("" for its top).
	Dir string
	// Ref is a tag, a branch or a commit; "" for the default branch.
	Ref string
}

// Key is what the lock file records a commit for: the repository and ref
// (every directory of one checkout shares the commit).
func (s Source) Key() string {
	if s.Ref == "" {
		return s.URL
	}
	return s.URL + "?ref=" + s.Ref
}

var (
	helperURL = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)
	refName   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/-]*$`)
)

// Parse reads "git::URL[//DIR][?ref=REF]".
func Parse(s string) (Source, error) {
	rest, ok := strings.CutPrefix(s, "git::")
	if !ok {
		return Source{}, fmt.Errorf("%q is not a git source: write git::https://host/repo.git//dir?ref=v1.2", s)
	}
	var src Source
	if i := strings.LastIndexByte(rest, '?'); i >= 0 {
		q := rest[i+1:]
		rest = rest[:i]
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if k != "ref" {
				return Source{}, fmt.Errorf("%q: unknown query parameter %q; a git source takes only ?ref=TAG, BRANCH or COMMIT", s, k)
			}
			src.Ref = v
		}
		if src.Ref != "" && (!refName.MatchString(src.Ref) || strings.Contains(src.Ref, "..")) {
			return Source{}, fmt.Errorf("%q: %q is not a tag, branch or commit name", s, src.Ref)
		}
	}
	// The directory follows the first "//" after the scheme's "://".
	start := 0
	if i := strings.Index(rest, "://"); i >= 0 {
		start = i + 3
	}
	if i := strings.Index(rest[start:], "//"); i >= 0 {
		src.Dir = rest[start+i+2:]
		rest = rest[:start+i]
	}
	src.URL = rest
	switch {
	case src.URL == "" || strings.HasPrefix(src.URL, "-") || strings.ContainsAny(src.URL, "\n\r\x00"):
		return Source{}, fmt.Errorf("%q: %q is not a repository URL", s, src.URL)
	case helperURL.MatchString(src.URL):
		return Source{}, fmt.Errorf("%q names a git remote helper (transport::address), which can run commands; use an https://, ssh://, git:// or file:// URL", s)
	}
	if src.Dir != "" {
		clean := path.Clean(src.Dir)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return Source{}, fmt.Errorf("%q: the directory %q leaves the repository", s, src.Dir)
		}
		src.Dir = strings.TrimPrefix(clean, "./")
		if src.Dir == "." {
			src.Dir = ""
		}
	}
	return src, nil
}
