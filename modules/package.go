package modules

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// packageModule installs, upgrades and removes OS packages with the host's
// package manager (apt, dnf, yum or apk).
type packageModule struct{}

var packageSpec = &contract.Spec{
	Name:    "package",
	Summary: "Install, upgrade or remove OS packages with apt, dnf, yum or apk.",
	Doc: `Makes the named packages present, absent, or present at the newest version
the host's repositories offer. The package manager is package_manager when set,
else the one in the host's facts when the play gathered them
(host.facts.package_manager: apt on Debian and Ubuntu, dnf or yum on Fedora and
RHEL-like systems, apk on Alpine), else the check finds it on the host by the
same rule: the task does not make the play gather facts.

The package tasks of a host share one state read, batched with the play's
other checks: one query (dpkg-query, rpm -q, apk list) for the names of all of
them, and one question to the repositories (apt-cache policy, dnf
check-update, apk list) about the names not installed, and every name of a
state "latest" task. Every change of a task is made in one
non-interactive transaction: apt-get runs with DEBIAN_FRONTEND=noninteractive,
-y and --force-confdef/--force-confold (a changed configuration file keeps the
local version; no debconf, ucf or needrestart prompt can wait for an answer),
and waits up to two minutes for a dpkg lock held by another apt.

"present" installs missing packages and leaves installed ones at their version;
"latest" also upgrades installed ones whose repository candidate is newer;
"absent" removes installed ones (apt-get remove: configuration files stay).

update_cache refreshes the package index (apt-get update, dnf/yum makecache,
apk update) before installing, when the index is older than cache_valid_time,
and only when the task has something to install or state is "latest": a task
whose packages are all present does not touch the network. On apt, an index
that was never downloaded (no lists at all, as in a fresh container or
debootstrap) is refreshed before installing whatever update_cache says.

A run as root journals each named package's version before and after its
transaction: drover undo removes a package the run installed (refusing when
that would remove another package) and refuses to reinstall one it removed
or upgraded (docs/undo.md).

Give real package names, not virtual ones or globs: the check looks each name
up as an installed package, so a virtual name would never look installed.`,
	Attributes: []contract.Attribute{
		{Name: "names", Type: cty.List(cty.String), Required: true,
			Doc: `Package names, e.g. ["nginx", "curl"]. Architecture qualifiers ("libc6:i386") are passed through on apt.`},
		{Name: "state", Type: cty.String, Default: cty.StringVal("present"),
			Doc: `"present", "absent" or "latest".`},
		{Name: "update_cache", Type: cty.Bool, Default: cty.False,
			Doc: "Refresh the package index first when it is older than cache_valid_time."},
		{Name: "cache_valid_time", Type: cty.String, Default: cty.StringVal("1h"),
			Doc: `How old the index may be before update_cache refreshes it, as a duration: "30m", "1h", "24h".`},
		{Name: "package_manager", Type: cty.String,
			Doc: `"apt", "dnf", "yum" or "apk", instead of the one the host's facts report or the check finds.`},
	},
	Example: `package "web" {
  names        = ["nginx", "curl"]
  state        = "present"
  update_cache = true
}`,
}

func (packageModule) Spec() *contract.Spec { return packageSpec }

// pkgNameRE is what a package name may look like on any supported manager:
// Debian policy names (with an optional :arch), RPM and apk names. A version
// pin ("nginx=1.22") or a glob is refused: the check could not match it.
var pkgNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+~@-]*(:[A-Za-z0-9_-]+)?$`)

func (packageModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(packageSpec, cfg)
	t := &packageTask{}
	if v := a.get("names"); v != cty.NilVal {
		seen := map[string]bool{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				a.fail("names", "an element is null")
				continue
			}
			n := e.AsString()
			if !pkgNameRE.MatchString(n) || len(n) > 200 {
				a.fail("names", "%q is not a package name (letters, digits and + . _ ~ @ -, not starting with -; no version pins or globs)", n)
				continue
			}
			if !seen[n] {
				seen[n] = true
				t.names = append(t.names, n)
			}
		}
		if len(t.names) == 0 && a.err == nil {
			a.fail("names", "must list at least one package")
		}
	}
	t.state = a.enum("state", "present", "absent", "latest")
	t.updateCache = a.boolean("update_cache")
	if s, ok := a.str("cache_valid_time"); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			a.fail("cache_valid_time", "must be a duration such as \"30m\" or \"24h\", not %q", s)
		}
		t.cacheValid = d
	}
	pmName, set := a.str("package_manager")
	if a.err != nil {
		return nil, a.err
	}
	if !set {
		if cfg.Facts == nil {
			// Check finds the manager on the host.
			return t, nil
		}
		pmName = cfg.Facts.PackageManager
	}
	pm, ok := pkgManagers[pmName]
	if !ok {
		msg := fmt.Sprintf("unsupported package manager %q; drover knows apt, dnf, yum and apk", pmName)
		if pmName == "" {
			msg = "no supported package manager (apt-get, dnf, yum, apk) was found on the host; set package_manager if it has one"
		}
		return nil, &contract.AttrError{Attr: "package_manager", Msg: msg}
	}
	t.pm = pm
	return t, nil
}

type packageTask struct {
	names       []string
	state       string
	updateCache bool
	cacheValid  time.Duration
	// pm comes from package_manager or the host's facts; nil when neither
	// was there: Check then detects the manager on the host and Diff uses
	// the one it found.
	pm pkgManager
}

// pkgManager is one package manager: the commands it is driven with.
type pkgManager interface {
	name() string
	// installed is a command printing the installed packages among names,
	// one line each (what parse reads as installed).
	installed(names []string) string
	// matchInstalled is sh code that sets the variable v to 1 when the line
	// $l of installed's output says that the package key is installed. It
	// must agree with parse: the check asks for candidates only for the
	// names it finds missing.
	matchInstalled(key, v string) string
	// candidates is a command printing the versions the repositories offer
	// for the names in "$@" (what parse reads as candidates); all says a
	// "latest" task asks. "" when the manager has nothing to say (dnf
	// check-update about packages not installed).
	candidates(all bool) string
	// parse reads those commands' output lines.
	parse(installedLines, candidateLines []string) (installed, candidate map[string]string)
	// stamps are files whose newest mtime is when the index was refreshed;
	// the first is touched after a refresh.
	stamps() []string
	// needsLists says the manager cannot install anything before its index
	// was downloaded once (apt).
	needsLists() bool
	// install installs names, upgrading the installed ones among them when
	// upgrade is set, in one transaction.
	install(names []string, upgrade bool) string
	remove(names []string) string
	refresh() string
}

var pkgManagers = map[string]pkgManager{
	facts.PkgApt: aptManager{},
	facts.PkgDnf: rpmManager{cmd: "dnf", cache: "/var/cache/dnf"},
	facts.PkgYum: rpmManager{cmd: "yum", cache: "/var/cache/yum"},
	facts.PkgApk: apkManager{},
}

func (t *packageTask) Provides() []contract.Resource {
	if t.state == "absent" {
		return nil
	}
	r := make([]contract.Resource, len(t.names))
	for i, n := range t.names {
		r[i] = contract.Resource{Kind: "package", Name: n}
	}
	return r
}

func (t *packageTask) Uses() []contract.Resource { return nil }

func (t *packageTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	st, err := contract.ParseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", strings.Join(t.names, ", "), err)
	}
	pm := t.pm
	if pm == nil {
		if pm, err = detectedManager(st); err != nil {
			return nil, fmt.Errorf("package %s: %w", strings.Join(t.names, ", "), err)
		}
	}
	if !st.Has("end") {
		msg := strings.TrimSpace(string(out.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit status %d", out.ExitCode)
		}
		return nil, fmt.Errorf("package %s: reading installed packages with %s failed: %s", strings.Join(t.names, ", "), pm.name(), msg)
	}
	s := readPkgState(pm, st)
	installed, candidate := s.installed, s.candidate

	p := &contract.Plan{}
	var toInstall, toUpgrade, toRemove []string
	for _, n := range t.names {
		key := pkgKey(n)
		have, isInstalled := installed[key]
		cand := candidate[key]
		subject := "package " + n
		switch {
		case t.state == "absent" && isInstalled:
			toRemove = append(toRemove, n)
			p.Changes = append(p.Changes, contract.Change{Action: contract.Delete, Subject: subject,
				Attrs: []contract.AttrChange{{Name: "version", Old: have, New: "absent"}}})
		case t.state == "absent":
		case !isInstalled:
			toInstall = append(toInstall, n)
			if cand == "" {
				cand = "newest available"
			}
			p.Changes = append(p.Changes, contract.Change{Action: contract.Create, Subject: subject,
				Attrs: []contract.AttrChange{{Name: "version", Old: "absent", New: cand}}})
		case t.state == "latest" && cand != "" && cand != have:
			toUpgrade = append(toUpgrade, n)
			p.Changes = append(p.Changes, contract.Change{Action: contract.Update, Subject: subject,
				Attrs: []contract.AttrChange{{Name: "version", Old: have, New: cand}}})
		}
	}

	// Refresh the index before installing, when asked and stale, or (apt)
	// when it was never downloaded.
	if len(toInstall)+len(toUpgrade) > 0 || t.state == "latest" {
		age, known := s.age, s.known
		// A check that did not read the cache (it found every name
		// installed, and Diff does not) knows nothing about the lists.
		noLists := s.noLists && s.cacheRead
		refresh := ""
		switch {
		case pm.needsLists() && noLists && len(toInstall)+len(toUpgrade) > 0:
			refresh = "never downloaded"
		case t.updateCache && !known:
			refresh = "age unknown"
		case t.updateCache && age > t.cacheValid:
			refresh = "refreshed " + roundAge(age) + " ago"
		}
		if refresh != "" {
			p.Changes = append([]contract.Change{{Action: contract.Run, Subject: pm.name() + " package index",
				Attrs: []contract.AttrChange{{Name: "index", Old: refresh, New: "refreshed"}}}}, p.Changes...)
			p.Steps = append(p.Steps, contract.Step{Script: pm.refresh()})
			if t.state == "latest" {
				// The fresh index may offer newer versions than the plan saw:
				// ask the manager to bring every name to its newest.
				toInstall, toUpgrade = t.refreshedLatest(installed)
			}
		}
	}
	// The transactions are journaled (docs/undo.md); the index refresh is not.
	if s := installScript(pm, toInstall, toUpgrade); s != "" {
		p.Steps = append(p.Steps, contract.Step{Script: journalPackages(pm, append(append([]string(nil), toInstall...), toUpgrade...), s)})
	}
	if len(toRemove) > 0 {
		p.Steps = append(p.Steps, contract.Step{Script: journalPackages(pm, toRemove, pm.remove(toRemove))})
	}
	if len(p.Changes) == 0 {
		p.Steps = nil
	}
	return p, nil
}

// refreshedLatest splits every name into missing and installed, for a state
// "latest" run after an index refresh.
func (t *packageTask) refreshedLatest(installed map[string]string) (missing, present []string) {
	for _, n := range t.names {
		if _, ok := installed[pkgKey(n)]; ok {
			present = append(present, n)
		} else {
			missing = append(missing, n)
		}
	}
	return missing, present
}

// installScript is one transaction installing missing and upgrading
// outdated packages.
func installScript(pm pkgManager, missing, outdated []string) string {
	if len(missing)+len(outdated) == 0 {
		return ""
	}
	return pm.install(append(append([]string(nil), missing...), outdated...), len(outdated) > 0)
}

// pkgKey is the name a query reports a package under: apt's arch qualifier
// is not part of ${Package}.
func pkgKey(n string) string {
	if i := strings.IndexByte(n, ':'); i > 0 {
		return n[:i]
	}
	return n
}

// roundAge shows an index age to the minute: "45s", "12m", "3h", "3h12m", "4d".
func roundAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	m := int(d.Round(time.Minute).Minutes())
	switch {
	case m < 60:
		return fmt.Sprintf("%dm", m)
	case m%60 == 0:
		return fmt.Sprintf("%dh", m/60)
	}
	return fmt.Sprintf("%dh%dm", m/60, m%60)
}

// pkgWords joins names, which Configure validated, as shell words.
func pkgWords(names []string) string { return shell.Join(names...) }
