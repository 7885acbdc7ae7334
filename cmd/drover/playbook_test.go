package main

// End-to-end tests of validate, plan, apply, graph and modules, run as a
// user would on this machine (the examples/local playbook, connection
// "local").

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writePlaybook(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateCommand(t *testing.T) {
	r := drover(t, "", "validate", "../../examples/local/site.hcl")
	if r.code != 0 || !strings.Contains(r.stdout, "The playbook is valid: 1 play") {
		t.Errorf("valid playbook: %+v", r)
	}
	bad := writePlaybook(t, "play \"p\" {\n  hosts = \"all\"\n  templat \"x\" {}\n}\n")
	r = drover(t, "", "validate", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "Error: Unknown module type") || !strings.Contains(r.stderr, `3:   templat "x" {}`) {
		t.Errorf("invalid playbook: %+v", r)
	}
	r = drover(t, "", "validate", "--compact-errors", bad)
	want := bad + `:3:3: error: Unknown module type: There is no module "templat". Did you mean "template"? Run "drover modules" to list every module.`
	if r.code != 1 || strings.SplitN(r.stderr, "\n", 2)[0] != want {
		t.Errorf("compact: %+v\nwant first line %s", r, want)
	}
}

func TestPlanApplyCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	args := []string{"-i", "../../examples/local/inventory.hcl", "../../examples/local/site.hcl", "--var", "dir=" + dir, "--var", "api_token=tok-9f8e7d"}
	r := drover(t, "", append([]string{"plan", "--detailed-exitcode"}, args...)...)
	if r.code != 2 || !strings.Contains(r.stdout, "Plan: 9 to create, 0 to update, 0 to delete, 1 to run.") {
		t.Fatalf("plan: %+v", r)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("plan changed the host")
	}
	r = drover(t, "", append([]string{"apply"}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "changed=11") {
		t.Fatalf("apply: %+v", r)
	}
	r2 := drover(t, "", append([]string{"apply"}, args...)...)
	if r2.code != 0 || !strings.Contains(r2.stdout, "ok=10 changed=0") {
		t.Errorf("second apply: %+v", r2)
	}
	r3 := drover(t, "", append([]string{"plan", "--detailed-exitcode"}, args...)...)
	if r3.code != 0 || !strings.Contains(r3.stdout, "Plan: 0 to create, 0 to update, 0 to delete, 0 to run.") {
		t.Errorf("plan after apply: %+v", r3)
	}
	for _, out := range []result{r, r2, r3} {
		if strings.Contains(out.stdout+out.stderr, "tok-9f8e7d") {
			t.Errorf("the secret appears in the output")
		}
	}
	// A bad value fails before any host is touched, with the variable's validation.
	r = drover(t, "", "plan", "-i", "../../examples/local/inventory.hcl", "../../examples/local/site.hcl", "--var", "dir=relative")
	if r.code != 1 || !strings.Contains(r.stderr, "dir must be an absolute path") {
		t.Errorf("invalid variable: %+v", r)
	}
}

func TestGraphAndModulesCommands(t *testing.T) {
	r := drover(t, "", "graph", "../../examples/local/site.hcl")
	if r.code != 0 || !strings.Contains(r.stdout, "digraph") || !strings.Contains(r.stdout, `label="directory.app"`) {
		t.Errorf("graph: %+v", r)
	}
	r = drover(t, "", "modules")
	if r.code != 0 || !strings.Contains(r.stdout, "template") || !strings.Contains(r.stdout, "directory") {
		t.Errorf("modules: %+v", r)
	}
	r = drover(t, "", "modules", "file")
	if r.code != 0 || !strings.Contains(r.stdout, "path (string, required)") || !strings.Contains(r.stdout, "Example:") {
		t.Errorf("modules file: %+v", r)
	}
	r = drover(t, "", "modules", "fiel")
	if r.code == 0 || !strings.Contains(r.stderr, `did you mean "file"`) {
		t.Errorf("modules fiel: %+v", r)
	}
}

// TestApplyInterrupt: one Ctrl-C lets the running task finish and starts no
// other; exit status 130.
func TestApplyInterrupt(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.hcl")
	os.WriteFile(inv, []byte("host \"me\" {\n  connection = \"local\"\n}\n"), 0o644)
	pb := writePlaybook(t, `
variable "dir" { type = string }
play "p" {
  hosts = "all"
  shell "slow" {
    run = "sleep 2; echo done > ${var.dir}/slow"
  }
  file "later" {
    path    = "${var.dir}/later"
    content = "x\n"
  }
}
`)
	cmd := exec.Command(droverBin(t), "apply", "-i", inv, pb, "--var", "dir="+dir)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 130 {
		t.Errorf("exit: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "slow")); err != nil {
		t.Errorf("the running task did not finish: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "later")); err == nil {
		t.Errorf("a task started after Ctrl-C\n%s", out.String())
	}
	if !strings.Contains(out.String(), "not run: the run was stopped") {
		t.Errorf("output does not say where it stopped:\n%s", out.String())
	}
}
