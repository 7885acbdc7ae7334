package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

func TestCountOrPercent(t *testing.T) {
	cases := []struct {
		v    cty.Value
		n    int
		pct  bool
		fail string
	}{
		{cty.NumberIntVal(2), 2, false, ""},
		{cty.StringVal("3"), 3, false, ""},
		{cty.StringVal("40%"), 40, true, ""},
		{cty.StringVal("150%"), 0, false, "0% to 100%"},
		{cty.NumberFloatVal(1.5), 0, false, "whole number"},
		{cty.NumberIntVal(-1), 0, false, "whole number"},
		{cty.StringVal("half"), 0, false, "percentage"},
		{cty.True, 0, false, "not a bool"},
		{cty.NullVal(cty.String), 0, false, "not null"},
	}
	for _, c := range cases {
		n, pct, err := countOrPercent(c.v)
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) {
				t.Errorf("%#v: got %v, want an error with %q", c.v, err, c.fail)
			}
			continue
		}
		if err != nil || n != c.n || pct != c.pct {
			t.Errorf("%#v: got %d %v %v, want %d %v", c.v, n, pct, err, c.n, c.pct)
		}
	}
}

func hostsN(n int) []*inventory.Host {
	var hs []*inventory.Host
	for i := 1; i <= n; i++ {
		hs = append(hs, &inventory.Host{Name: fmt.Sprintf("h%d", i)})
	}
	return hs
}

func TestBatches(t *testing.T) {
	sizes := func(bs [][]*inventory.Host) string {
		var s []string
		for _, b := range bs {
			s = append(s, fmt.Sprint(len(b)))
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		ro   *rolling
		n    int
		want string
	}{
		{nil, 5, "5"},
		{&rolling{serial: 2}, 5, "2,2,1"},
		{&rolling{serial: 40, serialPct: true}, 5, "2,2,1"},
		{&rolling{serial: 10, serialPct: true}, 5, "1,1,1,1,1"},
		{&rolling{serial: 9}, 5, "5"},
	}
	for _, c := range cases {
		if got := sizes(c.ro.batches(hostsN(c.n))); got != c.want {
			t.Errorf("%+v on %d hosts: batches %s, want %s", c.ro, c.n, got, c.want)
		}
	}
}

func TestRunBatches(t *testing.T) {
	cases := []struct {
		name    string
		ro      *rolling
		failing map[string]bool
		ran     string // hosts started, in batch order
		held    int
	}{
		{"all good", &rolling{play: "p", serial: 2}, nil, "h1 h2|h3 h4|h5", 0},
		{"fail in first batch stops", &rolling{play: "p", serial: 2}, map[string]bool{"h2": true}, "h1 h2", 3},
		{"max_fail 1 tolerates one", &rolling{play: "p", serial: 2, maxFail: 1}, map[string]bool{"h2": true}, "h1 h2|h3 h4|h5", 0},
		{"max_fail 1 stops at two", &rolling{play: "p", serial: 2, maxFail: 1}, map[string]bool{"h1": true, "h3": true}, "h1 h2|h3 h4", 1},
		{"max_fail 20%", &rolling{play: "p", serial: 1, maxFail: 20, maxFailPct: true}, map[string]bool{"h1": true, "h2": true}, "h1|h2", 3},
		{"no serial, no limit", &rolling{play: "p", maxFail: -1}, map[string]bool{"h1": true}, "h1 h2 h3 h4 h5", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var batch []string
			var ran []string
			outs := runBatches(context.Background(), c.ro, hostsN(5), 1, func(_ context.Context, h *inventory.Host) error {
				mu.Lock()
				defer mu.Unlock()
				batch = append(batch, h.Name)
				if c.failing[h.Name] {
					return errors.New("boom")
				}
				return nil
			})
			// Regroup the started hosts by the batches they were in.
			i := 0
			for _, b := range c.ro.batches(hostsN(5)) {
				var names []string
				for range b {
					if i < len(batch) {
						names = append(names, batch[i])
					}
					i++
				}
				if len(names) > 0 {
					ran = append(ran, strings.Join(names, " "))
				}
			}
			if got := strings.Join(ran, "|"); got != c.ran {
				t.Errorf("ran %s, want %s", got, c.ran)
			}
			held := 0
			for j, o := range outs {
				if !o.Started {
					held++
					if !strings.Contains(c.ro.heldMsg(fmt.Sprintf("h%d", j+1)), "max_fail") {
						t.Errorf("h%d: held without a reason", j+1)
					}
				}
			}
			if held != c.held || len(outs) != 5 {
				t.Errorf("%d of %d outcomes not started, want %d of 5", held, len(outs), c.held)
			}
		})
	}
}

// TestValidateRolling: serial and max_fail are checked by validate, with a
// diagnostic at the attribute.
func TestValidateRolling(t *testing.T) {
	cases := []struct{ src, want string }{
		{`serial = 2
  max_fail = "10%"`, ""},
		{`serial = var.batch`, ""}, // unknown until given
		{`serial = "150%"`, `site.hcl:3:12: error: Invalid serial value: want a number of hosts or a percentage from 0% to 100%, not "150%"`},
		{`serial = 0`, `site.hcl:3:12: error: Invalid serial value: serial must be at least 1 host or 1%; leave it out to run all hosts at once.`},
		{`max_fail = 1.5`, `site.hcl:3:14: error: Invalid max_fail value: want a whole number of hosts (0 or more), not 1.5`},
		{`serial = ["a"]`, `site.hcl:3:12: error: Invalid serial value: want a number of hosts or a percentage like "25%", not a tuple`},
	}
	for _, c := range cases {
		dir := t.TempDir()
		src := "variable \"batch\" {}\nplay \"p\" {\n  " + c.src + "\n  hosts = \"all\"\n}\n"
		os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(src), 0o644)
		p := hclparse.NewParser()
		pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
		if diags.HasErrors() {
			t.Fatalf("load: %v", diags)
		}
		in, diags := ParseInputs(p, pb, nil, nil, nil)
		if !diags.HasErrors() {
			diags = Validate(pb, in)
		}
		var got []string
		for _, d := range diags {
			got = append(got, strings.ReplaceAll(config.Compact(d), filepath.Join(dir, "site.hcl"), "site.hcl"))
		}
		if strings.Join(got, "\n") != c.want {
			t.Errorf("%s:\n got: %s\nwant: %s", c.src, strings.Join(got, "\n      "), c.want)
		}
	}
}
