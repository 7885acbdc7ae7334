package modules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// The package module's state read: one query per package manager for every
// package task of a host (a contract.CheckGroup), its output in the KV
// dialect, and how Diff reads it.
//
// The shared read prints, for the union of the tasks' names:
//
//	managers=apt-get apk     the commands found (only when detecting)
//	os.ID=… os.ID_LIKE=…     os-release, when several were found
//	installed.N=LINE         the installed query's output, line by line
//	candidates.N=LINE        the repositories' answer, when asked
//	now=… mtime.N=… lists=yes  the index's age, when the repositories were asked
//	end=1                    the read went through
//
// Every task gets that whole output: its Diff looks up only its own names,
// which the union's query answers as the task's own would have.

// pkgGroup is the shared read of the package tasks of a host that use the
// same package manager; a nil pm is the tasks that find it on the host.
type pkgGroup struct{ pm pkgManager }

func (g pkgGroup) GroupID() string {
	if g.pm == nil {
		return "package.detect"
	}
	return "package." + g.pm.name()
}

// groupKey is a task's key in its group: its state and names. Configure
// validated the names (no spaces), so the key splits back on spaces.
func (t *packageTask) groupKey() string { return t.state + " " + strings.Join(t.names, " ") }

func (t *packageTask) CheckGroup() (contract.CheckGroup, string) {
	return pkgGroup{t.pm}, t.groupKey()
}

func (t *packageTask) Check() string { return pkgGroup{t.pm}.Check([]string{t.groupKey()}) }

// Split gives every task the whole output (see above).
func (pkgGroup) Split(out contract.CheckOutput, keys []string) ([]contract.CheckOutput, error) {
	outs := make([]contract.CheckOutput, len(keys))
	for i := range outs {
		outs[i] = out
	}
	return outs, nil
}

func (g pkgGroup) Check(keys []string) string {
	if g.pm != nil {
		return pkgQuery(g.pm, keys)
	}
	// No facts and no package_manager: find the manager on the host with
	// shell builtins only, the way the facts script does (engine/facts), and
	// read the state with the first one found. Diff checks that choice
	// against the facts' rule when more than one is found.
	var b strings.Builder
	b.WriteString(pkgDetect)
	b.WriteString("case $pm in\n")
	for _, c := range pkgCommands {
		fmt.Fprintf(&b, "%s)\n%s;;\n", c, pkgQuery(pkgManagers[pkgCommandManager(c)], keys))
	}
	b.WriteString("esac\n")
	return b.String()
}

// pkgCommands are the commands whose presence says which package manager a
// host has, in the order the facts script looks for them.
var pkgCommands = []string{"apt-get", "dnf", "yum", "apk"}

func pkgCommandManager(c string) string {
	if c == "apt-get" {
		return facts.PkgApt
	}
	return c
}

// pkgDetect prints the package manager commands found (managers=) and sets
// $pm to the first. When there are several, it prints the os-release ID and
// ID_LIKE lines (os.ID=, os.ID_LIKE=), for Diff to apply the facts' choice
// by OS family. It forks nothing: command -v, [, read and printf are
// builtins.
var pkgDetect = `pm='' found='' n=0
for c in ` + strings.Join(pkgCommands, " ") + `; do
  if command -v "$c" >/dev/null 2>&1 || [ -x "/usr/bin/$c" ] || [ -x "/bin/$c" ] || [ -x "/usr/sbin/$c" ] || [ -x "/sbin/$c" ]; then
    found="$found $c"; n=$((n + 1)); [ -n "$pm" ] || pm=$c
  fi
done
echo "managers=${found# }"
if [ "$n" -gt 1 ]; then
  for f in /etc/os-release /usr/lib/os-release; do
    if [ -r "$f" ]; then
      while IFS= read -r l || [ -n "$l" ]; do case $l in ID=*|ID_LIKE=*) printf 'os.%s\n' "$l";; esac; done <"$f"
      break
    fi
  done
fi
`

// pkgQuery is the read for one package manager and the tasks' keys: one
// installed-package query for the union of their names, then the
// repositories (apt-cache policy, dnf check-update, apk list: the expensive
// part, hundreds of milliseconds for apt) asked once, only about what needs
// a candidate version: the names a "present" task finds missing, for the
// plan's "absent → version" line, and every name of a "latest" task. The
// index's age is read only then too. With every name installed and no
// "latest" task, the read runs one process: the installed-package query.
func pkgQuery(pm pkgManager, keys []string) string {
	var names []string          // the union, in order of first use
	latest := map[string]bool{} // named by a "latest" task
	present := map[string]bool{}
	seen := map[string]bool{}
	for _, k := range keys {
		f := strings.Fields(k)
		for _, n := range f[1:] {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
			latest[n] = latest[n] || f[0] == "latest"
			present[n] = present[n] || f[0] == "present"
		}
	}
	var b strings.Builder
	b.WriteString("o=$(" + pm.installed(names) + " 2>/dev/null)\n")
	b.WriteString(contract.ShList("installed", "o"))
	// One variable per package key a "present" task needs, set by a loop
	// over the query's lines: the names found missing.
	idx := map[string]int{} // package key → its variable's number
	var vkeys []string
	for _, n := range names {
		if _, ok := idx[pkgKey(n)]; present[n] && !latest[n] && !ok {
			idx[pkgKey(n)] = len(vkeys)
			vkeys = append(vkeys, pkgKey(n))
		}
	}
	if len(vkeys) > 0 {
		vars := make([]string, len(vkeys))
		for i := range vkeys {
			vars[i] = fmt.Sprintf("i%d=''", i)
		}
		b.WriteString(strings.Join(vars, " ") + "\nset -f; IFS='\n'\nfor l in $o; do\n")
		for i, k := range vkeys {
			b.WriteString("  " + pm.matchInstalled(k, fmt.Sprintf("i%d", i)) + "\n")
		}
		b.WriteString("done\nunset IFS; set +f\n")
	}
	anyLatest := slices.ContainsFunc(names, func(n string) bool { return latest[n] })
	// Managers that cannot tell a missing package's candidate (dnf
	// check-update) are asked about the "latest" names only; a missing name
	// still makes the read look at the index's age.
	askMissing := pm.candidates(false) != ""
	b.WriteString("set --; need=''\n")
	for _, n := range names {
		q := shell.Quote(n)
		switch {
		case latest[n]:
			fmt.Fprintf(&b, "need=1; set -- \"$@\" %s\n", q)
		case present[n] && askMissing:
			fmt.Fprintf(&b, "[ -n \"$i%d\" ] || { need=1; set -- \"$@\" %s; }\n", idx[pkgKey(n)], q)
		case present[n]:
			fmt.Fprintf(&b, "[ -n \"$i%d\" ] || need=1\n", idx[pkgKey(n)])
		}
	}
	b.WriteString("if [ -n \"$need\" ]; then\n")
	if c := pm.candidates(anyLatest); c != "" {
		b.WriteString("  c=$(" + c + " \"$@\" 2>/dev/null)\n")
		// Not indented: ShList's IFS is a quoted newline.
		b.WriteString(contract.ShList("candidates", "c"))
	}
	b.WriteString("  date +now=%s\n")
	for i, s := range pm.stamps() {
		fmt.Fprintf(&b, "  if [ -e %[1]s ]; then stat -c mtime.%[2]d=%%Y %[1]s; fi\n", s, i+1)
	}
	if pm.needsLists() {
		b.WriteString("  for f in /var/lib/apt/lists/*_Packages*; do if [ -e \"$f\" ]; then echo lists=yes; fi; break; done\n")
	}
	b.WriteString("fi\necho end=1\n")
	return b.String()
}

// pkgState is what the read found, for one manager.
type pkgState struct {
	installed, candidate map[string]string
	// cacheRead says the read looked at the index (it found a name missing
	// or served a "latest" task); age and known are the newest stamp's age
	// and whether there is one; noLists that apt's lists are missing.
	cacheRead, known, noLists bool
	age                       time.Duration
}

func readPkgState(pm pkgManager, st contract.KV) pkgState {
	s := pkgState{cacheRead: st.Has("now")}
	s.installed, s.candidate = pm.parse(st.List("installed"), st.List("candidates"))
	now, _ := strconv.ParseInt(st.Vals["now"], 10, 64)
	var newest int64
	for i := range pm.stamps() {
		if n, _ := strconv.ParseInt(st.Vals["mtime."+strconv.Itoa(i+1)], 10, 64); n > newest {
			newest = n
		}
	}
	s.noLists = !st.Has("lists")
	if now != 0 && newest != 0 {
		s.age, s.known = time.Duration(now-newest)*time.Second, true
	}
	return s
}

// detectedManager is the package manager a detecting check found (see
// pkgDetect): the first command found, which the check used. With several,
// the facts' rule decides (the OS family's own manager first); when it
// picks another one than the check used, the plan cannot be trusted and the
// user is asked to say which.
func detectedManager(st contract.KV) (pkgManager, error) {
	found := strings.Fields(st.Vals["managers"])
	if len(found) == 0 {
		return nil, fmt.Errorf("no supported package manager (apt-get, dnf, yum, apk) was found on the host; set package_manager if it has one")
	}
	used := pkgCommandManager(found[0])
	pm, ok := pkgManagers[used]
	if !ok {
		return nil, fmt.Errorf("unexpected package manager %q in the check's output", found[0])
	}
	if len(found) > 1 {
		id := strings.Trim(st.Vals["os.ID"], `"'`)
		like := strings.Fields(strings.Trim(st.Vals["os.ID_LIKE"], `"'`))
		var have []string
		for _, c := range found {
			have = append(have, pkgCommandManager(c))
		}
		if want := preferredManager(facts.Family(id, like), have); want != used {
			return nil, fmt.Errorf("the host has several package managers (%s) and its OS family prefers %s; set package_manager = %q (or gather facts)", strings.Join(have, ", "), want, want)
		}
	}
	return pm, nil
}

// preferredManager is the facts' choice among the managers found (see
// engine/facts): the OS family's own first (dnf before yum), else the first
// found in the order apt, dnf, yum, apk (the order of have).
func preferredManager(family string, have []string) string {
	native := map[string][]string{
		"debian": {facts.PkgApt},
		"redhat": {facts.PkgDnf, facts.PkgYum},
		"alpine": {facts.PkgApk},
	}[family]
	for _, p := range native {
		if slices.Contains(have, p) {
			return p
		}
	}
	return have[0]
}
