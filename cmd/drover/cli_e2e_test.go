package main

import (
	"strings"
	"testing"
)

// TestCLIPlainWords: --version, missing arguments, a wrongly typed --var and
// a hosts pattern that matches nothing are said in plain words.
func TestCLIPlainWords(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.hcl", "host \"me\" {\n  connection = \"local\"\n  groups = [\"fleet\"]\n}\n")
	pb := writeFile(t, dir, "site.hcl", `variable "port" {
  type    = number
  default = 1
}
play "p" {
  hosts = "flet"
  shell "x" { run = "echo ${var.port}" }
}
`)
	tests := []struct {
		args []string
		code int
		want []string // in stdout+stderr
	}{
		{[]string{"--version"}, 0, []string{"drover "}},
		{[]string{"version"}, 0, []string{"drover "}},
		{[]string{"apply", "-i", inv}, 64, []string{"apply needs a playbook file: drover apply -i INVENTORY PLAYBOOK"}},
		{[]string{"plan"}, 64, []string{"plan needs a playbook file: drover plan -i INVENTORY PLAYBOOK"}},
		{[]string{"releases", "-i", inv, "web"}, 64, []string{"releases needs an application name: drover releases -i FILE PATTERN APP"}},
		{[]string{"modules", "a", "b"}, 64, []string{"modules: too many arguments (2)"}},
		{[]string{"plan", "-i", inv, pb, "--var", "port=abc"}, 1,
			[]string{`variable "port" is of type number, and "abc" is not a number value`}},
		{[]string{"plan", "-i", inv, pb}, 1, []string{
			`site.hcl line 6, in play "p":`, `hosts = "flet"`, `Did you mean "fleet"?`,
			`no play selected any host (` + pb + `:6:11: hosts = "flet" matches nothing; did you mean "fleet"?)`}},
	}
	for _, tc := range tests {
		r := drover(t, "", tc.args...)
		out := r.stdout + r.stderr
		if r.code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, r.code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out, "requires at least") || strings.Contains(out, "source code not available") {
			t.Errorf("%v: cobra's or HCL's wording:\n%s", tc.args, out)
		}
	}
}

// TestCLICompletion: the completion script is generated, and completing
// gives subcommands, module names, and the inventory's hosts and groups for
// --limit and host patterns.
func TestCLICompletion(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.hcl", "host \"me\" {\n  connection = \"local\"\n  groups = [\"fleet\"]\n}\nhost \"web1\" {\n  connection = \"local\"\n}\n")
	if r := drover(t, "", "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "__start_drover") {
		t.Errorf("completion bash: exit %d\n%s", r.code, r.stderr)
	}
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"pl"}, []string{"plan\t"}, []string{"ping\t"}},
		{[]string{"modules", "te"}, []string{"template\t"}, []string{"file\t"}},
		{[]string{"ping", "-i", inv, ""}, []string{"fleet\tgroup", "all\tgroup", "me\thost", "web1\thost"}, nil},
		{[]string{"plan", "-i", inv, "--limit", "fleet:!w"}, []string{"fleet:!web1\thost"}, []string{"me\t"}},
	}
	for _, tc := range tests {
		r := drover(t, "", append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("completing %q: no %q in\n%s", tc.args, w, r.stdout)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(r.stdout, w) {
				t.Errorf("completing %q: %q should not be offered\n%s", tc.args, w, r.stdout)
			}
		}
	}
}
