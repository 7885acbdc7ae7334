package contract

import (
	"fmt"
	"sort"
	"strings"
)

// FactChecker is implemented by tasks whose state is partly host-wide facts
// that many tasks read: whether a command is installed, an account's
// passwd or group entry. The engine (engine/remote's CheckAll) gathers each
// kind of fact once for all the tasks of a host, the way it reads the paths
// of PathCheckers: one getent for every account name, one loop of builtins
// for every command, instead of one process per task.
//
// In the batched read, the task's CheckRest fragment runs instead of its
// Check, and Diff gets the facts in CheckOutput.Facts. Check must still read
// everything on its own (engine/remote's FactScript(Facts()) + CheckRest()), for callers
// that run one task's Check; FactsOf gives Diff the facts either way.
type FactChecker interface {
	Facts() []Fact
	// CheckRest reads the state that is not a fact ("" for none).
	CheckRest() string
}

// FactKind is a kind of batched fact.
type FactKind string

const (
	// FactTool is whether the command Key is on the PATH (command -v).
	FactTool FactKind = "tool"
	// FactPasswd is the passwd entry of the account named Key (getent).
	FactPasswd FactKind = "passwd"
	// FactGroup is the group entry of the group named Key (getent).
	FactGroup FactKind = "group"
)

// Fact names one fact.
type Fact struct {
	Kind FactKind
	Key  string
}

// Tools is the facts that each of the commands is installed.
func Tools(names ...string) []Fact {
	f := make([]Fact, len(names))
	for i, n := range names {
		f[i] = Fact{FactTool, n}
	}
	return f
}

// FactSet is what the batched read found. Facts are printed in the KV
// dialect: "tool.NAME=…" for a command that is installed, "passwd=ENTRY" and
// "group=ENTRY" for an account or group found (its name is the entry's first
// field); a fact that does not hold prints nothing.
type FactSet struct {
	tools         map[string]bool
	passwd, group map[string]string
}

// Tool reports whether the command is installed.
func (f *FactSet) Tool(name string) bool { return f.tools[name] }

// Passwd is the account's passwd line, false when there is no such account.
func (f *FactSet) Passwd(name string) (string, bool) { v, ok := f.passwd[name]; return v, ok }

// Group is the group's entry line, false when there is no such group.
func (f *FactSet) Group(name string) (string, bool) { v, ok := f.group[name]; return v, ok }

func newFactSet() *FactSet {
	return &FactSet{tools: map[string]bool{}, passwd: map[string]string{}, group: map[string]string{}}
}

// add records one pair; false when it is not a fact.
func (f *FactSet) add(k, v string) bool {
	switch {
	case strings.HasPrefix(k, "tool."):
		f.tools[k[len("tool."):]] = true
	case k == string(FactPasswd):
		f.passwd[entryName(v)] = v
	case k == string(FactGroup):
		f.group[entryName(v)] = v
	default:
		return false
	}
	return true
}

func entryName(entry string) string { n, _, _ := strings.Cut(entry, ":"); return n }

// ParseFacts parses the batched facts' output: KV pairs, where passwd and
// group pairs repeat, one per entry. Any other line is an error: nothing
// else prints there.
func ParseFacts(out []byte) (*FactSet, error) {
	f := newFactSet()
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.IndexByte(l, 0) >= 0 || !f.add(k, v) {
			return nil, fmt.Errorf("unexpected line in the facts' output: %q", l)
		}
	}
	return f, nil
}

// FactsFromKV picks the facts out of one task's check output parsed with
// ParseKV (one passwd and one group entry at most).
func FactsFromKV(st KV) *FactSet {
	f := newFactSet()
	for k, v := range st.Vals {
		f.add(k, v)
	}
	return f
}

// FactsOf is the facts of a task's check output: those of the batched read,
// or those its own Check printed (st is that output parsed).
func FactsOf(out CheckOutput, st KV) *FactSet {
	if out.Facts != nil {
		return out.Facts
	}
	return FactsFromKV(st)
}

// SortFacts orders facts by kind and key, for a deterministic batched script.
func SortFacts(f []Fact) {
	sort.Slice(f, func(i, j int) bool {
		if f[i].Kind != f[j].Kind {
			return f[i].Kind < f[j].Kind
		}
		return f[i].Key < f[j].Key
	})
}

// GroupChecker is implemented by tasks whose state a command reads for many
// keys at once: systemctl show for every unit of the host's service tasks
// (OpenRC and SysV: one fragment for all), one dpkg-query, rpm -q or apk
// list for every name of its package tasks. The engine runs the group's
// Check once for the keys of all the tasks of a host that name the same
// group, and gives each task the CheckOutput Split makes for its key: the
// output its own Check would have printed, or one its Diff reads the same
// way (every package task gets the whole union's answer and looks up its own
// names), so Diff does not know the read was shared. A task's Check should
// be its group's Check of its key alone, so that both read alike. A nil
// group means the task's own Check.
type GroupChecker interface {
	CheckGroup() (g CheckGroup, key string)
}

// CheckGroup is one kind of shared state read.
type CheckGroup interface {
	// GroupID tells groups apart: tasks whose groups have the same ID share
	// one read.
	GroupID() string
	// Check is the fragment reading the state of every key (distinct, in the
	// tasks' order).
	Check(keys []string) string
	// Split cuts what Check printed into one CheckOutput per key, in order.
	Split(out CheckOutput, keys []string) ([]CheckOutput, error)
}

// SharedChecker is implemented by tasks whose state is partly a CheckGroup's
// read for several keys and partly their own: init_service reads the status
// of each of its instances with the same read as the host's service tasks
// (one systemctl show for all, see initsys.Group), and its files itself. The
// engine adds the keys to the group's one read, runs CheckRest instead of
// Check, and gives Diff the group's outputs for the keys in
// CheckOutput.Shared, in order, the way FactChecker gets its facts. Check
// must still read everything on its own, for callers that run one task's
// Check: Diff then finds Shared nil. A nil group or no keys means the
// task's own Check.
type SharedChecker interface {
	CheckShared() (g CheckGroup, keys []string)
	// CheckRest reads the state that is not the group's ("" for none).
	CheckRest() string
}
