package modules

import (
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// aptManager drives dpkg and apt-get (Debian, Ubuntu).
type aptManager struct{}

func (aptManager) name() string { return "apt" }

func (aptManager) installed(names []string) string {
	return "dpkg-query -W -f=" + shell.Quote(`${Package}\t${Status}\t${Version}\n`) + " " + pkgWords(names)
}

// matchInstalled: "NAME<tab>WANT FLAG installed<tab>VERSION". Only the
// status field can end in " installed" followed by a tab.
func (aptManager) matchInstalled(key, v string) string {
	return "case $l in " + shell.Quote(key+"\t") + "*' installed\t'*) " + v + "=1;; esac"
}

func (aptManager) candidates(all bool) string { return "LC_ALL=C apt-cache policy" }

func (aptManager) parse(installedLines, candidateLines []string) (installed, candidate map[string]string) {
	installed, candidate = map[string]string{}, map[string]string{}
	for _, l := range installedLines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			continue
		}
		// ${Status} is "want flag status": "install ok installed",
		// "deinstall ok config-files", "hold ok installed", ...
		st := strings.Fields(f[1])
		if len(st) == 3 && st[2] == "installed" {
			installed[f[0]] = f[2]
		}
	}
	cur := ""
	for _, l := range candidateLines {
		if !strings.HasPrefix(l, " ") && strings.HasSuffix(l, ":") {
			cur = pkgKey(strings.TrimSuffix(l, ":"))
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Candidate:"); ok && cur != "" {
			if v = strings.TrimSpace(v); v != "(none)" {
				candidate[cur] = v
			}
		}
	}
	return installed, candidate
}

func (aptManager) stamps() []string {
	return []string{"/var/lib/apt/periodic/update-success-stamp", "/var/lib/apt/lists"}
}

func (aptManager) needsLists() bool { return true }

// aptEnv keeps every prompt away: debconf questions take their defaults,
// ucf and dpkg keep the local version of a changed configuration file,
// needrestart restarts services without asking, apt-listchanges says nothing.
const aptEnv = "export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true UCF_FORCE_CONFFOLD=1 NEEDRESTART_MODE=a APT_LISTCHANGES_FRONTEND=none\n"

// aptOpts wait for a lock held by another apt (unattended-upgrades) instead
// of failing at once, and answer dpkg's configuration file questions.
const aptOpts = "-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

func (aptManager) install(names []string, upgrade bool) string {
	return aptEnv + "apt-get install " + aptOpts + " " + pkgWords(names) + " </dev/null"
}

func (aptManager) remove(names []string) string {
	return aptEnv + "apt-get remove " + aptOpts + " " + pkgWords(names) + " </dev/null"
}

func (m aptManager) refresh() string {
	return aptEnv + "apt-get update -q -o DPkg::Lock::Timeout=120 </dev/null\n" +
		"mkdir -p /var/lib/apt/periodic && touch " + m.stamps()[0]
}
