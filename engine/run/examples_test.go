package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
)

// TestModuleExamplesValidate: the example of every module (shown by
// `drover modules NAME`) is a valid task in a play.
func TestModuleExamplesValidate(t *testing.T) {
	for _, m := range modules.All() {
		s := m.Spec()
		t.Run(s.Name, func(t *testing.T) {
			if s.Example == "" {
				t.Fatalf("module %s has no example", s.Name)
			}
			dir := t.TempDir()
			// Examples may name local files (a template's source, a copy's
			// source): give them something to read.
			for _, f := range []string{"templates/site.conf.tmpl", "dist/app-1.4.2.tar.gz", "files/site/index.html", "keys/app_deploy"} {
				os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
				os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600)
			}
			src := "variable \"site\" { default = \"example.org\" }\nplay \"p\" {\n  hosts = \"all\"\n" + s.Example + "\n}\n"
			os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(src), 0o644)
			p := hclparse.NewParser()
			pb, diags := config.LoadFiles(p, modules.Catalog(), filepath.Join(dir, "site.hcl"))
			if !diags.HasErrors() {
				diags = Validate(pb, nil)
			}
			for _, d := range diags {
				if d.Severity == 1 {
					t.Errorf("%s", config.Compact(d))
				}
			}
		})
	}
}
