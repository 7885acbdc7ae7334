package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestTerraformFlags(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"plan", "-i", "inv", "site.hcl", "-out", "p"}, []string{"plan", "-i", "inv", "site.hcl", "--out", "p"}},
		{[]string{"plan", "-out=p", "site.hcl"}, []string{"plan", "--out=p", "site.hcl"}},
		{[]string{"plan", "--out", "p"}, []string{"plan", "--out", "p"}},
		{[]string{"exec", "all", "--", "ls", "-out"}, []string{"exec", "all", "--", "ls", "-out"}},
		{[]string{"plan", "-outfile"}, []string{"plan", "-outfile"}},
	} {
		if got := terraformFlags(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("terraformFlags(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsPlanFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          bool
	}{
		{"plan", "drover-plan format 1\n{}\n", true},
		{"playbook", "play \"x\" {\n}\n", false},
		{"short", "drov", false},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := isPlanFile(p); got != tc.want {
			t.Errorf("isPlanFile(%s) = %v", tc.name, got)
		}
	}
	if isPlanFile(filepath.Join(dir, "missing")) {
		t.Error("a missing file is a plan")
	}
}
