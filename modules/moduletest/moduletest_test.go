package moduletest_test

import (
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/moduletest"
)

// ApplyTwice applies as engine/run does, through remote.ApplyAllThenCheck:
// the steps and the state read for the second plan go in one script, so a
// plan and an apply cost two round trips. Apply and then a CheckAll of its
// own (the path the module tests used to take) would cost three.
func TestApplyTwiceIsTheProductionPath(t *testing.T) {
	conn := moduletest.Local(t)
	m, _ := modules.Lookup("ini")
	p := filepath.Join(t.TempDir(), "app.ini")
	before := conn.Stats().RoundTrips
	plan, _ := moduletest.ApplyValues(t, conn, m, map[string]cty.Value{
		"path": cty.StringVal(p), "section": cty.StringVal("s"), "key": cty.StringVal("k"), "value": cty.StringVal("v"),
	})
	if !plan.Changed() {
		t.Fatal("the first plan changes nothing")
	}
	if n := conn.Stats().RoundTrips - before; n != 2 {
		t.Errorf("ApplyTwice took %d round trips, want 2 (a plan, then the apply with the second state read)", n)
	}
}
