package inventory

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var iniSection = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)

// loadINI reads an Ansible INI inventory.
func loadINI(m *model, f *srcFile) hcl.Diagnostics {
	var diags hcl.Diagnostics
	errAt := func(line int, summary, detail string) {
		r := f.lineRange(line)
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r})
	}
	group, kind := GroupUngrouped, "hosts"
	// vars sections for groups this file has not defined (yet): line numbers.
	pendingVars := map[string]int{}
	defined := map[string]bool{GroupAll: true, GroupUngrouped: true}
	for i, raw := range bytes.Split(f.src, []byte("\n")) {
		lineNo := i + 1
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") || strings.HasPrefix(line, "[") && iniSection.MatchString(line) {
			sm := iniSection.FindStringSubmatch(line)
			if sm == nil {
				errAt(lineNo, "Invalid section header", fmt.Sprintf("%q is not a section header; write [group], [group:children] or [group:vars] without spaces.", line))
				group, kind = "", "invalid"
				continue
			}
			group, kind = sm[1], sm[2]
			switch kind {
			case "", "hosts":
				kind = "hosts"
				defined[group] = true
			case "children":
				defined[group] = true
			case "vars":
				if !defined[group] {
					if _, ok := pendingVars[group]; !ok {
						pendingVars[group] = lineNo
					}
				}
			default:
				errAt(lineNo, "Unknown section type", fmt.Sprintf("Section [%s:%s] has unknown type %q; use hosts, children or vars.", sm[1], sm[2], sm[2]))
				group, kind = "", "invalid"
				continue
			}
			m.group(group, fmt.Sprintf("%s:%d", f.name, lineNo), f.lineRange(lineNo))
			continue
		}
		switch kind {
		case "invalid":
			continue
		case "hosts":
			diags = append(diags, iniHostLine(m, f, lineNo, string(raw), group)...)
		case "children":
			toks, err := shlexSplit(line)
			if err != nil || len(toks) != 1 {
				errAt(lineNo, "Invalid child group", fmt.Sprintf("Expected one group name in [%s:children], got %q.", group, line))
				continue
			}
			child := toks[0]
			defined[child] = true
			m.group(child, fmt.Sprintf("%s:%d", f.name, lineNo), f.lineRange(lineNo))
			if group == GroupAll {
				continue
			}
			m.addChild(m.groups[group], child)
			if m.groups[group].childRefs == nil {
				m.groups[group].childRefs = map[string]hcl.Range{}
			}
			if _, ok := m.groups[group].childRefs[child]; !ok {
				// For cycle messages (INI children need no other definition).
				m.groups[group].childRefs[child] = f.lineRange(lineNo)
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				errAt(lineNo, "Invalid variable", fmt.Sprintf("Expected key=value in [%s:vars], got %q.", group, line))
				continue
			}
			val := pyLiteral(strings.TrimSpace(v))
			g := m.groups[group]
			rng := f.lineRange(lineNo)
			if k == "ansible_group_priority" {
				if n, err := parsePriority(val); err != nil {
					errAt(lineNo, "Invalid ansible_group_priority", fmt.Sprintf("Group %q: %v.", group, err))
				} else {
					g.priority = n
				}
				continue
			}
			diags = append(diags, applyAnsibleVar(&g.set, k, val, rng, fmt.Sprintf("group %q", group))...)
		}
	}
	for _, name := range sortedKeys(pendingVars) {
		if !defined[name] {
			errAt(pendingVars[name], "Vars for an undefined group",
				fmt.Sprintf("Section [%s:vars] is for group %q, which this file does not define. Add a [%s] or [%s:children] section, or fix the name.", name, name, name, name))
		}
	}
	return diags
}

// iniHostLine reads "name[:port] key=value ..." in a hosts section.
func iniHostLine(m *model, f *srcFile, lineNo int, raw, group string) hcl.Diagnostics {
	rng := f.lineRange(lineNo)
	bad := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}}
	}
	toks, err := shlexSplit(raw)
	if err != nil {
		return bad("Invalid host line", fmt.Sprintf("Cannot split %q: %v.", strings.TrimSpace(raw), err))
	}
	if len(toks) == 0 {
		return nil
	}
	names, port, err := expandHostPattern(toks[0])
	if err != nil {
		return bad("Invalid host pattern", err.Error()+".")
	}
	var diags hcl.Diagnostics
	type kv struct {
		k, v string
	}
	var vars []kv
	for _, t := range toks[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return bad("Invalid host variable", fmt.Sprintf("Expected key=value after host %q, got %q.", toks[0], t))
		}
		vars = append(vars, kv{k, v})
	}
	src := fmt.Sprintf("%s:%d", f.name, lineNo)
	for _, name := range names {
		h := m.host(name, src, rng)
		if port != 0 {
			h.set.put(fields[keyPort], port, rng)
		}
		for _, v := range vars {
			diags = append(diags, applyAnsibleVar(&h.set, v.k, pyLiteral(v.v), rng, fmt.Sprintf("host %q", name))...)
		}
		if group != GroupUngrouped && group != GroupAll {
			m.addMember(m.groups[group], name)
		}
	}
	return dedupeDiags(diags)
}
