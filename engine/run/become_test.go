package run

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/lang"
)

func TestEvalBecome(t *testing.T) {
	expr := func(src string) hcl.Expression {
		if src == "" {
			return nil
		}
		e, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return e
	}
	scope := &lang.Scope{Vars: map[string]cty.Value{"on": cty.True, "who": cty.StringVal("app"), "u": cty.UnknownVal(cty.String)}}
	for _, tc := range []struct {
		become, user string
		want         Become
		err          string
	}{
		{"", "", Become{}, ""},
		{"true", "", Become{Enabled: true}, ""},
		{"false", "", Become{}, ""},
		{`"true"`, "", Become{Enabled: true}, ""}, // converted, as HCL does
		{"", `"postgres"`, Become{Enabled: true, User: "postgres"}, ""},
		{"false", "var.who", Become{User: "app"}, ""}, // become_user does not override become = false
		{"var.on", "var.who", Become{Enabled: true, User: "app"}, ""},
		{`"yes"`, "", Become{}, "Invalid become value: become must be true or false."},
		{"null", "", Become{}, "Invalid become value"},
		{"", "[1]", Become{}, "Invalid become_user value: become_user must be a user name."},
		{"", "var.u", Become{}, "Invalid become_user value"},
		{`"maybe"`, "null", Become{}, "Invalid become value: become must be true or false.\nInvalid become_user value: become_user must be a user name."},
		{"var.nope", "", Become{}, "Unsupported attribute"},
	} {
		t.Run(tc.become+"/"+tc.user, func(t *testing.T) {
			b, diags := evalBecome(expr(tc.become), expr(tc.user), scope)
			var msgs []string
			for _, d := range diags {
				msgs = append(msgs, d.Summary+": "+d.Detail)
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s", d.Summary)
				}
			}
			got := strings.Join(msgs, "\n")
			if tc.err == "" && got != "" || tc.err != "" && !strings.HasPrefix(got, tc.err) {
				t.Errorf("diagnostics %q, want %q", got, tc.err)
			}
			if tc.err == "" && *b != tc.want {
				t.Errorf("become = %+v, want %+v", *b, tc.want)
			}
		})
	}
}
