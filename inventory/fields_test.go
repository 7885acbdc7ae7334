package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fieldSamples are, for each connection setting, values written in every
// source its row names and what each resolves to on the Host. hcl holds
// four distinct adjacent values, for the four inventory layers of
// TestFieldPrecedence.
var fieldSamples = map[string]struct {
	hcl       []string // HCL literals
	hclWant   []any
	ansible   string // the value of each of the row's Ansible variables
	ansWant   any
	ssh       string // the value of the row's first ssh_config keyword
	sshWant   any
	arg       string // the value of each -o option of ansible_ssh_common_args
	argWant   any
	flag      string // the command-line flag's value
	flagWant  any
	builtWant any // with nothing set anywhere
}{
	"connection": {
		hcl: []string{`"local"`, `"ssh"`, `"local"`, `"ssh"`}, hclWant: []any{"local", "ssh", "local", "ssh"},
		ansible: "local", ansWant: "local", builtWant: "ssh",
	},
	"address": {
		hcl: []string{`"10.0.0.1"`}, hclWant: []any{"10.0.0.1"},
		ansible: "10.0.0.3", ansWant: "10.0.0.3",
		ssh: "10.0.0.4", sshWant: "10.0.0.4", builtWant: "h",
	},
	"user": {
		hcl: []string{`"u0"`, `"u1"`, `"u2"`, `"u3"`}, hclWant: []any{"u0", "u1", "u2", "u3"},
		ansible: "ua", ansWant: "ua", ssh: "us", sshWant: "us", arg: "uo", argWant: "uo",
		flag: "uf", flagWant: "uf", builtWant: "tester",
	},
	"port": {
		hcl: []string{"2200", "2201", "2202", "2203"}, hclWant: []any{2200, 2201, 2202, 2203},
		ansible: "2204", ansWant: 2204, ssh: "2205", sshWant: 2205, arg: "2206", argWant: 2206, builtWant: 22,
	},
	"identity_file": {
		hcl:     []string{`"/k/0"`, `["/k/1", "/k/1b"]`, `"/k/2"`, `["/k/3"]`},
		hclWant: []any{[]string{"/k/0"}, []string{"/k/1", "/k/1b"}, []string{"/k/2"}, []string{"/k/3"}},
		ansible: "/k/a", ansWant: []string{"/k/a"}, ssh: "/k/s", sshWant: []string{"/k/s"},
		arg: "/k/o", argWant: []string{"/k/o"}, builtWant: []string(nil),
	},
	"proxy_jump": {
		hcl: []string{`"j0"`, `"j1"`, `"u@j2:2222"`, `"j3,j4"`}, hclWant: []any{"j0", "j1", "u@j2:2222", "j3,j4"},
		ssh: "js", sshWant: "js", arg: "ja", argWant: "ja", builtWant: "",
	},
	"known_hosts_file": {
		hcl:     []string{`"/kh/0"`, `["/kh/1"]`, `"/kh/2"`, `["/kh/3", "/kh/3b"]`},
		hclWant: []any{[]string{"/kh/0"}, []string{"/kh/1"}, []string{"/kh/2"}, []string{"/kh/3", "/kh/3b"}},
		ssh:     "/kh/s", sshWant: []string{"/kh/s"}, builtWant: []string(nil),
		arg: "/kh/o", argWant: []string{"/kh/o"},
	},
	"connect_timeout": {
		hcl: []string{`"5s"`, "6", `"1m"`, "0.5"}, hclWant: []any{5 * time.Second, 6 * time.Second, time.Minute, 500 * time.Millisecond},
		ansible: "8", ansWant: 8 * time.Second, ssh: "9", sshWant: 9 * time.Second,
		flag: "11s", flagWant: 11 * time.Second, builtWant: time.Duration(0),
	},
	"become": {
		hcl: []string{"true", "false", "true", "false"}, hclWant: []any{true, false, true, false},
		ansible: "yes", ansWant: true, flag: "true", flagWant: true, builtWant: false,
	},
	"become_user": {
		hcl: []string{`"b0"`, `"b1"`, `"b2"`, `"b3"`}, hclWant: []any{"b0", "b1", "b2", "b3"},
		ansible: "ba", ansWant: "ba", flag: "bf", flagWant: "bf", builtWant: "root",
	},
	"become_method":   {ansible: "sudo", ansWant: "sudo", builtWant: "sudo"},
	"identities_only": {ssh: "yes", sshWant: true, arg: "yes", argWant: true, builtWant: false},
	"strict_host_key_checking": {
		ssh: "accept-new", sshWant: HostKeyAcceptNew, arg: "yes", argWant: HostKeyVerify, builtWant: "",
	},
}

// hostValue is f's value on h, zero values included.
func hostValue(f *field, h *Host) any {
	v, _ := f.get(h)
	if l, ok := v.([]string); ok && len(l) == 0 {
		return []string(nil)
	}
	return v
}

func loadOne(t *testing.T, files map[string]string, inv string) *Host {
	t.Helper()
	dir := writeFiles(t, files)
	opts := LoadOptions{SSHConfigPath: "none"}
	if _, ok := files["ssh_config"]; ok {
		opts.SSHConfigPath = filepath.Join(dir, "ssh_config")
	}
	i, diags := Load([]string{filepath.Join(dir, inv)}, opts)
	if diags.HasErrors() {
		t.Fatalf("%s\n%v", diags.Error(), files)
	}
	return mustHost(t, i, "h")
}

// TestFieldSources decodes every setting from every source its row names:
// an HCL attribute, each Ansible variable, ssh_config, an -o option of
// ansible_ssh_common_args, the command-line flag, and nothing at all.
func TestFieldSources(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, f := range fields {
		smp, ok := fieldSamples[f.name]
		if !ok {
			t.Errorf("%s: no samples in fieldSamples; add them", f.name)
			continue
		}
		check := func(source string, h *Host, want any) {
			t.Helper()
			if got := hostValue(f, h); !reflect.DeepEqual(got, want) {
				t.Errorf("%s from %s = %#v, want %#v", f.name, source, got, want)
			}
		}
		t.Run(f.name, func(t *testing.T) {
			check("nothing", loadOne(t, map[string]string{"inv.hcl": `host "h" {}`}, "inv.hcl"), smp.builtWant)
			if f.hcl != inNone {
				if len(smp.hcl) == 0 {
					t.Fatalf("no HCL sample")
				}
				src := fmt.Sprintf("host \"h\" {\n  %s = %s\n}\n", f.name, smp.hcl[0])
				check("HCL", loadOne(t, map[string]string{"inv.hcl": src}, "inv.hcl"), smp.hclWant[0])
			}
			for _, a := range f.ansible {
				if smp.ansible == "" {
					t.Fatalf("no Ansible sample")
				}
				check(a, loadOne(t, map[string]string{"hosts": fmt.Sprintf("h %s=%s\n", a, smp.ansible)}, "hosts"), smp.ansWant)
			}
			if f.ssh != nil {
				if smp.ssh == "" {
					t.Fatalf("no ssh_config sample")
				}
				files := map[string]string{"inv.hcl": `host "h" {}`, "ssh_config": fmt.Sprintf("Host *\n  %s %s\n", f.ssh[0], smp.ssh)}
				check("ssh_config "+f.ssh[0], loadOne(t, files, "inv.hcl"), smp.sshWant)
			}
			for _, o := range f.sshArgs {
				if smp.arg == "" {
					t.Fatalf("no -o sample")
				}
				if strings.EqualFold(o, "ProxyCommand") || o == "GlobalKnownHostsFile" {
					continue // TestSSHArgs and TestSSHArgSettings cover them
				}
				src := fmt.Sprintf("h ansible_ssh_common_args='-o %s=%s'\n", o, smp.arg)
				check("-o "+o, loadOne(t, map[string]string{"hosts": src}, "hosts"), smp.argWant)
			}
			if f.flag != nil {
				if smp.flag == "" {
					t.Fatalf("no flag sample")
				}
				var ov Overrides
				if err := ov.Set(f.flag.name, smp.flag); err != nil {
					t.Fatal(err)
				}
				h := loadOne(t, map[string]string{"inv.hcl": `host "h" {}`}, "inv.hcl")
				ApplyOverrides(h, ov)
				check("--"+f.flag.name, h, smp.flagWant)
			}
		})
	}
}

// TestFieldPrecedence checks, for every setting, the layers of the
// precedence table from the top down: the command line, then the host, a
// group, group all, the defaults block, ssh_config, the built-in default;
// each removed in turn lets the one below show.
func TestFieldPrecedence(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, f := range fields {
		smp := fieldSamples[f.name]
		if f.hcl != inAll {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			blocks := []string{"defaults", `group "all"`, `group "g"`, `host "h"`}
			files := map[string]string{}
			if f.ssh != nil {
				files["ssh_config"] = fmt.Sprintf("Host *\n  %s %s\n", f.ssh[0], smp.ssh)
			}
			for top := len(blocks); top >= 0; top-- {
				var b strings.Builder
				for i, blk := range blocks {
					fmt.Fprintf(&b, "%s {\n", blk)
					if blk == `group "g"` {
						b.WriteString("  hosts = [\"h\"]\n")
					}
					if i < top {
						fmt.Fprintf(&b, "  %s = %s\n", f.name, smp.hcl[i])
					}
					b.WriteString("}\n")
				}
				files["inv.hcl"] = b.String()
				h := loadOne(t, files, "inv.hcl")
				want := smp.builtWant
				switch {
				case top > 0:
					want = smp.hclWant[top-1]
				case f.ssh != nil:
					want = smp.sshWant
				}
				if got := hostValue(f, h); !reflect.DeepEqual(got, want) {
					t.Errorf("%d inventory layers: %s = %#v, want %#v\n%s", top, f.name, got, want, b.String())
				}
				if f.flag != nil {
					var ov Overrides
					if err := ov.Set(f.flag.name, smp.flag); err != nil {
						t.Fatal(err)
					}
					ApplyOverrides(h, ov)
					if got := hostValue(f, h); !reflect.DeepEqual(got, smp.flagWant) {
						t.Errorf("%d inventory layers and --%s: %s = %#v, want %#v", top, f.flag.name, f.name, got, smp.flagWant)
					}
				}
			}
		})
	}
}

// TestAddressAlias: the address is the name ssh_config is looked up by, and
// ssh_config's HostName for it replaces it (mergeAlias).
func TestAddressAlias(t *testing.T) {
	files := map[string]string{
		"inv.hcl":    `host "h" { address = "alias.example" }`,
		"ssh_config": "Host alias.example\n  HostName 10.0.0.9\nHost h\n  HostName 10.0.0.8\n",
	}
	if got := loadOne(t, files, "inv.hcl").Address; got != "10.0.0.9" {
		t.Errorf("address %q, want ssh_config's HostName for the inventory's address", got)
	}
	files["inv.hcl"] = `host "h" {}`
	if got := loadOne(t, files, "inv.hcl").Address; got != "10.0.0.8" {
		t.Errorf("address %q, want ssh_config's HostName for the host name", got)
	}
}

func TestOverridesForHops(t *testing.T) {
	var ov Overrides
	for flag, v := range map[string]string{"user": "cli", "become": "true", "become-user": "pg", "connect-timeout": "3s"} {
		if err := ov.Set(flag, v); err != nil {
			t.Fatal(err)
		}
	}
	hops := ov.ForHops()
	if hops.User != "" || hops.Become != nil || hops.BecomeUser != "" || hops.ConnectTimeout == nil || *hops.ConnectTimeout != 3*time.Second {
		t.Errorf("ForHops = %+v; want only the connect timeout", hops)
	}
	if err := ov.Set("connect-timeout", "soon"); err == nil || !strings.Contains(err.Error(), `--connect-timeout "soon": want a duration`) {
		t.Errorf("bad duration: %v", err)
	}
}

// TestFieldDocs checks the documentation's tables against the field table:
// README's and docs/inventory.md's precedence rows that name settings,
// docs/inventory.md's HCL attribute rows and its list of Ansible variables,
// and docs/cli.md's flags. A row added to fields fails here until the docs
// say it.
func TestFieldDocs(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	readme, invDoc, cliDoc := read("README.md"), read("docs/inventory.md"), read("docs/cli.md")

	var builtin, sshKeys, flags []string
	for _, f := range fields {
		if f.builtinDoc != "" {
			builtin = append(builtin, fmt.Sprintf("`%s` %s", f.name, f.builtinDoc))
		}
		if f.ssh != nil {
			sshKeys = append(sshKeys, f.ssh[0])
		}
		if f.flag != nil {
			flags = append(flags, "`--"+f.flag.name+"`")
		}
	}
	rows := []string{
		"| 1 | built-in defaults | " + strings.Join(builtin, ", ") + " |",
		"| 2 | `~/.ssh/config` | for the host's address: " + strings.Join(sshKeys, ", ") + " |",
		"| 7 | command-line flags | " + strings.Join(flags, ", ") + " |",
	}
	for _, doc := range []struct{ name, text string }{{"README.md", readme}, {"docs/inventory.md", invDoc}} {
		lines := strings.Split(doc.text, "\n")
		for _, row := range rows {
			if !slices.Contains(lines, row) {
				t.Errorf("%s: the precedence table should have the row\n%s", doc.name, row)
			}
		}
	}

	begin, end := "<!-- fields table: TestFieldDocs -->\n", "<!-- end of fields table -->"
	if _, rest, ok := strings.Cut(invDoc, begin); !ok {
		t.Errorf("docs/inventory.md has no %q", begin)
	} else if got, _, _ := strings.Cut(rest, end); got != settingsBySource() {
		t.Errorf("docs/inventory.md: the table of settings by source should be\n%s", settingsBySource())
	}

	invLines := strings.Split(invDoc, "\n")
	for _, f := range fields {
		if f.hcl != inNone {
			in := "all"
			if f.hcl == inHost {
				in = "host"
			}
			row := fmt.Sprintf("| `%s` | %s | %s | %s |", f.name, in, f.hclType, f.doc)
			if !slices.Contains(invLines, row) {
				t.Errorf("docs/inventory.md: the HCL attribute table should have the row\n%s", row)
			}
		}
		for _, a := range append(slices.Clone(f.ansible), f.sshArgs...) {
			if !strings.Contains(invDoc, a) {
				t.Errorf("docs/inventory.md does not mention %s (setting %s)", a, f.name)
			}
		}
		if f.flag != nil && !strings.Contains(cliDoc, "--"+f.flag.name) {
			t.Errorf("docs/cli.md does not document --%s", f.flag.name)
		}
	}
}

// settingsBySource renders docs/inventory.md's table of every connection
// setting and how each source spells it.
func settingsBySource() string {
	code := func(names []string, prefix string) string {
		var out []string
		for _, n := range names {
			out = append(out, "`"+prefix+n+"`")
		}
		if out == nil {
			return "–"
		}
		return strings.Join(out, ", ")
	}
	var b strings.Builder
	b.WriteString("| Setting | HCL | Ansible | ssh_config | `-o` in `ansible_ssh_common_args` | Flag | Merge |\n|---|---|---|---|---|---|---|\n")
	for _, f := range fields {
		hcl := "–"
		if f.hcl != inNone {
			hcl = "`" + f.name + "`"
		}
		flags := "–"
		if fl := f.flag; fl != nil {
			flags = "`--" + fl.name + "`"
			if fl.short != "" {
				flags = "`-" + fl.short + "`, " + flags
			}
		}
		var merge []string
		switch {
		case f.merge == mergeAlias:
			merge = append(merge, "ssh_config is looked up by it, and its value wins")
		case f.kind == kindPaths:
			merge = append(merge, "a layer's list replaces the whole list")
		default:
			merge = append(merge, "the highest layer that sets it")
		}
		if f.emptyUnset {
			merge = append(merge, "`\"\"` is unset")
		}
		if f.expand {
			merge = append(merge, "`~`, `${VAR}`, `%h %n %p %r %u %d %l` expanded")
		}
		if f.flag != nil && f.flag.hops {
			merge = append(merge, "the flag applies to jump hops too")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", f.name, hcl, code(f.ansible, ""), code(f.ssh, ""), code(f.sshArgs, ""), flags, strings.Join(merge, "; "))
	}
	return b.String()
}
