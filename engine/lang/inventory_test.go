package lang

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func testFleet() cty.Value {
	return InventoryValue([]FleetHost{
		{Name: "web2", Address: "10.0.0.2", Port: 22, User: "root", Groups: []string{"web", "all"}, Vars: map[string]cty.Value{"http_port": cty.NumberIntVal(8082)}},
		{Name: "lb1", Address: "10.0.0.9", Port: 2222, User: "ops", Groups: []string{"all", "lb"}},
		{Name: "web1", Address: "10.0.0.1", Port: 22, User: "root", Groups: []string{"all", "web"},
			Vars: map[string]cty.Value{"http_port": cty.NumberIntVal(8081), "token": Sensitive(cty.StringVal("s3cret"))}},
	})
}

func TestInventoryExpressions(t *testing.T) {
	scope := &Scope{Inventory: testFleet(), Host: HostValue(HostInfo{Name: "lb1"}), Functions: Functions(t.TempDir())}
	cases := []struct {
		expr      string
		want      string
		reads     []string
		sensitive bool
	}{
		// Groups list host names in inventory order, not sorted.
		{expr: `join(",", inventory.groups["web"])`, want: "web2,web1"},
		{expr: `join(",", inventory.groups["all"])`, want: "web2,lb1,web1"},
		{expr: `join(" ", [for h in inventory.groups["web"] : "${inventory.hosts[h].address}:${inventory.hosts[h].vars.http_port}"])`,
			want: "10.0.0.2:8082 10.0.0.1:8081", reads: []string{"web1", "web2"}},
		{expr: `"${inventory.hosts["lb1"].user}@${inventory.hosts["lb1"].port}"`, want: "ops@2222", reads: []string{"lb1"}},
		{expr: `join(",", inventory.hosts["web1"].groups)`, want: "all,web", reads: []string{"web1"}},
		// A host's name is not data read from it.
		{expr: `inventory.hosts["web1"].name`, want: "web1"},
		{expr: `inventory.hosts["web1"].vars.token`, want: "s3cret", reads: []string{"web1"}, sensitive: true},
		{expr: `inventory.hosts["web1"].facts == null ? "none" : "some"`, want: "none", reads: []string{"web1"}},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			e, diags := hclsyntax.ParseExpression([]byte(c.expr), "x.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v, diags := e.Value(scope.EvalContext())
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			reads, plain := HostsRead(v)
			if !reflect.DeepEqual(reads, c.reads) {
				t.Errorf("reads = %v; want %v", reads, c.reads)
			}
			if IsSensitive(plain) != c.sensitive {
				t.Errorf("sensitive = %v; want %v", IsSensitive(plain), c.sensitive)
			}
			plain, _ = plain.Unmark()
			if got := plain.AsString(); got != c.want {
				t.Errorf("= %q; want %q", got, c.want)
			}
		})
	}
}

func TestUnknownInventory(t *testing.T) {
	scope := &Scope{Inventory: UnknownInventory()}
	for _, src := range []string{`inventory.groups["web"]`, `inventory.hosts["a"].address`, `[for h in inventory.groups["web"] : inventory.hosts[h].port]`} {
		e, _ := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		v, diags := e.Value(scope.EvalContext())
		if diags.HasErrors() || v.IsWhollyKnown() {
			t.Errorf("%s = %#v, %v; want unknown", src, v, diags)
		}
	}
	// Without the inventory in scope the name does not exist.
	e, _ := hclsyntax.ParseExpression([]byte(`inventory.groups`), "x.hcl", hcl.InitialPos)
	if _, diags := e.Value((&Scope{}).EvalContext()); !diags.HasErrors() || !strings.Contains(diags.Error(), "inventory") {
		t.Errorf("inventory without a value: %v", diags)
	}
}
