package modules

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// The reading and reversal of the journal journalFS writes (docs/undo.md).
// modules/undo runs the scripts and steps; everything here is text in, text
// or plans out, so that it is table-tested without a host.

// JournalRunID matches the run ids remote.NewJournal makes: a run id from
// the command line is checked against it before it reaches a script.
var JournalRunID = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{8}$`)

// JournalRun is one run's journal on a host, as History lists it.
type JournalRun struct {
	ID    string
	Count int               // entries: the changes the run journaled
	Meta  map[string]string // time, operator, playbook, version, undo
}

// JournalHistoryScript lists the host's journal: "run ID COUNT" lines, each
// followed by its "meta KEY=VALUE" lines, oldest first. It prints "nojournal"
// when the connecting user is not root (only root runs journal) and nothing
// when there is no journal yet. Read-only, one process (id) besides the
// shell's builtins.
var JournalHistoryScript = journalHistoryScript(journalBase)

// journalBase is where root's journal lives (journalFS's $_fjb).
const journalBase = "/var/lib/drover/journal"

func journalHistoryScript(base string) string {
	return `if [ "$(id -u)" != 0 ]; then echo nojournal; exit 0; fi
cd -P ` + shell.Quote(base) + ` 2>/dev/null || exit 0
for r in [0-9]*T*Z-*; do
	[ -d "$r" ] || continue
	n=0
	while [ -f "$r/$((n + 1)).path" ]; do n=$((n + 1)); done
	printf 'run %s %s\n' "$r" "$n"
	if [ -f "$r/meta" ]; then while IFS= read -r l; do printf 'meta %s\n' "$l"; done <"$r/meta"; fi
done
`
}

// ParseJournalHistory reads JournalHistoryScript's output: the runs newest
// first, and whether the host keeps no journal for this user.
func ParseJournalHistory(out []byte) (runs []JournalRun, noJournal bool, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "nojournal":
			noJournal = true
		case strings.HasPrefix(l, "run "):
			f := strings.Fields(l)
			if len(f) != 3 {
				return nil, false, fmt.Errorf("unexpected journal line %q", l)
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, false, fmt.Errorf("unexpected journal line %q", l)
			}
			runs = append(runs, JournalRun{ID: f[1], Count: n, Meta: map[string]string{}})
		case strings.HasPrefix(l, "meta "):
			if len(runs) == 0 {
				return nil, false, fmt.Errorf("journal metadata before any run: %q", l)
			}
			k, v, _ := strings.Cut(strings.TrimPrefix(l, "meta "), "=")
			runs[len(runs)-1].Meta[k] = v
		case l == "":
		default:
			return nil, false, fmt.Errorf("unexpected journal line %q", l)
		}
	}
	slices.Reverse(runs)
	return runs, noJournal, nil
}

// JState is a path's state as the journal records it (before or after a
// change) or as the undo's read finds it now.
type JState struct {
	Kind     string // absent, file, dir, link, other; "" when not recorded
	Mode     string // octal, as stat %a prints it ("" when not recorded)
	UID, GID string
	SHA256   string // a file's
	Target   string // a link's
	Empty    bool   // a directory with no entries
	Note     string // why a file's content was not kept
	Meta     bool   // only the owner or mode of the file was changed
	Version  string // a package's installed version (kind package)
}

// JEntry is one journal entry with the path's state now.
type JEntry struct {
	N          int
	Path       string
	Before     JState
	After      JState
	HasContent bool // N.content holds the previous content
	Now        JState
	// A package entry's manager and name (N.package), and the dry run of
	// its removal the read made when the run installed it and it is
	// installed now: the exit status, a newline, the output.
	PkgManager, PkgName string
	Dry                 string
}

// JournalReadScript prints run's entries and the current state of each
// path (JournalReadScript's format: NUL-separated tokens, see
// ParseJournalRead). run must match JournalRunID. Exit status 4: no such
// run; 3: not root.
func JournalReadScript(run string) string { return journalReadScript(journalBase, run) }

func journalReadScript(base, run string) string {
	return journalPackagesFS + pkgDryFS + `if [ "$(id -u)" != 0 ]; then echo "drover: only runs as root are journaled; connect as root or with become" >&2; exit 3; fi
cd -P ` + shell.Quote(base+"/"+run) + ` 2>/dev/null || { echo "drover: no run "` + shell.Quote(run) + `" in this host's journal (see drover history)" >&2; exit 4; }
jl() { if [ -f "$1" ]; then printf '%s\0' "$2"; while IFS= read -r _l; do printf '%s\n' "$_l"; done <"$1"; printf '\0'; fi; }
jw() { if [ -f "$1" ]; then _l=; IFS= read -r _l <"$1" || :; printf '%s\0%s\0' "$2" "$_l"; fi; }
i=1
while [ -f "$i.path" ]; do
	printf 'E\0%s\0' "$i"
	jw "$i.path" path; jl "$i.before" before; jl "$i.after" after; jw "$i.target" target; jw "$i.atarget" atarget
	if [ -f "$i.content" ]; then h=$(sha256sum <"$i.content"); printf 'content\0%s\0' "${h%% *}"; fi
	if [ -f "$i.package" ]; then
		pm= pn=; read -r pm pn <"$i.package" || :
		printf 'package\0%s %s\0' "$pm" "$pn"
		drover_pkgv "$pm" "$pn"
		printf 'now\0%s\0' "$(drover_jpkgstate)"
		b=; if [ -f "$i.before" ]; then read -r b <"$i.before" || :; fi
		if [ -n "$_fpv" ] && [ "$b" = kind=absent ]; then
			d=$(drover_pkgdry "$pm" "$pn" 2>&1) && x=0 || x=$?
			printf 'dry\0%s\n%s\0' "$x" "$d"
		fi
	elif [ -f "$i.path" ]; then
		p=; IFS= read -r p <"$i.path" || :
		printf 'now\0'
		if [ -L "$p" ]; then printf 'kind=link\n\0'; t=$(readlink -- "$p"); printf 'ntarget\0%s\0' "$t"
		elif [ -d "$p" ]; then
			e=1
			for z in "$p"/* "$p"/.[!.]* "$p"/..?*; do if [ -e "$z" ] || [ -L "$z" ]; then e=; break; fi; done
			s=$(stat -c '%a %u %g' -- "$p"); set -- $s; printf 'kind=dir\nmode=%s\nuid=%s\ngid=%s\nempty=%s\n\0' "$1" "$2" "$3" "$e"
		elif [ -f "$p" ]; then
			s=$(stat -c '%a %u %g' -- "$p"); set -- $s; h=$(sha256sum <"$p"); printf 'kind=file\nmode=%s\nuid=%s\ngid=%s\nsha256=%s\n\0' "$1" "$2" "$3" "${h%% *}"
		elif [ -e "$p" ]; then printf 'kind=other\n\0'
		else printf 'kind=absent\n\0'
		fi
	fi
	i=$((i + 1))
done
`
}

// ParseJournalRead reads JournalReadScript's output.
func ParseJournalRead(out []byte) ([]JEntry, error) {
	toks := strings.Split(string(out), "\x00")
	if len(toks) > 0 && toks[len(toks)-1] == "" {
		toks = toks[:len(toks)-1]
	}
	var es []JEntry
	for i := 0; i < len(toks); i += 2 {
		if i+1 >= len(toks) {
			return nil, fmt.Errorf("journal read: %q without a value", toks[i])
		}
		k, v := toks[i], toks[i+1]
		if k == "E" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("journal read: bad entry number %q", v)
			}
			es = append(es, JEntry{N: n})
			continue
		}
		if len(es) == 0 {
			return nil, fmt.Errorf("journal read: %q before any entry", k)
		}
		e := &es[len(es)-1]
		var err error
		switch k {
		case "path":
			e.Path = v
		case "before":
			e.Before, err = parseJState(v)
		case "after":
			e.After, err = parseJState(v)
		case "now":
			e.Now, err = parseJState(v)
		case "target":
			e.Before.Target = v
		case "atarget":
			e.After.Target = v
		case "ntarget":
			e.Now.Target = v
		case "content":
			e.HasContent, e.Before.SHA256 = true, v
		case "package":
			e.PkgManager, e.PkgName, _ = strings.Cut(v, " ")
		case "dry":
			e.Dry = v
		default:
			return nil, fmt.Errorf("journal read: unknown field %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("journal entry %d: %w", e.N, err)
		}
	}
	for i := range es {
		// A re-owned file keeps its content: before is after's checksum.
		if b := &es[i].Before; b.Kind == "file" && b.Meta && es[i].After.Kind == "file" {
			b.SHA256 = es[i].After.SHA256
		}
	}
	return es, nil
}

func parseJState(s string) (JState, error) {
	var st JState
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return st, fmt.Errorf("bad line %q", l)
		}
		switch k {
		case "kind":
			st.Kind = v
		case "mode":
			st.Mode = v
		case "uid":
			st.UID = v
		case "gid":
			st.GID = v
		case "sha256":
			st.SHA256 = v
		case "empty":
			st.Empty = v == "1"
		case "note":
			st.Note = v
		case "meta":
			st.Meta = v == "meta"
		case "version":
			st.Version = v
		}
	}
	return st, nil
}

// sameContent reports whether now is what s recorded, ignoring owner and
// mode: the same kind, a file's checksum, a link's target.
func sameContent(s, now JState) bool {
	if s.Kind != now.Kind {
		return false
	}
	switch s.Kind {
	case "file":
		return s.SHA256 != "" && s.SHA256 == now.SHA256
	case "link":
		return s.Target == now.Target
	case "package":
		return s.Version == now.Version
	}
	return true
}

// sameState is sameContent and, where s recorded them, owner and mode.
func sameState(s, now JState) bool {
	if !sameContent(s, now) {
		return false
	}
	if s.Mode != "" && (s.Mode != now.Mode || s.UID != now.UID || s.GID != now.GID) {
		return false
	}
	return true
}

// Reversal is what undoing one entry does.
type Reversal struct {
	Entry JEntry
	// Plan is nil when there is nothing to do (Done says why) or the entry
	// is refused (Refused says why).
	Plan    *contract.Plan
	Done    string
	Refused string
}

// PlanUndo plans the reversal of entries (a run's journal, in order), last
// first: each entry is compared with the state the reversals after it
// leave (the state now, for the last change of a path); a path that is as
// it was before the run's first change of it needs nothing. run is the run's
// id: the steps read previous contents from its journal.
func PlanUndo(run string, entries []JEntry) []Reversal {
	now := map[string]JState{}
	first := map[string]JState{} // each path's state before the run
	for _, e := range entries {
		if _, ok := first[e.Path]; !ok {
			first[e.Path] = e.Before
		}
	}
	// The packages the undo removes: a dry run of one removal may name
	// them (one depends on another) without a refusal.
	removed := map[string]bool{}
	for _, e := range entries {
		if e.PkgName != "" && e.Before.Kind == "absent" && e.After.Kind == "package" && sameContent(e.After, e.Now) {
			removed[pkgKey(e.PkgName)] = true
		}
	}
	out := make([]Reversal, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		cur, ok := now[e.Path]
		if !ok {
			cur = e.Now
		}
		e.Now = cur
		var r Reversal
		if f := first[e.Path]; f.Kind != "" && sameState(f, cur) {
			// Already undone (or never done): a later change of the path,
			// from a state the run made, is moot.
			r = Reversal{Entry: e, Done: "already as it was before the run"}
		} else if e.PkgName != "" {
			r = reversePackage(e, removed)
		} else {
			r = reverse(run, e)
		}
		if r.Plan != nil {
			now[e.Path] = e.Before
		}
		out = append(out, r)
	}
	return out
}

func reverse(run string, e JEntry) Reversal {
	r := Reversal{Entry: e}
	b, cur := e.Before, e.Now
	switch {
	case e.Path == "" || !path.IsAbs(e.Path) || b.Kind == "":
		r.Refused = "the journal entry is incomplete or corrupt"
		return r
	case sameState(b, cur):
		r.Done = "already as it was before the run"
		return r
	case e.After.Kind == "":
		r.Refused = "the change did not complete (drover recorded no state after it) and " + e.Path + " is not as it was before; check it by hand"
		return r
	case !sameContent(e.After, cur):
		r.Refused = "changed since by someone else: " + describeJ(cur) + " now, drover left " + describeJ(e.After)
		return r
	}
	dir, base := path.Split(e.Path)
	dir = dirOf(dir)
	var ch contract.Change
	var script string
	switch b.Kind {
	case "absent":
		ch = contract.Change{Action: contract.Delete, Subject: e.Path, Attrs: []contract.AttrChange{{Name: "type", Old: jtypeName(cur.Kind)}}}
		if cur.Kind == "dir" {
			script = "drover_cd " + shell.Quote(dir) + "\n" + journalRemove("rmdir -- "+shell.Quote(base)+" || { echo \"drover: $PWD/\""+shell.Quote(base)+"\" is not empty: something was put in it since the run; it was left\" >&2; exit 1; }", shell.Quote(base)) + "\n"
		} else {
			script = safeRemove(e.Path, false)
		}
	case "file":
		owner := b.UID + ":" + b.GID
		switch {
		case cur.Kind == "dir" || cur.Kind == "other":
			r.Refused = "it is a " + jtypeName(cur.Kind) + " now; drover does not replace one with the previous file"
			return r
		case e.HasContent:
			ch = contract.Change{Action: contract.Update, Subject: e.Path, Attrs: restoreAttrs(b, cur)}
			if cur.Kind != "file" {
				ch.Action = contract.Create
			}
			script = "drover_cd " + shell.Quote(dir) + "\ndrover_stage\ntrap drover_unstage EXIT\n" +
				"drover_jcopy " + shell.Quote(run) + " " + strconv.Itoa(e.N) + " f\n" +
				shell.Join("drover_place", base, owner, b.Mode) + "\n"
		case b.Note != "":
			r.Refused = "its previous content was not journaled (" + b.Note + "); undo cannot restore it exactly"
			return r
		case cur.Kind == "file" && cur.SHA256 == b.SHA256:
			ch = contract.Change{Action: contract.Update, Subject: e.Path, Attrs: restoreAttrs(b, cur)}
			script = safeMeta(e.Path, false, metaFix{Owner: owner, Mode: b.Mode})
		default:
			r.Refused = "its previous content was not journaled; undo cannot restore it exactly"
			return r
		}
	case "dir":
		owner := b.UID + ":" + b.GID
		switch cur.Kind {
		case "dir":
			ch = contract.Change{Action: contract.Update, Subject: e.Path, Attrs: restoreAttrs(b, cur)}
			script = safeMeta(e.Path, true, metaFix{Owner: owner, Mode: b.Mode})
		case "absent":
			if !b.Empty {
				r.Refused = "it was a directory with content, removed with it; the content is not journaled"
				return r
			}
			ch = contract.Change{Action: contract.Create, Subject: e.Path, Attrs: restoreAttrs(b, cur)}
			m, _ := strconv.ParseUint(b.Mode, 8, 32)
			script = safeMkdir(e.Path, owner, uint32(m))
		default:
			r.Refused = "it is a " + jtypeName(cur.Kind) + " now; drover does not replace it with the previous directory"
			return r
		}
	case "link":
		if cur.Kind == "dir" {
			r.Refused = "it is a directory now; drover does not replace it with the previous link"
			return r
		}
		ch = contract.Change{Action: contract.Update, Subject: e.Path, Attrs: []contract.AttrChange{{Name: "target", Old: cur.Target, New: b.Target}}}
		if cur.Kind != "link" {
			ch.Action = contract.Create
			ch.Attrs = []contract.AttrChange{{Name: "type", Old: jtypeName(cur.Kind), New: "symbolic link"}, {Name: "target", New: b.Target}}
		}
		script = safeLink(e.Path, b.Target, "")
	default:
		r.Refused = "it was a " + jtypeName(b.Kind) + " before the run; drover does not journal those"
		return r
	}
	r.Plan = &contract.Plan{Changes: []contract.Change{ch}, Steps: []contract.Step{{Script: safeFS + script}}}
	return r
}

// restoreAttrs are a restore's attribute changes: the checksum (never the
// content), owner and mode, where they differ.
func restoreAttrs(b, cur JState) []contract.AttrChange {
	var a []contract.AttrChange
	if b.Kind != cur.Kind {
		a = append(a, contract.AttrChange{Name: "type", Old: jtypeName(cur.Kind), New: jtypeName(b.Kind)})
	}
	if b.Kind == "file" && cur.SHA256 != b.SHA256 {
		a = append(a, contract.AttrChange{Name: "sha256", Old: short(cur.SHA256), New: short(b.SHA256)})
	}
	if b.UID+":"+b.GID != cur.UID+":"+cur.GID {
		a = append(a, contract.AttrChange{Name: "owner", Old: ownerOf(cur), New: b.UID + ":" + b.GID})
	}
	if b.Mode != cur.Mode {
		a = append(a, contract.AttrChange{Name: "mode", Old: modeOf(cur.Mode), New: modeOf(b.Mode)})
	}
	return a
}

func ownerOf(s JState) string {
	if s.UID == "" {
		return ""
	}
	return s.UID + ":" + s.GID
}

func modeOf(m string) string {
	if m == "" {
		return ""
	}
	v, err := strconv.ParseUint(m, 8, 32)
	if err != nil {
		return m
	}
	return fmt.Sprintf("%04o", v)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// describeJ is a state in a refusal: "a file with sha256 0123abcd…".
func describeJ(s JState) string {
	switch s.Kind {
	case "absent":
		return "nothing"
	case "file":
		return "a regular file with sha256 " + short(s.SHA256)
	case "link":
		return "a symbolic link to " + strconv.Quote(s.Target)
	}
	return "a " + jtypeName(s.Kind)
}

func jtypeName(kind string) string {
	if kind == "absent" {
		return "nothing"
	}
	return typeName(kind)
}
