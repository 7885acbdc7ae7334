package provision

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules"
)

// validateCases are playbooks whose provision blocks `drover validate`
// checks without credentials or network. Each is rendered as the CLI shows
// it (file:line:col, snippet, carets) into testdata/validate.txt.
var validateCases = []struct {
	name, src string
	errors    int // how many errors, 0 for a valid block
}{
	{"valid-with-unknown-variables", `
variable "pw" { sensitive = true }
variable "n" { type = number }
provision "linode_instance" "db" {
  count     = var.n
  name      = "db-${count.index}"
  region    = "eu-central"
  type      = "g6-nanode-1"
  image     = "linode/debian12"
  root_pass = var.pw
  tags      = ["role:db"]
}
`, 0},
	{"unknown-attribute", `
provision "digitalocean_droplet" "web" {
  name   = "web"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
  colour = "blue"
}
`, 1},
	{"wrong-type", `
provision "digitalocean_droplet" "web" {
  name   = "web"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
  tags   = "role:web"
}
`, 1},
	{"aws-missing-ami-and-type", `
provision "aws_instance" "api" {
  name = "api"
}
`, 2},
	{"linode-missing-root-pass", `
provision "linode_instance" "db" {
  name   = "db"
  region = "eu-central"
  type   = "g6-nanode-1"
  image  = "linode/debian12"
}
`, 1},
	{"linode-bad-label-and-short-password", `
provision "linode_instance" "db" {
  name      = "db--0"
  region    = "eu-central"
  type      = "g6-nanode-1"
  image     = "linode/debian12"
  root_pass = "abc"
}
`, 2},
	{"droplet-name-with-underscore", `
provision "digitalocean_droplet" "web" {
  name   = "web_0"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
}
`, 1},
	{"reserved-and-invalid-tags", `
provision "digitalocean_droplet" "web" {
  name   = "web"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
  tags   = ["drover:other:web", "role web"]
}
provision "linode_instance" "db" {
  name      = "db-0"
  region    = "eu-central"
  type      = "g6-nanode-1"
  image     = "linode/debian12"
  root_pass = "aComplexP@ssword"
  tags      = ["db"]
}
provision "aws_instance" "api" {
  name          = "api"
  ami           = "ami-0abcdef1234567890"
  instance_type = "t3.micro"
  tags          = ["aws:cloudformation:stack-name=x", "Name=api"]
}
`, 5},
	{"stack-not-fit-for-the-ownership-tag", `
provision "digitalocean_droplet" "web" {
  stack  = "my shop"
  name   = "web"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
}
`, 1},
	{"count-misuse", `
provision "digitalocean_droplet" "neg" {
  count  = -1
  name   = "neg"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
}
provision "digitalocean_droplet" "same" {
  count  = 2
  name   = "same"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
}
`, 2},
	{"for-each", `
provision "digitalocean_droplet" "each" {
  for_each = toset(["a", "b"])
  name     = "each"
  region   = "ams3"
  size     = "s-1vcpu-1gb"
  image    = "debian-12-x64"
}
`, 1},
	{"unknown-count-fixed-name-warns", `
variable "n" { type = number }
provision "digitalocean_droplet" "web" {
  count  = var.n
  name   = "web"
  region = "ams3"
  size   = "s-1vcpu-1gb"
  image  = "debian-12-x64"
}
`, 0},
	{"bad-port-and-host-reference", `
provision "digitalocean_droplet" "web" {
  name     = "web-${host.name}"
  region   = "ams3"
  size     = "s-1vcpu-1gb"
  image    = "debian-12-x64"
}
provision "digitalocean_droplet" "db" {
  name     = "db"
  region   = "ams3"
  size     = "s-1vcpu-1gb"
  image    = "debian-12-x64"
  ssh_port = 70000
}
`, 2},
	{"unknown-type", `
provision "gcp_vm" "x" {
  name = "x"
}
`, 1},
}

func TestValidateGolden(t *testing.T) {
	var out bytes.Buffer
	for _, tc := range validateCases {
		p := hclparse.NewParser()
		file := tc.name + ".hcl"
		f, diags := p.ParseHCL([]byte(strings.TrimPrefix(tc.src, "\n")), file)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", tc.name, diags)
		}
		pb, diags := config.Load(modules.Catalog(), t.TempDir(), f)
		if !diags.HasErrors() {
			vars, locals, ds := run.Globals(pb, nil)
			if ds.HasErrors() {
				t.Fatalf("%s: %v", tc.name, ds)
			}
			diags = append(diags, Validate(pb, vars, locals)...)
		}
		n := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				n++
			}
			if d.Subject == nil || d.Subject.Filename != file {
				t.Errorf("%s: diagnostic without a range in the file: %v", tc.name, d)
			}
		}
		if n != tc.errors {
			t.Errorf("%s: %d errors, want %d: %v", tc.name, n, tc.errors, diags)
		}
		fmt.Fprintf(&out, "=== %s (%d errors)\n", tc.name, n)
		if err := config.WriteDiagnostics(&out, p.Files(), diags, 100, false); err != nil {
			t.Fatal(err)
		}
	}
	golden.Check(t, filepath.Join("testdata", "validate.txt"), out.String())
}
