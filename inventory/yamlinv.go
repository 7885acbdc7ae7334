package inventory

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"
)

// yamlDoc parses src and returns its root node (nil for an empty document).
func yamlDoc(f *srcFile) (*yaml.Node, hcl.Diagnostics) {
	var doc yaml.Node
	if err := yaml.Unmarshal(f.src, &doc); err != nil {
		r := hcl.Range{Filename: f.name, Start: f.pos(1, 1), End: f.pos(1, 1)}
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			r = f.lineRange(n)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid YAML", Detail: err.Error() + ".", Subject: &r}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlErrLine = regexp.MustCompile(`line (\d+)`)

func nodeRange(f *srcFile, n *yaml.Node) hcl.Range {
	l := 1
	if n.Kind == yaml.ScalarNode {
		l = max(len([]rune(n.Value)), 1)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			l += 2
		}
	}
	return f.rangeAt(n.Line, n.Column, l)
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// loadYAML reads an Ansible YAML inventory: top-level keys are groups, each
// with optional hosts, children and vars.
func loadYAML(m *model, f *srcFile) hcl.Diagnostics {
	root, diags := yamlDoc(f)
	if diags.HasErrors() || root == nil {
		return diags
	}
	if root.Kind != yaml.MappingNode {
		r := nodeRange(f, root)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid YAML inventory",
			Detail: "The top level must be a mapping of group names (such as all:) to groups.", Subject: &r}}
	}
	if isScriptFormat(root, strings.EqualFold(filepath.Ext(f.name), ".json")) {
		return loadScriptJSON(m, f, root)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		diags = append(diags, yamlGroup(m, f, root.Content[i], root.Content[i+1], "")...)
	}
	return diags
}

// isScriptFormat reports whether root is the JSON that dynamic inventory
// scripts and "ansible-inventory --list" print: a "_meta" key or, in a .json
// file, groups that are lists or whose hosts or children are lists. (In a
// YAML file a list of hosts is the usual mistake, reported as such.)
func isScriptFormat(root *yaml.Node, json bool) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Value == "_meta" {
			return true
		}
		if !json {
			continue
		}
		if v.Kind == yaml.SequenceNode {
			return true
		}
		if v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				key, val := v.Content[j].Value, deref(v.Content[j+1])
				if (key == "hosts" || key == "children") && val.Kind == yaml.SequenceNode {
					return true
				}
			}
		}
	}
	return false
}

// loadScriptJSON reads the dynamic inventory JSON format: each group is a
// list of hosts or {hosts: [..], children: [..], vars: {..}}, and
// _meta.hostvars maps hosts to their variables.
func loadScriptJSON(m *model, f *srcFile, root *yaml.Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(n *yaml.Node, detail string) {
		r := nodeRange(f, n)
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid inventory JSON", Detail: detail, Subject: &r})
	}
	names := func(n *yaml.Node, what, group string) []*yaml.Node {
		if isNull(n) {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			bad(n, fmt.Sprintf("The %s of group %q must be a list of names.", what, group))
			return nil
		}
		var out []*yaml.Node
		for _, e := range n.Content {
			if e = deref(e); e.Kind != yaml.ScalarNode {
				bad(e, fmt.Sprintf("The %s of group %q must be names.", what, group))
				continue
			}
			out = append(out, e)
		}
		return out
	}
	var meta *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if k.Value == "_meta" {
			meta = v
			continue
		}
		rng := nodeRange(f, k)
		g := m.group(k.Value, srcString(rng), rng)
		var hosts, children, vars *yaml.Node
		switch {
		case isNull(v):
		case v.Kind == yaml.SequenceNode:
			hosts = v
		case v.Kind == yaml.MappingNode:
			for _, kv := range mappingPairs(v) {
				switch kv[0].Value {
				case "hosts":
					hosts = deref(kv[1])
				case "children":
					children = deref(kv[1])
				case "vars":
					vars = deref(kv[1])
				default:
					bad(kv[0], fmt.Sprintf("Group %q has key %q; a group has only hosts, children and vars.", k.Value, kv[0].Value))
				}
			}
		default:
			bad(v, fmt.Sprintf("Group %q must be a list of hosts or a mapping.", k.Value))
		}
		for _, h := range names(hosts, "hosts", k.Value) {
			r := nodeRange(f, h)
			m.host(h.Value, srcString(r), r)
			m.addMember(g, h.Value)
		}
		for _, c := range names(children, "children", k.Value) {
			r := nodeRange(f, c)
			m.group(c.Value, srcString(r), r)
			if g.name != GroupAll {
				m.addChild(g, c.Value)
			}
		}
		if !isNull(vars) {
			if vars.Kind != yaml.MappingNode {
				bad(vars, fmt.Sprintf("The vars of group %q must be a mapping.", k.Value))
			} else {
				diags = append(diags, yamlVars(f, vars, &g.set, g, fmt.Sprintf("group %q", k.Value))...)
			}
		}
	}
	if meta != nil && meta.Kind == yaml.MappingNode {
		for _, kv := range mappingPairs(meta) {
			if kv[0].Value != "hostvars" {
				continue
			}
			hv := deref(kv[1])
			if hv.Kind != yaml.MappingNode {
				bad(hv, "_meta.hostvars must map host names to their variables.")
				continue
			}
			for _, hkv := range mappingPairs(hv) {
				r := nodeRange(f, hkv[0])
				h := m.host(hkv[0].Value, srcString(r), r)
				if v := deref(hkv[1]); !isNull(v) {
					if v.Kind != yaml.MappingNode {
						bad(v, fmt.Sprintf("The variables of host %q must be a mapping.", h.name))
						continue
					}
					diags = append(diags, yamlVars(f, v, &h.set, nil, fmt.Sprintf("host %q", h.name))...)
				}
			}
		}
	}
	return diags
}

func yamlGroup(m *model, f *srcFile, key, val *yaml.Node, parent string) hcl.Diagnostics {
	name := key.Value
	rng := nodeRange(f, key)
	g := m.group(name, srcString(rng), rng)
	if parent != "" && parent != GroupAll {
		p := m.groups[parent]
		m.addChild(p, name)
		if p.childRefs == nil {
			p.childRefs = map[string]hcl.Range{}
		}
		if _, ok := p.childRefs[name]; !ok {
			p.childRefs[name] = rng
		}
	}
	if isNull(val) {
		return nil
	}
	val = deref(val)
	if val.Kind != yaml.MappingNode {
		r := nodeRange(f, val)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid group",
			Detail: fmt.Sprintf("Group %q must be a mapping with hosts, children or vars.", name), Subject: &r}}
	}
	var diags hcl.Diagnostics
	for i := 0; i+1 < len(val.Content); i += 2 {
		k, v := val.Content[i], deref(val.Content[i+1])
		kr := nodeRange(f, k)
		if !isNull(v) && v.Kind != yaml.MappingNode {
			r := nodeRange(f, v)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + k.Value,
				Detail: fmt.Sprintf("The %s of group %q must be a mapping, not a %s.", k.Value, name, kindName(v)), Subject: &r})
			continue
		}
		switch k.Value {
		case "hosts":
			for j := 0; v != nil && j+1 < len(v.Content); j += 2 {
				diags = append(diags, yamlHost(m, f, g, v.Content[j], deref(v.Content[j+1]))...)
			}
		case "children":
			for j := 0; v != nil && j+1 < len(v.Content); j += 2 {
				diags = append(diags, yamlGroup(m, f, v.Content[j], v.Content[j+1], name)...)
			}
		case "vars":
			diags = append(diags, yamlVars(f, v, &g.set, g, fmt.Sprintf("group %q", name))...)
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unexpected key in group",
				Detail: fmt.Sprintf("Group %q has key %q; a group has only hosts, children and vars. (Is this a host or a child group at the wrong indentation?)", name, k.Value), Subject: &kr})
		}
	}
	return diags
}

func yamlHost(m *model, f *srcFile, g *groupDef, key, val *yaml.Node) hcl.Diagnostics {
	rng := nodeRange(f, key)
	names, port, err := expandHostPattern(key.Value)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid host pattern", Detail: err.Error() + ".", Subject: &rng}}
	}
	if !isNull(val) && val.Kind != yaml.MappingNode {
		r := nodeRange(f, val)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid host",
			Detail: fmt.Sprintf("Host %q must map to its variables (or nothing), not a %s.", key.Value, kindName(val)), Subject: &r}}
	}
	var diags hcl.Diagnostics
	for _, name := range names {
		h := m.host(name, srcString(rng), rng)
		if port != 0 {
			h.set.put(fields[keyPort], port, rng)
		}
		if !isNull(val) {
			diags = append(diags, yamlVars(f, val, &h.set, nil, fmt.Sprintf("host %q", name))...)
		}
		if g.name != GroupAll && g.name != GroupUngrouped {
			m.addMember(g, name)
		}
	}
	return dedupeDiags(diags)
}

// yamlVars applies a mapping of variables to s. g is the group they belong
// to, if any (for ansible_group_priority).
func yamlVars(f *srcFile, n *yaml.Node, s *settings, g *groupDef, owner string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if isNull(n) {
		return nil
	}
	for _, kv := range mappingPairs(n) {
		k, v := kv[0], kv[1]
		rng := nodeRange(f, k)
		val, err := yamlValue(v, f.openInline)
		if err != nil {
			r := nodeRange(f, v)
			summary := "Unsupported value"
			if errors.As(err, new(*vaultError)) {
				summary = "Cannot decrypt value"
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
				Detail: fmt.Sprintf("%s: variable %q: %v.", owner, k.Value, err), Subject: &r})
			continue
		}
		if k.Value == "ansible_group_priority" && g != nil {
			p, err := parsePriority(val)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ansible_group_priority",
					Detail: fmt.Sprintf("%s: %v.", owner, err), Subject: &rng})
				continue
			}
			g.priority = p
			continue
		}
		diags = append(diags, applyAnsibleVar(s, k.Value, val, rng, owner)...)
	}
	return diags
}

// mappingPairs returns key/value pairs of a mapping, applying YAML merge
// keys ("<<: *defaults"), explicit keys winning.
func mappingPairs(n *yaml.Node) [][2]*yaml.Node {
	n = deref(n)
	var out [][2]*yaml.Node
	idx := map[string]int{}
	add := func(k, v *yaml.Node, override bool) {
		if i, ok := idx[k.Value]; ok {
			if override {
				out[i] = [2]*yaml.Node{k, v}
			}
			return
		}
		idx[k.Value] = len(out)
		out = append(out, [2]*yaml.Node{k, v})
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		add(k, v, true)
	}
	for _, mn := range merges {
		mn = deref(mn)
		srcs := []*yaml.Node{mn}
		if mn.Kind == yaml.SequenceNode {
			srcs = mn.Content
		}
		for _, s := range srcs {
			s = deref(s)
			if s.Kind != yaml.MappingNode {
				continue
			}
			for _, kv := range mappingPairs(s) {
				add(kv[0], kv[1], false)
			}
		}
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "scalar (" + strings.TrimPrefix(n.Tag, "!!") + ")"
	}
	return "node"
}

// yaml11Bools are the plain scalars YAML 1.1 (PyYAML, so Ansible) reads as
// booleans beyond YAML 1.2's true/false.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// yamlValue converts a YAML node to a cty value: mappings become objects,
// sequences tuples, scalars strings, numbers, booleans or null.
func yamlValue(n *yaml.Node, vault func(*yaml.Node) ([]byte, error)) (cty.Value, error) {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		return yamlValue(n.Content[0], vault)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return cty.EmptyTupleVal, nil
		}
		var elems []cty.Value
		for _, c := range n.Content {
			v, err := yamlValue(c, vault)
			if err != nil {
				return cty.NilVal, err
			}
			elems = append(elems, v)
		}
		return cty.TupleVal(elems), nil
	case yaml.MappingNode:
		attrs := map[string]cty.Value{}
		for _, kv := range mappingPairs(n) {
			v, err := yamlValue(kv[1], vault)
			if err != nil {
				return cty.NilVal, err
			}
			attrs[kv[0].Value] = v
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal, nil
		}
		return cty.ObjectVal(attrs), nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return cty.NullVal(cty.DynamicPseudoType), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return cty.NilVal, err
			}
			return cty.BoolVal(b), nil
		case "!!int":
			var i big.Int
			v := strings.ReplaceAll(n.Value, "_", "")
			base := 0
			if len(v) > 1 && v[0] == '0' && v[1] >= '0' && v[1] <= '9' {
				base = 8 // YAML 1.1 octal, as PyYAML reads 0755
			}
			if _, ok := i.SetString(v, base); !ok {
				var x int64
				if err := n.Decode(&x); err != nil {
					return cty.StringVal(n.Value), nil
				}
				return cty.NumberIntVal(x), nil
			}
			return cty.NumberVal(new(big.Float).SetInt(&i)), nil
		case "!!float":
			var x float64
			if err := n.Decode(&x); err != nil {
				return cty.StringVal(n.Value), nil
			}
			return cty.NumberFloatVal(x), nil
		case "!!str":
			if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
				return cty.BoolVal(b), nil
			}
			return cty.StringVal(n.Value), nil
		case "!vault":
			clear, err := vault(n)
			if err != nil {
				return cty.NilVal, err
			}
			return sensitive(cty.StringVal(string(clear))), nil
		default: // !!timestamp, !!binary, !unsafe and other tags: the text
			return cty.StringVal(n.Value), nil
		}
	}
	return cty.NilVal, fmt.Errorf("unsupported YAML node")
}

func parsePriority(v cty.Value) (int, error) {
	s, _ := ctyString(v)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// sniffYAML reports whether src looks like a YAML inventory (a mapping of
// groups) rather than INI, for files without a telling extension.
func sniffYAML(src []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return false
	}
	for i := 1; i < len(root.Content); i += 2 {
		if v := deref(root.Content[i]); !isNull(v) && v.Kind != yaml.MappingNode && v.Kind != yaml.SequenceNode {
			return false
		}
	}
	return true
}

// varsFileExts are the extensions Ansible reads in group_vars/ and host_vars/.
var varsFileExts = []string{"", ".yml", ".yaml", ".json"}

// loadVarsDirs applies group_vars/<group> and host_vars/<host> files found
// beside Ansible inventories. They win over the inventory files' own
// variables for the same group or host, as in Ansible.
func loadVarsDirs(p interface{ AddFile(string, *hcl.File) }, m *model) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, dir := range m.varsDirs {
		for _, gn := range slices.Clone(m.grpOrder) {
			g := m.groups[gn]
			for _, file := range varsFiles(filepath.Join(dir, "group_vars"), gn) {
				diags = append(diags, loadVarsFile(p, m.vault, file, &g.set, g, fmt.Sprintf("group %q", gn))...)
			}
		}
		for _, hn := range m.hostOrder {
			h := m.hosts[hn]
			for _, file := range varsFiles(filepath.Join(dir, "host_vars"), hn) {
				diags = append(diags, loadVarsFile(p, m.vault, file, &h.set, nil, fmt.Sprintf("host %q", hn))...)
			}
		}
	}
	return diags
}

// varsFiles lists the vars files for name in dir: name, name.yml,
// name.yaml, name.json, or every such file under the directory name/.
func varsFiles(dir, name string) []string {
	var out []string
	for _, ext := range varsFileExts {
		p := filepath.Join(dir, name+ext)
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		if ext != "" {
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") && path != p {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && slices.Contains(varsFileExts, filepath.Ext(path)) {
				out = append(out, path)
			}
			return nil
		})
	}
	return out
}

func loadVarsFile(p interface{ AddFile(string, *hcl.File) }, vault vaultFunc, path string, s *settings, g *groupDef, owner string) hcl.Diagnostics {
	src, err := os.ReadFile(path)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read vars file", Detail: err.Error() + "."}}
	}
	encrypted := isVault(src)
	if encrypted {
		if src, err = openVaultFile(vault, path, src); err != nil {
			r := newSrcFile(path, src).lineRange(1)
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot decrypt vars file", Detail: err.Error() + ".", Subject: &r}}
		}
	}
	f := newSrcFile(path, src)
	f.vault = vault
	if !encrypted { // a vault's clear text must be in no snippet
		p.AddFile(path, f.hclFile())
	}
	root, diags := yamlDoc(f)
	if diags.HasErrors() || root == nil {
		return diags
	}
	if deref(root).Kind != yaml.MappingNode {
		r := nodeRange(f, root)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid vars file",
			Detail: fmt.Sprintf("The variables of %s must be a mapping of names to values.", owner), Subject: &r}}
	}
	var layer settings
	diags = append(diags, yamlVars(f, root, &layer, g, owner)...)
	if encrypted && !markVaultVars(&layer, diags) {
		return diags // all of a vault or nothing
	}
	s.merge(&layer)
	return diags
}
