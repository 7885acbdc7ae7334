package integration_test

import (
	"context"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// gitPayload plants, as the attacker, every piece of repository config that
// makes git run a command, each writing /tmp/pwned-<what> with the name of
// the user it ran as.
const gitPayload = `set -e
mark() { printf '%s' "id -un >/tmp/pwned-$1"; }
git config core.fsmonitor "$(mark fsmonitor); false"
git config core.sshCommand "$(mark sshcommand); false"
git config core.pager "$(mark pager); cat"
git config core.hooksPath "$HOME/hooks"
git config remote.origin.uploadpack "$(mark uploadpack); false"
mkdir -p "$HOME/hooks"
for h in post-checkout reference-transaction pre-auto-gc post-merge; do
  printf '#!/bin/sh\nid -un >/tmp/pwned-hook-%s\n' "$h" >"$HOME/hooks/$h"
  chmod +x "$HOME/hooks/$h"
done
`

// pwnedAsRoot lists the payload markers that ran as root.
func pwnedAsRoot(t *testing.T, h *integration.Host) string {
	t.Helper()
	return strings.TrimSpace(h.Exec(t, `for f in /tmp/pwned-*; do [ -e "$f" ] || continue; if [ "$(cat "$f")" = root ]; then echo "$f"; fi; done`))
}

// TestGitForeignRepository: a repository at dest owned by a less privileged
// user is never worked in by git as root, neither by the read-only plan nor by
// apply: its config (core.fsmonitor, hooks, core.sshCommand, ...) would run
// as root. drover refuses and says why; nothing of the payload runs as root.
func TestGitForeignRepository(t *testing.T) {
	fleet := integration.Start(t, 1)
	h := fleet.Hosts[0]
	if _, err := h.Run("command -v git"); err != nil {
		t.Skip("git is not installed on the fleet hosts (this machine's /): apt-get install git")
	}
	gitRemote(t, h)
	h.Exec(t, `set -e
cd /tmp/work && echo two > f && HOME=/root git -c user.name=t -c user.email=t@x commit -qam two && git push -q origin main
mkdir -p /srv/mal
git clone -q file:///srv/repo.git /srv/mal/app
git -C /srv/mal/app reset -q --hard HEAD~1
chown -R `+integration.AttackerUser+` /srv/mal`)
	// The attacker's clone, one commit behind so that a plan wants to fetch.
	h.ExecAs(t, integration.AttackerUser, "cd /srv/mal/app\n"+gitPayload)
	// The payload works: git run by its owner runs it.
	h.ExecAs(t, integration.AttackerUser, "cd /srv/mal/app && git status >/dev/null")
	if got := h.Exec(t, "cat /tmp/pwned-fsmonitor"); got != integration.AttackerUser+"\n" {
		t.Fatalf("the payload did not run for its owner: %q", got)
	}

	play := map[string]string{"site.hcl": `
play "p" {
  hosts = "all"
  git "app" {
    repo = "file:///srv/repo.git"
    dest = "/srv/mal/app"
    ref  = "main"
  }
}
`}
	out, res := newEngine(t, fleet, play).plan()
	if res.Summary.Failed != 1 || !strings.Contains(out, "owned by") {
		t.Errorf("plan of a repository owned by %s:\n%s\nwant the task refused with why", integration.AttackerUser, out)
	}
	if p := pwnedAsRoot(t, h); p != "" {
		t.Fatalf("drover plan ran the repository owner's code as root: %s\n%s", p, out)
	}
	out, rc := newEngine(t, fleet, play).apply(context.Background(), nil)
	if rc.Recap.OK() || !strings.Contains(out, "owned by") {
		t.Errorf("apply to a repository owned by %s:\n%s\nwant the task refused", integration.AttackerUser, out)
	}
	if p := pwnedAsRoot(t, h); p != "" {
		t.Fatalf("drover apply ran the repository owner's code as root: %s\n%s", p, out)
	}
	wantEqual(t, "the attacker's clone untouched", h.Exec(t, "cat /srv/mal/app/f"), "one\n")
}
