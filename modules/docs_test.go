package modules_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules"
)

const modulesDoc = "../docs/modules.md"

// docs/modules.md is generated from the Specs, which are the source of
// truth: `go test ./modules -run TestModulesDoc -update` rewrites it.
func TestModulesDoc(t *testing.T) {
	got := renderModulesDoc()
	if golden.Update() {
		if err := os.WriteFile(modulesDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(modulesDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./modules -run TestModulesDoc -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s is out of date with the modules' Specs: run go test ./modules -run TestModulesDoc -update", modulesDoc)
	}
}

func renderModulesDoc() string {
	var b strings.Builder
	b.WriteString("# Module reference\n\n")
	b.WriteString("<!-- Generated from each module's Spec by `go test ./modules -run TestModulesDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every task block is `<module> \"<name>\" { ... }` inside a play. Besides the attributes below, every task\n")
	b.WriteString("accepts the engine's meta-arguments (`when`, `for_each`, `count`, `depends_on`, `notify`, `sensitive`,\n")
	b.WriteString("`become`, `become_user`, `run_once`, `delegate_to`). `drover modules NAME` prints the same reference in the terminal.\n\n")
	b.WriteString("| module | summary |\n|---|---|\n")
	for _, m := range modules.All() {
		s := m.Spec()
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", s.Name, s.Name, cell(s.Summary))
	}
	for _, m := range modules.All() {
		s := m.Spec()
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s\n", s.Name, s.Summary, strings.TrimSpace(s.Doc))
		if s.ReadOnly {
			b.WriteString("\nRead-only: allowed in runbooks.\n")
		}
		b.WriteString("\n| attribute | type | default | description |\n|---|---|---|---|\n")
		for _, a := range s.Attributes {
			def := ""
			switch {
			case a.Required:
				def = "required"
			case a.Default != cty.NilVal && !a.Default.IsNull():
				def = "`" + strings.TrimSpace(string(hclwrite.TokensForValue(a.Default).Bytes())) + "`"
			}
			doc := a.Doc
			if a.Sensitive {
				doc += " Sensitive: masked in every output."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, typeName(a.Type), cell(def), cell(doc))
		}
		if len(s.Outputs) > 0 {
			b.WriteString("\n| output | type | description |\n|---|---|---|\n")
			for _, a := range s.Outputs {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", a.Name, typeName(a.Type), cell(a.Doc))
			}
		}
		fmt.Fprintf(&b, "\n```hcl\n%s\n```\n", strings.TrimSpace(s.Example))
	}
	return b.String()
}

func typeName(ty cty.Type) string {
	if ty == cty.DynamicPseudoType {
		return "any"
	}
	return ty.FriendlyNameForConstraint()
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
