package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/integration"
)

// Provision then configure, through the binary: one instance on each of the
// three providers (spec-validated fakes in this process), whose addresses are
// fleet hosts, so that the configure play really runs over SSH. Then a second
// apply creates nothing, and destroy deletes exactly what was created.
func TestCLIProvisionConfigureDestroy(t *testing.T) {
	f := integration.Start(t, 3)
	loop := cloudtest.Options{Address: func(int) string { return "127.0.0.1" }}
	do, err := cloudtest.NewDigitalOcean(loop)
	if err != nil {
		t.Fatal(err)
	}
	defer do.Close()
	li, err := cloudtest.NewLinode(loop)
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	ec := cloudtest.NewEC2(loop)
	defer ec.Close()
	// The EC2 fake prints the fleet host's keys in the console output, as
	// cloud-init does, when it can (cloud.HostKeyReader).
	apiKeys := "host key trusted on first use"
	if s, ok := any(ec).(interface{ SetEC2HostKeys(func(int) []string) }); ok {
		key := strings.Fields(f.Hosts[2].KnownHostsLine())
		s.SetEC2HostKeys(func(int) []string { return []string{strings.Join(key[1:], " ")} })
		apiKeys = "host key from the provider's API"
	}
	t.Setenv("DIGITALOCEAN_TOKEN", "do-secret-token")
	t.Setenv("LINODE_TOKEN", "linode-secret-token")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")

	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.hcl", fmt.Sprintf("defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile))
	pb := writeFile(t, t.TempDir(), "site.hcl", fmt.Sprintf(`
variable "web_size" { default = "s-1vcpu-1gb" }
provision "digitalocean_droplet" "web" {
  stack    = "e2e"
  name     = "web-${count.index}"
  count    = 1
  region   = "ams3"
  size     = var.web_size
  image    = "debian-12-x64"
  tags     = ["role:web"]
  groups   = ["web"]
  endpoint = %q
  ssh_port = %d
}
provision "linode_instance" "app" {
  stack           = "e2e"
  name            = "app-0"
  region          = "eu-central"
  type            = "g6-nanode-1"
  image           = "linode/debian12"
  root_pass       = "aComplexP@ssword"
  authorized_keys = [%q]
  groups          = ["web"]
  endpoint        = %q
  ssh_port        = %d
}
provision "aws_instance" "api" {
  stack         = "e2e"
  name          = "api-0"
  region        = "us-east-1"
  instance_type = "t3.micro"
  ami           = "ami-0abcdef1234567890"
  groups        = ["web"]
  endpoint      = %q
  ssh_port      = %d
}
play "configure" {
  hosts = "web"
  file "marker" {
    path    = "/etc/drover-provisioned"
    content = "${host.name}\n"
  }
}
`, do.URL, f.Hosts[0].Port, strings.TrimSpace(f.PublicKey), li.URL, f.Hosts[1].Port, ec.URL, f.Hosts[2].Port))
	kh := writeFile(t, dir, "known_hosts", "")
	args := []string{"-i", inv, "--known-hosts", kh, pb}

	// Nothing exists yet: the plan shows the creates, and the play that
	// will configure them selecting no host yet is not an error.
	r := drover(t, "", append([]string{"plan", "--detailed-exitcode"}, args...)...)
	if r.code != 2 {
		t.Errorf("plan --detailed-exitcode: exit %d, want 2 (changes)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"+ create 1 droplet: web-0", "+ create 1 linode: app-0", "+ create 1 instance: api-0",
		// The summary counts the instances, not only the tasks.
		"Plan: 3 to create, 0 to update, 0 to delete, 0 to run."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not say %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	// So does the JSON plan_summary.
	r = drover(t, "", append([]string{"plan", "--json"}, args...)...)
	if events := parseEvents(t, r.stdout); len(events) == 0 || events[len(events)-1]["kind"] != "plan_summary" ||
		fmt.Sprint(events[len(events)-1]["detail"].(map[string]any)["create"]) != "3" {
		t.Errorf("plan --json: the summary does not count the 3 instances:\n%s\n%s", r.stdout, r.stderr)
	}

	r = drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for i, name := range []string{"web-0", "app-0", "api-0"} {
		if got := f.Hosts[i].Exec(t, "cat /etc/drover-provisioned"); got != name+"\n" {
			t.Errorf("%s: the configure play wrote %q", name, got)
		}
		keys := "host key trusted on first use"
		if name == "api-0" {
			keys = apiKeys
		}
		if want := fmt.Sprintf("ready %s at 127.0.0.1:%d (%s)", name, f.Hosts[i].Port, keys); !strings.Contains(r.stdout, want) {
			t.Errorf("apply output does not say %q:\n%s", want, r.stdout)
		}
	}
	known := readKnown(t, kh)
	for _, h := range f.Hosts {
		key := strings.Fields(h.KnownHostsLine())
		if !strings.Contains(known, key[len(key)-1]) {
			t.Errorf("known_hosts lacks %s's key:\n%s", h.Name, known)
		}
	}
	for _, secret := range []string{"do-secret-token", "linode-secret-token", "wJalrXUtnFEMI"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("output shows a credential")
		}
	}

	// Idempotent: nothing is created the second time.
	r = drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 || strings.Contains(r.stdout, "created ") || !strings.Contains(r.stdout, "= 1 droplet exists: web-0") {
		t.Errorf("second apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []*cloudtest.Server{do, li, ec} {
		if _, creates, _ := s.Counts(); creates != 1 {
			t.Errorf("%s: %d instances created, want 1", s.URL, creates)
		}
	}

	// Resize: planned with what it does, applied, then nothing to do.
	bigger := append([]string{"--var", "web_size=s-2vcpu-4gb"}, args...)
	r = drover(t, "", append([]string{"plan"}, bigger...)...)
	if want := "~ resize web-0: s-1vcpu-1gb → s-2vcpu-4gb (power off → resize CPU, memory and disk → power on"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("plan of a resize: exit %d, want %q\n%s\n%s", r.code, want, r.stdout, r.stderr)
	}
	r = drover(t, "", append([]string{"apply"}, bigger...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "resized web-0 (id ") || !strings.Contains(r.stdout, "to s-2vcpu-4gb") {
		t.Errorf("apply of a resize: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = drover(t, "", append([]string{"plan", "--detailed-exitcode"}, bigger...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "= 1 droplet exists: web-0") {
		t.Errorf("plan after the resize: exit %d, want 0 (no change)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A resize the API refuses (the disk cannot shrink): its message and
	// the block's file:line, exit 1.
	r = drover(t, "", append([]string{"apply"}, args...)...)
	for _, want := range []string{"site.hcl:3", "resizing web-0", "HTTP 422", "a disk cannot shrink"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("refused resize: exit %d, stderr does not say %q\n%s\n%s", r.code, want, r.stdout, r.stderr)
		}
	}

	r = drover(t, "", "destroy", pb)
	if r.code != 0 || !strings.Contains(r.stdout, "- destroy web-0") || !strings.Contains(r.stdout, "--yes") {
		t.Errorf("destroy without --yes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = drover(t, "", "destroy", "--yes", pb)
	if r.code != 0 || !strings.Contains(r.stdout, "3 destroyed") {
		t.Errorf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []*cloudtest.Server{do, li, ec} {
		if _, _, deletes := s.Counts(); deletes != 1 {
			t.Errorf("%s: %d deleted, want 1", s.URL, deletes)
		}
		s.AssertValid(t)
	}
}

func readKnown(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A failure after some instances were created (the account's droplet limit)
// lists them, tagged; the next apply creates only what is missing.
func TestCLIProvisionPartialFailureConverges(t *testing.T) {
	f := integration.Start(t, 1)
	do, err := cloudtest.NewDigitalOcean(cloudtest.Options{Address: func(int) string { return "127.0.0.1" }, InstanceLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer do.Close()
	t.Setenv("DIGITALOCEAN_TOKEN", "do-secret-token")
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.hcl", fmt.Sprintf("defaults {\n  user = \"root\"\n  identity_file = %q\n}\n", f.KeyFile))
	pb := writeFile(t, t.TempDir(), "site.hcl", fmt.Sprintf(`
provision "digitalocean_droplet" "web" {
  stack    = "partial"
  name     = "web-${count.index}"
  count    = 3
  region   = "ams3"
  size     = "s-1vcpu-1gb"
  image    = "debian-12-x64"
  groups   = ["web"]
  endpoint = %q
  ssh_port = %d
}
play "configure" {
  hosts = "web"
  file "marker" {
    path    = "/tmp/drover-${host.name}"
    content = "ok\n"
  }
}
`, do.URL, f.Hosts[0].Port))
	kh := writeFile(t, dir, "known_hosts", "")
	args := []string{"apply", "-i", inv, "--known-hosts", kh, pb}

	r := drover(t, "", args...)
	if r.code != 1 || strings.Count(r.stdout, "  created web-") != 2 {
		t.Fatalf("apply over the limit: exit %d, want 1 with 2 created\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"2 instances created before the failure", "keep their ownership tag drover:partial:web"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply output does not say %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"site.hcl:2", "droplet limit", "HTTP 422"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error does not say %q:\n%s", want, r.stderr)
		}
	}

	do.SetInstanceLimit(0)
	r = drover(t, "", args...)
	if r.code != 0 || !strings.Contains(r.stdout, "+ create 1 droplet") || strings.Count(r.stdout, "  created web-") != 1 {
		t.Errorf("next apply: exit %d, want 1 droplet created\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, creates, _ := do.Counts(); creates != 3 {
		t.Errorf("%d droplets created in all, want 3", creates)
	}
	if got := f.Hosts[0].Exec(t, "cat /tmp/drover-web-0 /tmp/drover-web-1 /tmp/drover-web-2"); got != "ok\nok\nok\n" {
		t.Errorf("the play wrote %q", got)
	}
	do.AssertValid(t)
}

// validate checks provision blocks without credentials or network: the
// example is valid; a block missing what its provider requires, with a tag
// the API would refuse, is reported with file:line:col.
func TestCLIValidateProvision(t *testing.T) {
	for _, v := range []string{"DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "LINODE_TOKEN", "AWS_ACCESS_KEY_ID"} {
		t.Setenv(v, "")
	}
	r := drover(t, "", "validate", "../../examples/cloud/site.hcl")
	if r.code != 0 || !strings.Contains(r.stdout, "The playbook is valid") {
		t.Errorf("validate the cloud example: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	bad := writeFile(t, t.TempDir(), "site.hcl", `
provision "linode_instance" "db" {
  name   = "db-0"
  region = "eu-central"
  type   = "g6-nanode-1"
  image  = "linode/debian12"
  tags   = ["db"]
}
provision "aws_instance" "api" {
  name          = "api"
  instance_type = 3
  amis          = "ami-0abcdef1234567890"
}
`)
	r = drover(t, "", "validate", "--compact-errors", bad)
	for _, want := range []string{
		"site.hcl:2:34: error: Missing required argument",
		`The argument "root_pass" is required`,
		"site.hcl:9:32: error: Missing required argument",
		`The argument "ami" is required`,
		"site.hcl:12:3: error: Unsupported argument",
	} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("validate: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	bad = writeFile(t, t.TempDir(), "tags.hcl", `
provision "linode_instance" "db" {
  name      = "db-0"
  region    = "eu-central"
  type      = "g6-nanode-1"
  image     = "linode/debian12"
  root_pass = "aComplexP@ssword"
  tags      = ["db"]
}
`)
	r = drover(t, "", "validate", bad)
	for _, want := range []string{"Invalid tag", "tags.hcl line 8", `tags      = ["db"]`, "Linode tags are 3 to 50 characters"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("validate: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
}
