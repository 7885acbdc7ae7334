package modules

import (
	"regexp"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// apkManager drives apk (Alpine).
type apkManager struct{}

func (apkManager) name() string { return "apk" }

func (apkManager) installed(names []string) string { return "apk list -I " + pkgWords(names) }

// matchInstalled: the line's first field is KEY-VERSION, where VERSION is
// what apkVersionRE matches (a digit, no '-' until the last "-r", digits).
func (apkManager) matchInstalled(key, v string) string {
	k := shell.Quote(key + "-")
	return "case $l in " + k + "[0-9]*) f=${l%% *}; f=${f#" + k + "}; case ${f%-r*} in *-*) ;; *) case ${f##*-r} in ''|*[!0-9]*) ;; *) " + v + "=1;; esac;; esac;; esac"
}

func (apkManager) candidates(all bool) string { return "apk list" }

// apkVersionRE is an Alpine package version: it follows the name after a
// '-' and ends in -rN.
var apkVersionRE = regexp.MustCompile(`^[0-9][^-]*-r[0-9]+$`)

// splitAPK splits "py3-foo-1.2.3-r0" into "py3-foo" and "1.2.3-r0".
func splitAPK(s string) (name, version string, ok bool) {
	for i := strings.IndexByte(s, '-'); i > 0; {
		if apkVersionRE.MatchString(s[i+1:]) {
			return s[:i], s[i+1:], true
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return "", "", false
}

func (apkManager) parse(installedLines, candidateLines []string) (installed, candidate map[string]string) {
	installed, candidate = map[string]string{}, map[string]string{}
	// "curl-8.9.1-r2 x86_64 {curl} (curl) [installed]"
	for _, l := range installedLines {
		if f := strings.Fields(l); len(f) > 0 {
			if n, v, ok := splitAPK(f[0]); ok {
				installed[n] = v
			}
		}
	}
	// "curl-8.10.0-r0 x86_64 {curl} (curl) [upgradable from: curl-8.9.1-r2]"
	for _, l := range candidateLines {
		if f := strings.Fields(l); len(f) > 0 {
			n, v, ok := splitAPK(f[0])
			if !ok {
				continue
			}
			if _, seen := candidate[n]; !seen || !strings.HasSuffix(l, "[installed]") {
				candidate[n] = v
			}
		}
	}
	return installed, candidate
}

func (apkManager) stamps() []string { return []string{"/var/cache/apk"} }

func (apkManager) needsLists() bool { return false }

// install: apk add -u upgrades the named packages that are installed and
// installs the others.
func (apkManager) install(names []string, upgrade bool) string {
	if upgrade {
		return "apk add --no-progress -u " + pkgWords(names)
	}
	return "apk add --no-progress " + pkgWords(names)
}

func (apkManager) remove(names []string) string { return "apk del --no-progress " + pkgWords(names) }

func (apkManager) refresh() string {
	return "apk update -q\nmkdir -p /var/cache/apk && touch /var/cache/apk"
}
