package run

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
)

// Globals evaluates the variables and locals that do not depend on a host,
// for blocks evaluated once per run rather than per host (provision blocks).
func Globals(pb *config.Playbook, in Inputs) (vars, locals map[string]cty.Value, diags hcl.Diagnostics) {
	return newRunner(Options{Playbook: pb, Inputs: in}, nil).globals()
}
