package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// LoadOptions control Load.
type LoadOptions struct {
	// SSHConfigPath is the ssh_config file to apply: "" means ~/.ssh/config
	// if it exists, "none" disables ssh_config.
	SSHConfigPath string
	// Parser is shared with the rest of the run so that diagnostics can be
	// printed with source snippets (hcl.NewDiagnosticTextWriter with
	// Parser.Files()); INI and YAML files are registered in it too. Load
	// creates one when nil.
	Parser *hclparse.Parser
	// Vault decrypts Ansible Vault text: whole group_vars/host_vars files
	// and !vault values in YAML. name says where the text is, for errors.
	// Nil: such files and values are an error asking for the password.
	Vault func(name string, vaulttext []byte) ([]byte, error)
}

// Format names, as detected per file.
const (
	FormatHCL  = "hcl"
	FormatINI  = "ini"
	FormatYAML = "yaml"
)

// Load reads inventory files (or directories of them) and resolves every
// host. The format is detected per file: ".hcl" is drover's HCL inventory,
// ".yml", ".yaml" and ".json" are Ansible YAML, ".ini" is Ansible INI, and
// any other file is Ansible YAML if it parses as a mapping of groups and
// Ansible INI otherwise. Later files add hosts and groups; Ansible
// definitions of the same host or group merge (later values win), while a
// host or group defined twice with HCL blocks is an error.
//
// The inventory is returned even when there are errors, for tools that want
// to show what could be read; callers should stop on diags.HasErrors().
func Load(paths []string, opts LoadOptions) (*Inventory, hcl.Diagnostics) {
	p := opts.Parser
	if p == nil {
		p = hclparse.NewParser()
	}
	m := newModel()
	m.vault = opts.Vault
	var diags hcl.Diagnostics
	for _, path := range paths {
		diags = append(diags, loadPath(p, m, path, true)...)
	}
	diags = append(diags, m.checkReferences()...)
	diags = append(diags, loadVarsDirs(p, m)...)
	ssh, d := loadSSHConfig(opts.SSHConfigPath)
	diags = append(diags, d...)
	_ = m.computeGroupGraph() // cycles were reported and broken above

	inv := &Inventory{byName: map[string]*Host{}, model: m, ssh: ssh}
	var rd hcl.Diagnostics
	for _, name := range m.hostOrder {
		h, d := m.resolveHost(m.hosts[name], ssh)
		rd = append(rd, d...)
		inv.hosts = append(inv.hosts, h)
		inv.byName[name] = h
	}
	diags = append(diags, dedupeDiags(rd)...)
	if _, ok := inv.byName["localhost"]; !ok {
		def := &hostDef{name: "localhost", src: "implicit localhost", implicit: true}
		def.set.vals[keyConnection] = ConnLocal
		inv.localhost, _ = m.resolveHost(def, nil)
	}
	inv.groups, inv.byGrp = m.buildGroups()
	return inv, onceWarnings(diags)
}

// onceWarnings keeps the first warning of each summary: a warning about a
// setting (an SSH option drover ignores) is said once per run, however many
// groups, hosts or files repeat it.
func onceWarnings(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			if seen[d.Summary] {
				continue
			}
			seen[d.Summary] = true
		}
		out = append(out, d)
	}
	return out
}

// ignoredExts are skipped when reading an inventory directory, as Ansible
// does (INVENTORY_IGNORE_EXTS).
var ignoredExts = []string{"~", ".orig", ".bak", ".cfg", ".retry", ".pyc", ".pyo", ".swp", ".rpm", ".md", ".txt", ".rst"}

func loadPath(p *hclparse.Parser, m *model, path string, top bool) hcl.Diagnostics {
	st, err := os.Stat(path)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read inventory",
			Detail: fmt.Sprintf("%v. Check the path given with --inventory.", err)}}
	}
	if !st.IsDir() {
		return loadFile(p, m, path, st.Mode())
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read inventory directory", Detail: err.Error() + "."}}
	}
	var diags hcl.Diagnostics
	if top {
		m.addVarsDir(path)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == "group_vars" || name == "host_vars" ||
			slices.ContainsFunc(ignoredExts, func(ext string) bool { return strings.HasSuffix(name, ext) }) {
			continue
		}
		diags = append(diags, loadPath(p, m, filepath.Join(path, name), false)...)
	}
	return diags
}

func (m *model) addVarsDir(dir string) {
	if !slices.Contains(m.varsDirs, dir) {
		m.varsDirs = append(m.varsDirs, dir)
	}
}

// DetectFormat returns the format Load would read src (from path) as.
func DetectFormat(path string, src []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".hcl":
		return FormatHCL
	case ".yml", ".yaml", ".json":
		return FormatYAML
	case ".ini":
		return FormatINI
	}
	if sniffYAML(src) {
		return FormatYAML
	}
	return FormatINI
}

func loadFile(p *hclparse.Parser, m *model, path string, mode os.FileMode) hcl.Diagnostics {
	if strings.EqualFold(filepath.Ext(path), ".hcl") {
		return loadHCL(p, m, path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read inventory", Detail: err.Error() + "."}}
	}
	f := newSrcFile(path, src)
	p.AddFile(path, f.hclFile())
	if strings.HasPrefix(string(src), "#!") {
		r := f.lineRange(1)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Dynamic inventory scripts are not supported",
			Detail: fmt.Sprintf("%s is a script. Run it yourself, save its JSON output to a file (%s --list > inventory.json), and pass that file.", path, path), Subject: &r}}
	}
	if strings.HasPrefix(string(src), "$ANSIBLE_VAULT") {
		r := f.lineRange(1)
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Encrypted inventory file",
			Detail: "This inventory file is encrypted with Ansible Vault. drover decrypts Vault files in group_vars/ and host_vars/ and !vault values, not whole inventory files: keep the hosts in clear and move the secrets to group_vars/GROUP/vault.yml.", Subject: &r}}
	}
	f.vault = m.vault
	m.addVarsDir(filepath.Dir(path))
	switch DetectFormat(path, src) {
	case FormatYAML:
		return loadYAML(m, f)
	default:
		return loadINI(m, f)
	}
}

// checkReferences reports names HCL group blocks use that no file defines,
// and child-group cycles, then removes them so resolution can go on.
func (m *model) checkReferences() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, gn := range m.grpOrder {
		g := m.groups[gn]
		for _, hn := range sortedKeys(g.hostRefs) {
			if _, ok := m.hosts[hn]; ok {
				continue
			}
			r := g.hostRefs[hn]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown host",
				Detail: fmt.Sprintf("Group %q lists host %q, which no inventory file defines. Add a host %q block, or fix the name.", gn, hn, hn), Subject: &r})
			g.hosts = slices.DeleteFunc(g.hosts, func(n string) bool { return n == hn })
		}
		if !g.fromHCL {
			continue
		}
		for _, cn := range sortedKeys(g.childRefs) {
			if _, ok := m.groups[cn]; ok {
				continue
			}
			r := g.childRefs[cn]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown group",
				Detail: fmt.Sprintf("Group %q lists child group %q, which no inventory file defines. Add a group %q block, or fix the name.", gn, cn, cn), Subject: &r})
			g.children = slices.DeleteFunc(g.children, func(n string) bool { return n == cn })
		}
	}
	for _, cyc := range m.cycles() {
		last, first := cyc[len(cyc)-2], cyc[len(cyc)-1]
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Group cycle",
			Detail: fmt.Sprintf("Groups contain each other: %s. A group cannot be its own descendant; remove one of these children.", strings.Join(cyc, " -> "))}
		if r, ok := m.groups[last].childRefs[first]; ok {
			d.Subject = r.Ptr()
		} else if r := m.groups[last].rng; r.Filename != "" {
			d.Subject = r.Ptr()
		}
		diags = append(diags, d)
	}
	m.breakCycles()
	return diags
}
