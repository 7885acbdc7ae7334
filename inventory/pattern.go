package inventory

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// UnmatchedError reports the terms of a host pattern that matched no host.
// It is a warning, not a failure: the hosts returned with it are the
// selection, and the caller decides whether an empty selection is an error.
//
//	hosts, err := inv.Select(pattern)
//	var um *inventory.UnmatchedError
//	if errors.As(err, &um) { warn(um) } else if err != nil { return err }
type UnmatchedError struct {
	Pattern string   // the pattern (or limit) as given
	Terms   []string // the terms that matched nothing, in pattern order
}

func (e *UnmatchedError) Error() string {
	q := make([]string, len(e.Terms))
	for i, t := range e.Terms {
		q[i] = strconv.Quote(t)
	}
	return fmt.Sprintf("host pattern %q: no host matched %s", e.Pattern, strings.Join(q, ", "))
}

// PatternError is a host pattern that cannot be evaluated (an invalid
// regular expression or subscript, an unreadable @file).
type PatternError struct {
	Pattern string
	Term    string
	Err     error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("host pattern %q: term %q: %v", e.Pattern, e.Term, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

type termOp int

const (
	opUnion termOp = iota
	opIntersect
	opExclude
)

type term struct {
	op   termOp
	expr string // without the & or ! prefix
	text string // as written, for messages
}

// splitPattern splits an Ansible host pattern into terms. As in Ansible,
// "," separates terms when present, otherwise ":"; with commas, a term that
// is a regular expression (~...), an IPv6 address or an @file keeps its
// colons, and the others are still split at ":".
func splitPattern(pattern string) []term {
	var parts []string
	if strings.Contains(pattern, ",") {
		for _, p := range strings.Split(pattern, ",") {
			p = strings.TrimSpace(p)
			body := strings.TrimLeft(p, "&!")
			if strings.HasPrefix(body, "~") || strings.HasPrefix(body, "@") || isIPv6(body) {
				parts = append(parts, p)
				continue
			}
			parts = append(parts, splitColons(p)...)
		}
	} else if p := strings.TrimSpace(pattern); isIPv6(p) || strings.HasPrefix(p, "@") {
		parts = []string{p}
	} else {
		parts = splitColons(p)
	}
	var out []term
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		t := term{text: p, expr: p}
		switch p[0] {
		case '&':
			t.op, t.expr = opIntersect, strings.TrimSpace(p[1:])
		case '!':
			t.op, t.expr = opExclude, strings.TrimSpace(p[1:])
		}
		if t.expr == "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

func isIPv6(s string) bool {
	ip := net.ParseIP(strings.Trim(s, "[]"))
	return ip != nil && strings.Contains(s, ":")
}

// splitColons splits at ':' outside [...] (host ranges, subscripts).
func splitColons(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case ':':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// Select returns the hosts matching an Ansible host pattern, in inventory
// order. Terms are host names, group names, "all" or "*", globs ("web*",
// "*.example.com"), regular expressions ("~web[0-9]+", matched from the
// start of the name), optionally with a subscript ("web[0]", "web[1:3]",
// "web[-1]"). ":" or "," separates terms; "&term" intersects and "!term"
// excludes. As in Ansible, unions are evaluated first, then intersections,
// then exclusions, whatever their order in the pattern; a pattern of only
// intersections and exclusions starts from "all".
//
// Terms that match nothing are reported with an *UnmatchedError alongside
// the hosts; an invalid pattern is a *PatternError and no hosts.
func (inv *Inventory) Select(pattern string) ([]*Host, error) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	terms := splitPattern(pattern)
	if len(terms) == 0 {
		return nil, &PatternError{Pattern: pattern, Term: pattern, Err: errors.New("the pattern is empty; use \"all\" for every host")}
	}
	hosts, unmatched, err := inv.evaluate(pattern, terms)
	if err != nil {
		return nil, err
	}
	if len(unmatched) > 0 {
		return hosts, &UnmatchedError{Pattern: pattern, Terms: unmatched}
	}
	return hosts, nil
}

// SelectLimit selects pattern, then keeps only the hosts that also match
// limit (the --limit flag), which has the same syntax plus "@file" terms:
// the file holds one pattern per line (as Ansible's retry files do). An empty
// limit keeps every host. Unmatched terms of both are reported together.
func (inv *Inventory) SelectLimit(pattern, limit string) ([]*Host, error) {
	hosts, err := inv.Select(pattern)
	var um *UnmatchedError
	if err != nil && !errors.As(err, &um) {
		return nil, err
	}
	if strings.TrimSpace(limit) == "" {
		return hosts, err
	}
	var terms []term
	for _, t := range splitPattern(limit) {
		if !strings.HasPrefix(t.expr, "@") {
			terms = append(terms, t)
			continue
		}
		file := t.expr[1:]
		data, rerr := os.ReadFile(file)
		if rerr != nil {
			return nil, &PatternError{Pattern: limit, Term: t.text, Err: fmt.Errorf("reading the limit file: %w", rerr)}
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			for _, lt := range splitPattern(line) {
				if t.op != opUnion {
					lt.op = t.op
				}
				terms = append(terms, lt)
			}
		}
	}
	inv.mu.RLock()
	var keep []*Host
	var unmatched []string
	if len(terms) > 0 {
		keep, unmatched, err = inv.evaluate(limit, terms)
	}
	inv.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	var out []*Host
	for _, h := range hosts {
		if slices.Contains(keep, h) {
			out = append(out, h)
		}
	}
	if um != nil || len(unmatched) > 0 {
		e := &UnmatchedError{Pattern: pattern}
		if um != nil {
			e.Terms = um.Terms
		}
		if len(unmatched) > 0 {
			e.Pattern = pattern + " (limit " + limit + ")"
			e.Terms = append(e.Terms, unmatched...)
		}
		return out, e
	}
	return out, nil
}

func (inv *Inventory) evaluate(pattern string, terms []term) ([]*Host, []string, error) {
	var unions, inters, excls []term
	for _, t := range terms {
		switch t.op {
		case opIntersect:
			inters = append(inters, t)
		case opExclude:
			excls = append(excls, t)
		default:
			unions = append(unions, t)
		}
	}
	if len(unions) == 0 {
		unions = []term{{expr: GroupAll, text: GroupAll}}
	}
	var unmatched []string
	match := func(t term) (map[*Host]bool, error) {
		hs, err := inv.matchTerm(t.expr)
		if err != nil {
			return nil, &PatternError{Pattern: pattern, Term: t.text, Err: err}
		}
		if len(hs) == 0 {
			unmatched = append(unmatched, t.text)
		}
		set := make(map[*Host]bool, len(hs))
		for _, h := range hs {
			set[h] = true
		}
		return set, nil
	}
	selected := map[*Host]bool{}
	for _, t := range unions {
		set, err := match(t)
		if err != nil {
			return nil, nil, err
		}
		for h := range set {
			selected[h] = true
		}
	}
	for _, t := range inters {
		set, err := match(t)
		if err != nil {
			return nil, nil, err
		}
		for h := range selected {
			if !set[h] {
				delete(selected, h)
			}
		}
	}
	for _, t := range excls {
		set, err := match(t)
		if err != nil {
			return nil, nil, err
		}
		for h := range set {
			delete(selected, h)
		}
	}
	var out []*Host
	for _, h := range inv.hosts {
		if selected[h] {
			out = append(out, h)
		}
	}
	if inv.localhost != nil && selected[inv.localhost] {
		out = append(out, inv.localhost)
	}
	return out, unmatched, nil
}

var subscriptRE = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)

// matchTerm returns the hosts one term (without & or !) matches, in
// inventory order, following Ansible's _match_one_pattern.
func (inv *Inventory) matchTerm(expr string) ([]*Host, error) {
	if h, ok := inv.byName[expr]; ok {
		return []*Host{h}, nil
	}
	if expr[0] != '~' {
		if m := subscriptRE.FindStringSubmatch(expr); m != nil {
			// A group or glob with a subscript, unless the whole term names
			// hosts as a glob ("web[12]" with hosts web1, web2 is a subscript
			// in Ansible too).
			hosts, err := inv.matchExpr(m[1])
			if err != nil {
				return nil, err
			}
			return applySubscript(hosts, m), nil
		}
	}
	return inv.matchExpr(expr)
}

func applySubscript(hosts []*Host, m []string) []*Host {
	n := len(hosts)
	if m[2] != "" {
		i, err := strconv.Atoi(m[2])
		if err != nil {
			return nil
		}
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil
		}
		return hosts[i : i+1]
	}
	start, _ := strconv.Atoi(m[3])
	end := n - 1
	if m[5] != "" {
		end, _ = strconv.Atoi(m[5])
	}
	end = min(end, n-1)
	if start > end || start >= n {
		return nil
	}
	return hosts[start : end+1]
}

func (inv *Inventory) matchExpr(expr string) ([]*Host, error) {
	re, err := termRegexp(expr)
	if err != nil {
		return nil, err
	}
	selected := map[*Host]bool{}
	matchedGroup := false
	for _, g := range inv.groups {
		if re.MatchString(g.Name) {
			matchedGroup = true
			for _, h := range inv.groupHostsLocked(g.Name) {
				selected[h] = true
			}
		}
	}
	if !matchedGroup || expr[0] == '~' || strings.ContainsAny(expr, ".?*[") {
		for _, h := range inv.hosts {
			if re.MatchString(h.Name) {
				selected[h] = true
			}
		}
	}
	var out []*Host
	for _, h := range inv.hosts {
		if selected[h] {
			out = append(out, h)
		}
	}
	if len(out) == 0 && expr == "localhost" && inv.localhost != nil {
		out = append(out, inv.localhost)
	}
	return out, nil
}

// termRegexp compiles a term: "~re" is a regular expression anchored at the
// start (Python's re.match), anything else a shell glob (fnmatch).
func termRegexp(expr string) (*regexp.Regexp, error) {
	if expr[0] == '~' {
		re, err := regexp.Compile(`^(?:` + expr[1:] + `)`)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression (RE2 syntax): %w", err)
		}
		return re, nil
	}
	return regexp.Compile(globToRegexp(expr))
}

// globToRegexp translates an fnmatch glob: * any run, ? one character,
// [seq] a set, [!seq] its complement.
func globToRegexp(glob string) string {
	g := []rune(glob)
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(g) && g[j] == '!' {
				j++
			}
			if j < len(g) && g[j] == ']' {
				j++
			}
			for j < len(g) && g[j] != ']' {
				j++
			}
			if j >= len(g) {
				b.WriteString(`\[`)
				continue
			}
			set := g[i+1 : j]
			neg := len(set) > 0 && set[0] == '!'
			if neg {
				set = set[1:]
			}
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			for _, r := range set {
				if r == '\\' || r == '[' || r == ']' || r == '^' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return b.String()
}
