package run

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/inventory"
)

// rolling is a play's rolling-update setting: hosts go in batches of serial
// (a count or a percentage of the play's hosts), and once more than max_fail
// hosts of the play have failed no further batch starts.
type rolling struct {
	play string
	// serial and serialPct: a count, or a percentage when serialPct; 0 means
	// all hosts in one batch.
	serial    int
	serialPct bool
	// maxFail is the number of failed hosts tolerated (percentage when
	// maxFailPct); -1 means no limit.
	maxFail    int
	maxFailPct bool
	// held says, per host that was never started, why.
	held map[string]string
}

// rollingOf evaluates a play's serial and max_fail (they may use var.* and
// local.*, not host.*).
func (r *runner) rollingOf(pl *config.Play, vars, locals map[string]cty.Value) (*rolling, hcl.Diagnostics) {
	return rollingIn(pl, &lang.Scope{Vars: vars, Locals: locals, Functions: r.funcs})
}

// validateRolling checks serial and max_fail for Validate; values still
// unknown there (a variable without a value) are not errors.
func validateRolling(pl *config.Play, s *lang.Scope) hcl.Diagnostics {
	_, diags := rollingIn(pl, s)
	return diags
}

func rollingIn(pl *config.Play, s *lang.Scope) (*rolling, hcl.Diagnostics) {
	ro := &rolling{play: pl.Name, maxFail: -1}
	var diags hcl.Diagnostics
	read := func(e hcl.Expression, what string) (n int, pct bool, ok bool) {
		if e == nil {
			return 0, false, false
		}
		v, ds := e.Value(s.EvalContext())
		if ds.HasErrors() {
			diags = append(diags, ds...)
			return 0, false, false
		}
		if !v.IsWhollyKnown() {
			return 0, false, false // only in validate
		}
		n, pct, err := countOrPercent(v)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + what + " value",
				Detail: err.Error(), Subject: e.Range().Ptr()})
			return 0, false, false
		}
		return n, pct, true
	}
	if n, pct, ok := read(pl.Serial, "serial"); ok {
		if n == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid serial value",
				Detail: "serial must be at least 1 host or 1%; leave it out to run all hosts at once.", Subject: pl.Serial.Range().Ptr()})
		}
		ro.serial, ro.serialPct = n, pct
		ro.maxFail = 0 // a rolling update stops at the first failure unless told otherwise
	}
	if n, pct, ok := read(pl.MaxFail, "max_fail"); ok {
		ro.maxFail, ro.maxFailPct = n, pct
	}
	return ro, diags
}

// countOrPercent reads 2, "2" or "40%".
func countOrPercent(v cty.Value) (n int, pct bool, err error) {
	if v.IsNull() || !v.IsKnown() {
		return 0, false, fmt.Errorf("want a number of hosts or a percentage like \"25%%\", not null")
	}
	var s string
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || i < 0 {
			return 0, false, fmt.Errorf("want a whole number of hosts (0 or more), not %s", bf.String())
		}
		return int(i), false, nil
	case cty.String:
		s = strings.TrimSpace(v.AsString())
	default:
		return 0, false, fmt.Errorf("want a number of hosts or a percentage like \"25%%\", not a %s", v.Type().FriendlyName())
	}
	num := strings.TrimSuffix(s, "%")
	pct = num != s
	i, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || i < 0 || (pct && i > 100) {
		return 0, false, fmt.Errorf("want a number of hosts or a percentage from 0%% to 100%%, not %q", s)
	}
	return i, pct, nil
}

// batches splits hosts into the rolling batches.
func (ro *rolling) batches(hosts []*inventory.Host) [][]*inventory.Host {
	size := len(hosts)
	if ro != nil && ro.serial > 0 {
		size = ro.serial
		if ro.serialPct {
			size = max(1, int(math.Floor(float64(len(hosts))*float64(ro.serial)/100)))
		}
	}
	var out [][]*inventory.Host
	for len(hosts) > 0 {
		n := min(size, len(hosts))
		out = append(out, hosts[:n])
		hosts = hosts[n:]
	}
	return out
}

// limit is the number of failed hosts tolerated among n, -1 for no limit.
func (ro *rolling) limit(n int) int {
	if ro == nil || ro.maxFail < 0 {
		return -1
	}
	if ro.maxFailPct {
		return int(math.Floor(float64(n) * float64(ro.maxFail) / 100))
	}
	return ro.maxFail
}

// heldMsg says why a host of the play was never started, "" when it was not
// held back by max_fail.
func (ro *rolling) heldMsg(host string) string {
	if ro == nil {
		return ""
	}
	return ro.held[host]
}

// runBatches runs fn on hosts batch after batch (fanout.Run within a
// batch). When, after a batch, more hosts of the play have failed than
// max_fail allows, the remaining hosts are not started: their Outcomes say
// Started false, and heldMsg says why.
func runBatches(ctx context.Context, ro *rolling, hosts []*inventory.Host, forks int, fn func(context.Context, *inventory.Host) error) []fanout.Outcome {
	bs := ro.batches(hosts)
	if len(bs) <= 1 && ro.limit(len(hosts)) < 0 {
		return fanout.Run(ctx, hosts, forks, fn)
	}
	limit := ro.limit(len(hosts))
	outs := make([]fanout.Outcome, 0, len(hosts))
	failed := 0
	for i, b := range bs {
		if i > 0 && limit >= 0 && failed > limit {
			why := fmt.Sprintf("not started: %d host(s) of play %q failed in the batches before (max_fail %d); this host was left as it was", failed, ro.play, limit)
			if ro.held == nil {
				ro.held = map[string]string{}
			}
			for _, h := range b {
				ro.held[h.Name] = why
				outs = append(outs, fanout.Outcome{})
			}
			continue
		}
		got := fanout.Run(ctx, b, forks, fn)
		for _, o := range got {
			if o.Err != nil {
				failed++
			}
		}
		outs = append(outs, got...)
	}
	return outs
}
