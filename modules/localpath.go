package modules

import (
	"github.com/drover-cm/drover/engine/localpath"
	"github.com/drover-cm/drover/modules/contract"
)

// LocalPath resolves a module's local (controller-side) path attribute: a
// copy's or template's source, an archive's or release's source, git's
// deploy_key. Every one goes through the one local path rule
// (engine/localpath, the same as file() and templatefile()): relative to
// cfg.Dir, and it must lead, also after following symbolic links, into the
// playbook directory (cfg.Root) or a directory the operator allowed with
// --allow-local. A playbook from elsewhere must not be able to push
// ~/.ssh/id_ed25519 to a host, neither with "../../.ssh/id_ed25519" nor with
// an absolute path. It returns the path to read, with links resolved.
func LocalPath(cfg contract.Config, p string) (string, error) {
	return localRule(cfg).Resolve(cfg.Dir, p)
}

// localRule is the local path rule of a task's configuration.
func localRule(cfg contract.Config) localpath.Rule {
	root := cfg.Root
	if root == "" {
		root = cfg.Dir
	}
	return localpath.Rule{Root: root, Allow: cfg.AllowLocal}
}
