package modules

import (
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// rpmManager drives rpm and dnf or yum (Fedora, RHEL and its rebuilds).
type rpmManager struct {
	cmd   string // "dnf" or "yum"
	cache string // the manager's cache directory
}

func (m rpmManager) name() string { return m.cmd }

// rpmQueryFormat prints NAME, a tab and [EPOCH:]VERSION-RELEASE.
const rpmQueryFormat = `%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n`

func (rpmManager) installed(names []string) string {
	return "rpm -q --qf " + shell.Quote(rpmQueryFormat) + " " + pkgWords(names)
}

// matchInstalled: "NAME<tab>VERSION"; "package NAME is not installed" has
// no tab.
func (rpmManager) matchInstalled(key, v string) string {
	return "case $l in " + shell.Quote(key+"\t") + "*) " + v + "=1;; esac"
}

// candidates: check-update lists only updates of installed packages, from
// the cached metadata (-C): the check never reaches the network. It has
// nothing to say about packages not installed, so it runs for state
// "latest" only.
func (m rpmManager) candidates(all bool) string {
	if !all {
		return ""
	}
	return m.cmd + " -q -C check-update"
}

func (rpmManager) parse(installedLines, candidateLines []string) (installed, candidate map[string]string) {
	installed, candidate = map[string]string{}, map[string]string{}
	for _, l := range installedLines {
		// "package foo is not installed" has no tab.
		if n, v, ok := strings.Cut(l, "\t"); ok {
			installed[n] = v
		}
	}
	for _, l := range candidateLines {
		// "curl.x86_64   8.6.0-8.fc40   updates"
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		i := strings.LastIndexByte(f[0], '.')
		if i <= 0 {
			continue
		}
		if _, seen := candidate[f[0][:i]]; !seen {
			candidate[f[0][:i]] = f[1]
		}
	}
	return installed, candidate
}

func (m rpmManager) stamps() []string {
	return []string{m.cache + "/last_makecache", m.cache}
}

func (rpmManager) needsLists() bool { return false }

// install: dnf and yum install upgrade an installed package named in the
// transaction to the newest version, so one command serves both.
func (m rpmManager) install(names []string, upgrade bool) string {
	return m.cmd + " install -y " + pkgWords(names) + " </dev/null"
}

func (m rpmManager) remove(names []string) string {
	return m.cmd + " remove -y " + pkgWords(names) + " </dev/null"
}

func (m rpmManager) refresh() string {
	refresh := m.cmd + " -q makecache"
	if m.cmd == "dnf" {
		refresh += " --refresh"
	}
	return refresh + " </dev/null\nmkdir -p " + m.cache + " && touch " + m.stamps()[0]
}
