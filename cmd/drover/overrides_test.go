package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/inventory"
)

// TestOverridesSpareJumpHops: -u applies to the selected targets only; a
// bastion that is also selected keeps its inventory user as a jump hop.
func TestOverridesSpareJumpHops(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "inv.hcl")
	os.WriteFile(file, []byte(`
host "bastion" {
  address = "203.0.113.10"
  user    = "jumper"
}
host "web1" {
  address    = "10.0.0.11"
  user       = "deploy"
  proxy_jump = "bastion"
}
`), 0o644)
	inv, diags := inventory.Load([]string{file}, inventory.LoadOptions{Parser: hclparse.NewParser()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sel, err := inv.Select("all")
	if err != nil || len(sel) != 2 {
		t.Fatalf("select: %v %v", sel, err)
	}
	become := true
	hosts := withOverrides(sel, inventory.Overrides{User: "cli", Become: &become})
	for _, h := range hosts {
		tg, err := connect.Target(inv, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tg.User != "cli" || !tg.Become.Enabled {
			t.Errorf("%s: user %q become %v; want the CLI's", h.Name, tg.User, tg.Become.Enabled)
		}
		if h.Name == "web1" {
			if len(tg.Jumps) != 1 || tg.Jumps[0].User != "jumper" {
				t.Errorf("web1 jumps = %+v; want bastion as user jumper", tg.Jumps)
			}
		}
	}
	if sel[0].User != "jumper" && sel[1].User != "jumper" {
		t.Errorf("the inventory's hosts were changed in place")
	}
}

// TestCLIOverrides: the connection flags come from the inventory's field
// table, and only those given on the command line override anything.
func TestCLIOverrides(t *testing.T) {
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: nil, want: `"" <nil> "" <nil>`},
		{args: []string{"-u", "cli", "-b", "--become-user", "pg", "--connect-timeout", "3s"}, want: `"cli" true "pg" 3s`},
		{args: []string{"--become=false"}, want: `"" false "" <nil>`},
		{args: []string{"--connect-timeout", "soon"}, wantErr: `--connect-timeout "soon": want a duration such as 10s or 1m30s`},
	}
	for _, tc := range tests {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		registerConnectionFlags(cmd)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		ov, err := cliOverrides(cmd)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || exitCode(err) != exitUsage {
				t.Errorf("%v: err %v, want usage error %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		show := func(p any) string {
			switch v := p.(type) {
			case *bool:
				if v != nil {
					return fmt.Sprint(*v)
				}
			case *time.Duration:
				if v != nil {
					return v.String()
				}
			}
			return "<nil>"
		}
		got := fmt.Sprintf("%q %s %q %s", ov.User, show(ov.Become), ov.BecomeUser, show(ov.ConnectTimeout))
		if got != tc.want {
			t.Errorf("%v: overrides %s, want %s", tc.args, got, tc.want)
		}
	}
}
