package inventory

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrecedence checks the precedence table of docs/inventory.md, lowest
// to highest: built-in < ssh_config < defaults < group all < parent group <
// child group < host < command line.
func TestPrecedence(t *testing.T) {
	layer := map[string]string{
		"defaults": `defaults {
  user = "defaults"
  vars = { v = "defaults" }
}
`,
		"all": `group "all" {
  user = "all"
  vars = { v = "all" }
}
`,
		"parent": `group "parent" {
  children = ["child"]
  user     = "parent"
  vars     = { v = "parent" }
}
`,
		"child": `group "child" {
  user = "child"
  vars = { v = "child" }
}
`,
		// the alphabetically-earlier deeper group beats the later shallower one
		"a_deep": `group "z_top" {
  children = ["a_deep"]
  user     = "z_top"
  vars     = { v = "z_top" }
}
group "a_deep" {
  user = "a_deep"
  vars = { v = "a_deep" }
}
`,
		// same depth: the later name in alphabetical order wins...
		"same_depth": `group "b_grp" {
  user = "b_grp"
  vars = { v = "b_grp" }
}
group "a_grp" {
  user = "a_grp"
  vars = { v = "a_grp" }
}
`,
		// ...unless priority says otherwise
		"priority": `group "b_grp" {
  user = "b_grp"
  vars = { v = "b_grp" }
}
group "a_grp" {
  priority = 10
  user     = "a_grp"
  vars     = { v = "a_grp" }
}
`,
	}
	tests := []struct {
		layers   []string
		groups   []string // the groups host h is in
		host     bool     // host h sets user and v itself
		ssh, cli bool
		wantUser string
		wantVar  string
	}{
		{wantUser: "tester", wantVar: "<unset>"},
		{ssh: true, wantUser: "ssh_config", wantVar: "<unset>"},
		{ssh: true, layers: []string{"defaults"}, wantUser: "defaults", wantVar: `"defaults"`},
		{ssh: true, layers: []string{"defaults", "all"}, wantUser: "all", wantVar: `"all"`},
		{ssh: true, layers: []string{"defaults", "all", "parent", "child"}, groups: []string{"parent"}, wantUser: "parent", wantVar: `"parent"`},
		{ssh: true, layers: []string{"defaults", "all", "parent", "child"}, groups: []string{"child"}, wantUser: "child", wantVar: `"child"`},
		{ssh: true, layers: []string{"defaults", "all", "parent", "child"}, groups: []string{"child", "parent"}, wantUser: "child", wantVar: `"child"`},
		{ssh: true, layers: []string{"defaults", "all", "parent", "child"}, groups: []string{"child"}, host: true, wantUser: "host", wantVar: `"host"`},
		{ssh: true, layers: []string{"defaults", "all", "parent", "child"}, groups: []string{"child"}, host: true, cli: true, wantUser: "cli", wantVar: `"host"`},
		{layers: []string{"a_deep"}, groups: []string{"a_deep", "z_top"}, wantUser: "a_deep", wantVar: `"a_deep"`},
		{layers: []string{"same_depth"}, groups: []string{"a_grp", "b_grp"}, wantUser: "b_grp", wantVar: `"b_grp"`},
		{layers: []string{"priority"}, groups: []string{"a_grp", "b_grp"}, wantUser: "a_grp", wantVar: `"a_grp"`},
	}
	for _, tc := range tests {
		name := strings.Join(append(append([]string{}, tc.layers...), tc.groups...), "+")
		if tc.host {
			name += "+host"
		}
		if tc.cli {
			name += "+cli"
		}
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			for _, l := range tc.layers {
				b.WriteString(layer[l])
			}
			b.WriteString("host \"h\" {\n")
			if tc.host {
				b.WriteString("  user = \"host\"\n  vars = { v = \"host\" }\n")
			}
			if len(tc.groups) > 0 {
				fmt.Fprintf(&b, "  groups = [%q", tc.groups[0])
				for _, g := range tc.groups[1:] {
					fmt.Fprintf(&b, ", %q", g)
				}
				b.WriteString("]\n")
			}
			b.WriteString("}\n")
			dir := writeFiles(t, map[string]string{"inv.hcl": b.String(), "ssh_config": "Host h\n  User ssh_config\n"})
			opts := LoadOptions{SSHConfigPath: "none"}
			if tc.ssh {
				opts.SSHConfigPath = filepath.Join(dir, "ssh_config")
			}
			inv, diags := Load([]string{filepath.Join(dir, "inv.hcl")}, opts)
			if diags.HasErrors() {
				t.Fatalf("%s\n%s", diags.Error(), b.String())
			}
			h := mustHost(t, inv, "h")
			if tc.cli {
				ApplyOverrides(h, Overrides{User: "cli"})
			}
			if h.User != tc.wantUser || varString(h, "v") != tc.wantVar {
				t.Errorf("user=%q v=%s, want %q %s\n%s", h.User, varString(h, "v"), tc.wantUser, tc.wantVar, b.String())
			}
		})
	}
}

func TestApplyOverrides(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		o    Overrides
		want Host
	}{
		{Overrides{}, Host{User: "u", Become: Become{Enabled: true, User: "pg", Method: "sudo"}}},
		{Overrides{User: "cli"}, Host{User: "cli", Become: Become{Enabled: true, User: "pg", Method: "sudo"}}},
		{Overrides{Become: &no}, Host{User: "u", Become: Become{User: "pg", Method: "sudo"}}},
		{Overrides{Become: &yes, BecomeUser: "root"}, Host{User: "u", Become: Become{Enabled: true, User: "root", Method: "sudo"}}},
	}
	for _, tc := range tests {
		h := Host{User: "u", Become: Become{Enabled: true, User: "pg", Method: "sudo"}}
		ApplyOverrides(&h, tc.o)
		if h.User != tc.want.User || h.Become != tc.want.Become {
			t.Errorf("ApplyOverrides(%+v) = %+v, want %+v", tc.o, h, tc.want)
		}
	}
}
