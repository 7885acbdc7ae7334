package config

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// templated is a module with a template variable, like init_service.
type templated struct{ fakeModule }

func (templated) TemplateVars() []string { return []string{"instance"} }

func init() {
	fakeModules = append(fakeModules, templated{fakeModule{&contract.Spec{Name: "templated", Attributes: []contract.Attribute{
		{Name: "command", Type: cty.String, Required: true},
	}}}})
}

// TestTemplateVars: a module's template variables are names in its own
// attributes only.
func TestTemplateVars(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"in the module's attribute", `play "p" {
  hosts = "all"
  templated "t" { command = "/bin/x /etc/${instance}.conf" }
}`, ""},
		{"misspelt", `play "p" {
  hosts = "all"
  templated "t" { command = "/bin/x /etc/${instanc}.conf" }
}`, `Did you mean "instance"?`},
		{"in another module", `play "p" {
  hosts = "all"
  directory "d" { path = "/srv/${instance}" }
}`, `There is no "instance" here`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, c.src)
			var got []string
			for _, d := range diags {
				got = append(got, Compact(d))
			}
			all := strings.Join(got, "\n")
			if c.want == "" && all != "" || c.want != "" && !strings.Contains(all, c.want) {
				t.Errorf("diagnostics %q, want %q", all, c.want)
			}
		})
	}
}
