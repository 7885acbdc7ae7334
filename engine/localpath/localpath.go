// Package localpath is the one rule for the files on the controller that a
// playbook reads: file(), fileexists() and templatefile(), and every module
// attribute naming a local file (copy's and template's source, archive's and
// release's source, git's deploy_key).
//
// A playbook may come from someone else (a repository, a colleague), and
// what it reads is pushed to hosts. So a local path, relative or absolute,
// must lead, after following symbolic links, into the playbook directory.
// The operator, not the playbook, may allow further directories: drover
// plan/apply/validate --allow-local DIR (Rule.Allow). A playbook cannot grant
// itself more.
package localpath

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Rule says where local files may be read.
type Rule struct {
	// Root is the playbook directory; "" means the working directory.
	Root string
	// Allow are further directories the operator allowed (--allow-local).
	Allow []string
}

// Resolve returns the file a local path p names: a relative p is relative
// to base (the directory of the file that named it; "" means Root). It is
// refused, with what to do, when it is or links to something outside Root
// and every Allow directory. A path that does not exist yet is judged by its
// cleaned name; reading it then fails with its own error. The path returned
// is the one to read, with links resolved, so that the file read is the file
// judged.
func (r Rule) Resolve(base, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty local path")
	}
	if base == "" {
		base = r.Root
	}
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(base, p)
	}
	joined, err := filepath.Abs(full)
	if err != nil {
		return "", err
	}
	full = joined
	if real, err := filepath.EvalSymlinks(joined); err == nil {
		full = real
	}
	roots, err := r.roots()
	if err != nil {
		return "", err
	}
	for _, root := range roots {
		if within(root, full) {
			seen(full)
			return full, nil
		}
	}
	hint := "move the file into it"
	if len(r.Allow) == 0 {
		hint += ", or allow its directory with --allow-local DIR if you trust this playbook to read it"
	}
	where := "the playbook directory " + roots[0]
	if len(roots) > 1 {
		where += " and the directories allowed with --allow-local (" + strings.Join(roots[1:], ", ") + ")"
	}
	what := p
	if full != joined {
		what = fmt.Sprintf("%s (a link to %s)", p, full)
	}
	return "", fmt.Errorf("%s is outside %s: drover reads local files only there, since what a playbook reads it can push to a host; %s", what, where, hint)
}

// roots are the directories files may be read in, absolute and with links
// resolved; the playbook directory first.
func (r Rule) roots() ([]string, error) {
	var out []string
	for _, d := range append([]string{r.Root}, r.Allow...) {
		if d == "" {
			d = "."
		}
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("local path directory %s: %w", d, err)
		}
		if real, err := filepath.EvalSymlinks(a); err == nil {
			a = real
		}
		out = append(out, a)
	}
	return out, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Watchers see every path Resolve returns while they watch. A saved plan
// (engine/planfile) records the digest of each local file the plan read, so
// that apply refuses when one of them changed; every reader of local files
// goes through Resolve, so watching it finds them all wherever they are
// read (functions, modules). A process runs one command: a watcher may see
// the resolutions of another run in the same process (tests), which only
// adds files to its list.
var watchers struct {
	sync.Mutex
	set map[*Watcher]bool
}

// Watcher collects resolved paths, from Watch until Stop.
type Watcher struct {
	mu    sync.Mutex
	paths map[string]bool
}

// Watch starts collecting the paths Resolve returns.
func Watch() *Watcher {
	w := &Watcher{paths: map[string]bool{}}
	watchers.Lock()
	if watchers.set == nil {
		watchers.set = map[*Watcher]bool{}
	}
	watchers.set[w] = true
	watchers.Unlock()
	return w
}

// Stop ends the watch and returns the paths seen, sorted.
func (w *Watcher) Stop() []string {
	watchers.Lock()
	delete(watchers.set, w)
	watchers.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.paths))
	for p := range w.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func seen(p string) {
	watchers.Lock()
	defer watchers.Unlock()
	for w := range watchers.set {
		w.mu.Lock()
		w.paths[p] = true
		w.mu.Unlock()
	}
}
