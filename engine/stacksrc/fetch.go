package stacksrc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fetcher fetches git sources for one run: each repository and ref once.
// It implements config.StackSources.
type Fetcher struct {
	// Cache holds one checkout per repository and commit; DefaultCache()
	// when empty.
	Cache string
	// Lock is read for locked commits and receives new ones; nil: none.
	Lock *Lock
	// Update resolves every ref again instead of using the locked commit.
	Update bool
	// Timeout bounds each git command; 5 minutes when zero.
	Timeout time.Duration

	mu   sync.Mutex
	done map[string]string // source key -> checkout
}

// DefaultCache is ~/.cache/drover/stacks ($XDG_CACHE_HOME/drover/stacks).
func DefaultCache() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for stacks (%w); set XDG_CACHE_HOME", err)
	}
	return filepath.Join(d, "drover", "stacks"), nil
}

var commitHash = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// Fetch returns the stack directory of a git source, the checkout it is
// in, and the commit.
func (f *Fetcher) Fetch(source string) (dir, root, commit string, err error) {
	src, err := Parse(source)
	if err != nil {
		return "", "", "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		f.done = map[string]string{}
	}
	key := src.Key()
	root, ok := f.done[key]
	if !ok {
		root, err = f.checkout(src)
		if err != nil {
			return "", "", "", err
		}
		f.done[key] = root
	}
	commit = filepath.Base(root)
	dir = root
	if src.Dir != "" {
		dir = filepath.Join(root, filepath.FromSlash(src.Dir))
	}
	return dir, root, commit, nil
}

// checkout returns the cached checkout of src at its locked commit, or at
// the commit its ref resolves to now (then locked).
func (f *Fetcher) checkout(src Source) (string, error) {
	cache := f.Cache
	if cache == "" {
		c, err := DefaultCache()
		if err != nil {
			return "", err
		}
		cache = c
	}
	sum := sha256.Sum256([]byte(src.URL))
	repoDir := filepath.Join(cache, hex.EncodeToString(sum[:8]))
	locked := ""
	if f.Lock != nil && !f.Update {
		if e, ok := f.Lock.Get(src.Key()); ok && commitHash.MatchString(e.Commit) {
			locked = e.Commit
		}
	}
	if locked != "" {
		if st, err := os.Stat(filepath.Join(repoDir, locked)); err == nil && st.IsDir() {
			if err := ownedByMe(repoDir); err != nil {
				return "", err
			}
			return filepath.Join(repoDir, locked), nil
		}
	}
	if err := os.MkdirAll(repoDir, 0o700); err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	if err := ownedByMe(repoDir); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(repoDir, ".fetch-")
	if err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "w")
	if _, err := f.git("", "clone", "--quiet", "--no-checkout", "--", src.URL, work); err != nil {
		return "", fmt.Errorf("cannot fetch %s: %w", src.URL, err)
	}
	commit := locked
	if commit == "" {
		commit, err = f.resolve(work, src)
		if err != nil {
			return "", err
		}
	}
	if _, err := f.git(work, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit); err != nil {
		if locked != "" {
			return "", fmt.Errorf("the lock file pins %s to commit %s, which the repository no longer has (%w); run drover stack update to lock what %s points at now", src.Key(), locked, err, refOrHead(src))
		}
		return "", fmt.Errorf("cannot check out %s of %s: %w", commit, src.URL, err)
	}
	// Only files are kept: nothing of the repository's own configuration.
	if err := os.RemoveAll(filepath.Join(work, ".git")); err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	final := filepath.Join(repoDir, commit)
	if err := os.Rename(work, final); err != nil {
		if _, serr := os.Stat(final); serr != nil { // not a concurrent run's copy
			return "", fmt.Errorf("stack cache: %w", err)
		}
	}
	if f.Lock != nil {
		f.Lock.Set(src.Key(), Entry{URL: src.URL, Ref: src.Ref, Commit: commit})
	}
	return final, nil
}

func refOrHead(src Source) string {
	if src.Ref == "" {
		return "the default branch"
	}
	return src.Ref
}

// resolve finds the commit src's ref names in a fresh clone: a tag, then a
// branch, then a commit; the default branch without a ref.
func (f *Fetcher) resolve(work string, src Source) (string, error) {
	var tries []string
	switch {
	case src.Ref == "":
		tries = []string{"HEAD"}
	default:
		tries = []string{"refs/tags/" + src.Ref, "refs/remotes/origin/" + src.Ref}
		if regexp.MustCompile(`^[0-9a-f]{7,64}$`).MatchString(src.Ref) {
			tries = append(tries, src.Ref)
		}
	}
	for _, r := range tries {
		out, err := f.git(work, "rev-parse", "--verify", "--quiet", "--end-of-options", r+"^{commit}")
		if err == nil {
			if c := strings.TrimSpace(out); commitHash.MatchString(c) {
				return c, nil
			}
		}
	}
	return "", fmt.Errorf("%s has no tag, branch or commit %q; give an existing one in ?ref=", src.URL, src.Ref)
}

// hardened keeps git from running what a repository or the environment
// names: no hooks, no fsmonitor, plain transports only, no prompts.
var hardened = []string{
	"GIT_CONFIG_COUNT=2",
	"GIT_CONFIG_KEY_0=core.fsmonitor", "GIT_CONFIG_VALUE_0=false",
	"GIT_CONFIG_KEY_1=core.hooksPath", "GIT_CONFIG_VALUE_1=/dev/null",
	"GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
	"GIT_TERMINAL_PROMPT=0",
	"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
}

func (f *Fetcher) git(dir string, args ...string) (string, error) {
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, hardened...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", fmt.Errorf("git %s timed out after %s", args[0], timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return out.String(), nil
}

// ownedByMe refuses a cache directory another user owns or may write: its
// stacks would be code that user wrote, run with drover's privileges.
func ownedByMe(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stack cache: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && (int(sys.Uid) != os.Getuid() || st.Mode().Perm()&0o022 != 0) {
		return fmt.Errorf("the stack cache %s is owned by uid %d or writable by others: a stack from it could be anyone's; remove it (drover fetches it again) or set XDG_CACHE_HOME to a directory of your own", dir, sys.Uid)
	}
	return nil
}
