package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

const savedPlanPlaybook = `
variable "greeting" {
  type    = string
  default = "hello"
}
variable "token" {
  type      = string
  sensitive = true
}
play "motd" {
  hosts = "fleet"
  directory "etc" {
    path = "/etc/drover-plan"
  }
  template "motd" {
    source = "motd.tftpl"
    path   = "/etc/drover-plan/motd"
    vars   = { greeting = var.greeting, host = host.name }
  }
  file "token" {
    path    = "/etc/drover-plan/token"
    content = var.token
    mode    = "0600"
  }
}
`

// TestSavedPlanFleet: plan -out then apply FILE on two real sshd hosts. The
// plan applies exactly once; a host changed behind drover's back is refused
// with what moved while the other is applied; an edited template refuses
// the whole plan; --replan plans the moved host again; a secret is never
// in the file.
func TestSavedPlanFleet(t *testing.T) {
	f := integration.Start(t, 2)
	h1, h2 := f.Hosts[0], f.Hosts[1]
	inv := f.InventoryFile()
	dir := t.TempDir()
	site := writeFile(t, dir, "site.hcl", savedPlanPlaybook)
	writeFile(t, dir, "motd.tftpl", "${greeting} from ${host}\n")
	const token = "tok-Very-Secret-4242"
	env := []string{"DROVER_VAR_token=" + token}
	kh := []string{"--known-hosts", f.KnownHostsFile}
	run := func(args ...string) result {
		t.Helper()
		return droverWith(t, "", env, append(args, kh...)...)
	}
	plan := func(name string, extra ...string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		r := run(append([]string{"plan", "-i", inv, site, "-out", p}, extra...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "Saved the plan to "+p) {
			t.Fatalf("plan -out: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		return p
	}
	motd := func(h *integration.Host) string { return h.Exec(t, "cat /etc/drover-plan/motd 2>/dev/null || true") }

	// The file: 0600, no secret in its bytes, and a plan for both hosts.
	p1 := plan("first.plan")
	st, err := os.Stat(p1)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file mode: %v %v", st, err)
	}
	data, _ := os.ReadFile(p1)
	if strings.Contains(string(data), token) {
		t.Fatalf("the secret is in the plan file:\n%s", data)
	}
	for _, s := range []string{`"name": "` + h1.Name + `"`, `"name": "` + h2.Name + `"`, `"state_digest"`, "motd.tftpl", `"name": "token"`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("the plan file has no %s", s)
		}
	}
	if motd(h1) != "" {
		t.Fatal("plan changed a host")
	}
	// show prints it for a reviewer, connecting to nothing.
	r := drover(t, "", "show", p1)
	for _, s := range []string{"Plan " + p1 + ", made ", "Variable token: (sensitive; read again at apply from DROVER_VAR_token)",
		"local     " + filepath.Join(dir, "motd.tftpl"), h2.Name + " | play motd | 3 to create", "+hello from " + h2.Name, "Plan: 6 to create"} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Errorf("show: exit %d, no %q in\n%s%s", r.code, s, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, token) {
		t.Error("show prints the secret")
	}

	// Applied, then refused as applied: a plan is applied once.
	r = run("apply", p1)
	if r.code != 0 || strings.Count(r.stdout, "changed | template.motd") != 2 || !strings.Contains(r.stdout, "Applying "+p1+" (planned ") {
		t.Fatalf("apply FILE: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := motd(h2); got != "hello from "+h2.Name+"\n" {
		t.Fatalf("%s motd %q", h2.Name, got)
	}
	if got := h1.Exec(t, "cat /etc/drover-plan/token"); got != token {
		t.Fatalf("token on %s: %q", h1.Name, got)
	}
	r = run("apply", p1)
	if r.code != 1 || !strings.Contains(r.stderr, "was applied already") || strings.Contains(r.stdout, "changed") {
		t.Fatalf("second apply FILE: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// The flags the plan fixes are refused, and so is a plan made without
	// the secret's source at apply.
	r = run("apply", p1, "-i", inv)
	if r.code != exitUsage || !strings.Contains(r.stderr, "drop --inventory") {
		t.Errorf("apply FILE -i: exit %d\n%s", r.code, r.stderr)
	}

	// A host changed behind drover's back is refused with what moved; the
	// other host is applied.
	p2 := plan("second.plan", "--var", "greeting=bonjour")
	h1.Exec(t, "echo edited by hand > /etc/drover-plan/motd")
	r = run("apply", p2)
	if r.code != 1 {
		t.Fatalf("apply of a stale plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, s := range []string{
		h1.Name + " | failed",
		"refused: the saved plan no longer holds on this host",
		"template.motd: the host's state moved",
		"- planned: state: file 0644 root:root " + strconv.Itoa(len("hello from "+h1.Name+"\n")) + " bytes sha256:" + sum12("hello from "+h1.Name+"\n") + "; plan: update /etc/drover-plan/motd",
		"+ now:     state: file 0644 root:root " + strconv.Itoa(len("edited by hand\n")) + " bytes sha256:" + sum12("edited by hand\n") + "; plan: update /etc/drover-plan/motd",
		h2.Name + " | changed | template.motd",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stale apply does not say %q:\n%s", s, r.stdout)
		}
	}
	if got := motd(h1); got != "edited by hand\n" {
		t.Errorf("the refused host was changed: %q", got)
	}
	if got := motd(h2); got != "bonjour from "+h2.Name+"\n" {
		t.Errorf("the other host was not applied: %q", got)
	}

	// An edited template refuses the whole plan, naming the file.
	p3 := plan("third.plan", "--var", "greeting=hola")
	writeFile(t, dir, "motd.tftpl", "${greeting}, ${host}!\n")
	r = run("apply", p3)
	if r.code != 1 || !strings.Contains(r.stderr, "local "+filepath.Join(dir, "motd.tftpl")+" (modified)") {
		t.Fatalf("apply after a template edit: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := motd(h2); got != "bonjour from "+h2.Name+"\n" {
		t.Errorf("a refused plan changed a host: %q", got)
	}
	// So does an edited playbook.
	p3 = plan("third.plan", "--var", "greeting=hola")
	writeFile(t, dir, "site.hcl", savedPlanPlaybook+"\n# reviewed\n")
	r = run("apply", p3)
	if r.code != 1 || !strings.Contains(r.stderr, "playbook "+site+" (modified)") {
		t.Fatalf("apply after a playbook edit: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// --replan plans the moved host again and applies it.
	p4 := plan("fourth.plan", "--var", "greeting=hola")
	h1.Exec(t, "echo edited again > /etc/drover-plan/motd")
	r = run("apply", p4, "--replan")
	if r.code != 0 || !strings.Contains(r.stdout, "re-planned (--replan)") || strings.Count(r.stdout, "changed | template.motd") != 2 {
		t.Fatalf("apply --replan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range f.Hosts {
		if got := motd(h); got != "hola, "+h.Name+"!\n" {
			t.Errorf("%s after --replan: %q", h.Name, got)
		}
	}

	// Nothing left to do: the plan says so, and so does apply.
	p5 := filepath.Join(dir, "fifth.plan")
	r = run("plan", "-i", inv, site, "--var", "greeting=hola", "--out", p5)
	if r.code != 0 || !strings.Contains(r.stdout, "Saved the plan to "+p5+": it has nothing to do.") {
		t.Fatalf("plan -out, no changes: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run("apply", p5)
	if r.code != 0 || !strings.Contains(r.stdout, "No changes: "+p5) {
		t.Fatalf("apply of an empty plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestSavedPlanLocal: what apply FILE refuses before any host is touched
// (variables that moved, flags the plan fixes), what plan -out refuses, and
// a later play whose state an earlier play changed (applied, not refused).
func TestSavedPlanLocal(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	inv := writeFile(t, dir, "inv.hcl", "host \"l1\" {\n  connection = \"local\"\n}\n")
	site := writeFile(t, dir, "site.hcl", `
variable "colour" {
  type    = string
  default = "red"
}
variable "token" {
  type      = string
  sensitive = true
  default   = "unset-token"
}
play "one" {
  hosts = "all"
  file "x" {
    path    = "`+target+`"
    content = "first ${var.colour}\n"
  }
}
play "two" {
  hosts = "all"
  file "x" {
    path    = "`+target+`"
    content = "second ${var.colour}\n"
  }
}
`)
	env := []string{"DROVER_VAR_colour=blue", "DROVER_VAR_token=tok-Local-777"}
	p := filepath.Join(dir, "site.plan")
	r := droverWith(t, "", env, "plan", "-i", inv, site, "-out", p)
	if r.code != 0 {
		t.Fatalf("plan -out: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if data, _ := os.ReadFile(p); strings.Contains(string(data), "tok-Local-777") || !strings.Contains(string(data), `"value": "blue"`) {
		t.Fatalf("plan file: the secret is in it, or the clear variable is not:\n%s", data)
	}

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"secret not given", []string{"DROVER_VAR_colour=blue"}, nil, 1, "token (from DROVER_VAR_token) is no longer given"},
		{"secret changed", []string{"DROVER_VAR_colour=blue", "DROVER_VAR_token=tok-Changed-1"}, nil, 1, "token (from DROVER_VAR_token) has another value"},
		{"variable changed", []string{"DROVER_VAR_colour=green", "DROVER_VAR_token=tok-Local-777"}, nil, 1, "colour (from DROVER_VAR_colour) has another value"},
		{"flags the plan fixes", env, []string{"--var", "colour=x", "--limit", "l1"}, exitUsage, "drop --limit, --var"},
		{"a playbook too", env, []string{site}, exitUsage, "a plan file is applied alone"},
	} {
		r := droverWith(t, "", tc.env, append([]string{"apply", p}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q\n%s%s", tc.name, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a refused plan changed the host")
	}

	// Play two's state was moved by play one: expected, so applied.
	r = droverWith(t, "", env, "apply", p)
	if r.code != 0 || !strings.Contains(r.stdout, "Applying "+p+" (planned ") {
		t.Fatalf("apply FILE: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != "second blue\n" {
		t.Errorf("target: %q", got)
	}

	r = droverWith(t, "", env, "plan", "-i", inv, site, "-out", p, "--var", "token=abc")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--var token sets a sensitive variable") {
		t.Errorf("plan -out --var SECRET: exit %d\n%s", r.code, r.stderr)
	}
	r = droverWith(t, "", env, "apply", "-i", inv, site, "--replan")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--replan is for applying a plan file") {
		t.Errorf("--replan without a plan: exit %d\n%s", r.code, r.stderr)
	}
}

func sum12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}
