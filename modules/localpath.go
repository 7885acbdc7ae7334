package modules

import (
	"fmt"
	"path/filepath"
	"strings"
)

// LocalPath resolves a module's local (controller-side) path attribute such
// as a copy's or template's source. A relative path is relative to cfg.Dir
// and must stay inside the playbook directory (cfg.Root), also after
// following symbolic links, like the file() and templatefile() functions: a
// playbook from elsewhere must not be able to push ~/.ssh/id_ed25519 to a
// host with source = "../../.ssh/id_ed25519". An absolute path is the
// operator's explicit choice and is used as given.
func LocalPath(cfg Config, p string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	full := filepath.Join(cfg.Dir, p)
	if err := inside(guardRoot(cfg, p), full); err != nil {
		return "", err
	}
	return full, nil
}

// guardRoot is the directory a relative local path p must stay in, "" for
// an absolute p.
func guardRoot(cfg Config, p string) string {
	if filepath.IsAbs(p) {
		return ""
	}
	if cfg.Root != "" {
		return cfg.Root
	}
	if cfg.Dir != "" {
		return cfg.Dir
	}
	return "."
}

// inside returns an error when p, or what it links to, is outside root.
// A path that does not exist yet is judged by its cleaned name; reading it
// then fails with its own error.
func inside(root, p string) error {
	r, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(r); err == nil {
		r = real
	}
	full, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(full); err == nil {
		full = real
	}
	rel, err := filepath.Rel(r, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is outside the playbook directory %s; a relative local path must stay inside it: move the file there, or give an absolute path if you mean it", p, r)
	}
	return nil
}
