package main

// End-to-end tests of secrets at rest: drover secret edit|encrypt|decrypt,
// and a fleet apply with values from an age file and an Ansible Vault file.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/drover-cm/drover/engine/secrets"
	"github.com/drover-cm/drover/integration"
)

// ageTeam writes an identity and a .age-recipients file naming it in dir,
// and returns the identity file.
func ageTeam(t *testing.T, dir string) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := writeFile(t, dir, "key.txt", id.String()+"\n")
	writeFile(t, dir, secrets.DirRecipients, "# the team\n"+id.Recipient().String()+"\n")
	return key, id
}

// editorScript is an $EDITOR that logs the clear copy's path and the modes
// of it and its directory, then runs body on it ("$1").
func editorScript(t *testing.T, dir, body string) (editor, log string) {
	t.Helper()
	log = filepath.Join(dir, "editor.log")
	editor = writeFile(t, dir, "editor.sh", fmt.Sprintf("#!/bin/sh\necho \"$1 $(stat -c %%a \"$1\") $(stat -c %%a \"$(dirname \"$1\")\")\" >> %s\n%s\n", log, body))
	os.Chmod(editor, 0o755)
	return editor, log
}

// clearCopy returns the path the editor logged, checking its modes.
func clearCopy(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("the editor did not run: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 || f[1] != "600" || f[2] != "700" {
		t.Fatalf("clear copy %q: want mode 600 in a 700 directory", b)
	}
	return f[0]
}

func droverEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return droverWith(t, "", env, args...)
}

func TestCLISecretEdit(t *testing.T) {
	dir := t.TempDir()
	key, _ := ageTeam(t, dir)
	file := filepath.Join(dir, "secrets.hcl.age")

	// A new file, to the team's keys; the clear copy is gone afterwards.
	ed, log := editorScript(t, dir, `printf 'token = "edit-Tok-1"\n' >> "$1"`)
	r := droverEnv(t, []string{"EDITOR=" + ed}, "secret", "edit", file)
	if r.code != 0 || !strings.Contains(r.stderr, "encrypted for 1 recipient(s) from "+filepath.Join(dir, ".age-recipients")) {
		t.Fatalf("edit: %+v", r)
	}
	if tmp := clearCopy(t, log); fileExists(tmp) || fileExists(filepath.Dir(tmp)) {
		t.Errorf("the clear copy %s is left behind", tmp)
	}
	enc, _ := os.ReadFile(file)
	if bytes.Contains(enc, []byte("edit-Tok-1")) {
		t.Fatalf("the file is in clear")
	}
	r = drover(t, "", "secret", "decrypt", "--identity", key, file)
	if r.code != 0 || r.stdout != "token = \"edit-Tok-1\"\n" {
		t.Fatalf("decrypt: %+v", r)
	}

	// The editor fails, or drover is stopped by a signal: the file is
	// unchanged and the clear copy removed all the same.
	for _, c := range []struct {
		name, body string
		signal     bool
		code       int
	}{
		{"editor fails", `echo 'token = "lost"' > "$1"; exit 3`, false, 1},
		{"SIGTERM", `echo 'token = "lost"' > "$1"; touch "$1.ready"; sleep 30`, true, exitInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(log)
			ed, log := editorScript(t, dir, c.body)
			cmd := exec.Command(droverBin(t), "secret", "edit", "--identity", key, file)
			cmd.Env = append(os.Environ(), "EDITOR="+ed, "HOME="+t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if c.signal {
				deadline := time.Now().Add(20 * time.Second)
				for !fileExists(log) || !fileExists(strings.Fields(readFile(t, log))[0]+".ready") {
					if time.Now().After(deadline) {
						t.Fatal("the editor never started")
					}
					time.Sleep(20 * time.Millisecond)
				}
				cmd.Process.Signal(syscall.SIGTERM)
			}
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != c.code || !strings.Contains(errOut.String(), "left unchanged") {
				t.Errorf("exit %d, want %d; stderr %s", code, c.code, errOut.String())
			}
			if tmp := clearCopy(t, log); fileExists(tmp) || fileExists(filepath.Dir(tmp)) {
				t.Errorf("the clear copy %s is left behind", tmp)
			}
			if got, _ := os.ReadFile(file); !bytes.Equal(got, enc) {
				t.Errorf("the file changed")
			}
		})
	}

	// A file encrypted to public keys cannot be re-encrypted without its
	// recipients list: refused before the clear text is exposed.
	os.Remove(filepath.Join(dir, secrets.DirRecipients))
	os.Remove(log)
	r = droverEnv(t, []string{"EDITOR=" + ed}, "secret", "edit", "--identity", key, file)
	if r.code != 1 || !strings.Contains(r.stderr, "is encrypted to public keys, and drover cannot tell whose") || fileExists(log) {
		t.Errorf("edit without recipients: %+v (editor ran: %v)", r, fileExists(log))
	}

	// encrypt and decrypt refuse what they cannot do.
	r = drover(t, "", "secret", "encrypt", file)
	if r.code != 1 || !strings.Contains(r.stderr, "is already encrypted") {
		t.Errorf("encrypt an encrypted file: %+v", r)
	}
	r = drover(t, "", "secret", "decrypt", key)
	if r.code != 1 || !strings.Contains(r.stderr, "is not encrypted") {
		t.Errorf("decrypt a clear file: %+v", r)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, []byte(readFile(t, from)), 0o600); err != nil {
		t.Fatal(err)
	}
}

const secretsPlaybook = `
variable "token" { type = string }
variable "vault_db_password" { type = string }
play "secrets" {
  hosts = "web"
  file "env" {
    path    = "/root/app.env"
    content = "TOKEN=${var.token}\nDB=${var.vault_db_password}\n"
    mode    = "0600"
  }
  command "show" {
    run = ["sh", "-c", "echo token $0 db $1 >&2; exit 1", var.token, var.vault_db_password]
  }
}
`

// TestCLIFleetSecrets applies a playbook on fleet hosts with a value from an
// age-encrypted --var-file and one from an Ansible Vault group_vars file
// (written by the real ansible-vault): both reach the hosts, neither
// appears in the output, text or JSON, even when a command prints them.
// A wrong key applies nothing.
func TestCLIFleetSecrets(t *testing.T) {
	f := integration.Start(t, 2)
	dir := t.TempDir()
	var inv strings.Builder
	inv.WriteString("web:\n  hosts:\n")
	for _, h := range f.Hosts {
		fmt.Fprintf(&inv, "    %s:\n      ansible_host: %s\n      ansible_port: %d\n      ansible_user: root\n      ansible_ssh_private_key_file: %s\n", h.Name, h.Addr, h.Port, f.KeyFile)
	}
	hosts := writeFile(t, dir, "hosts.yml", inv.String())
	copyFile(t, "../../inventory/testdata/vault/group_vars/web/vault.yml", filepath.Join(dir, "group_vars/web/vault.yml"))
	vaultPass := "../../inventory/testdata/vault/vault.pass"
	const vaultSecret, ageSecret = "group-Secret-41", "age-Tok-Fleet-7"

	key, id := ageTeam(t, dir)
	enc, err := secrets.EncryptAge([]byte(fmt.Sprintf("token = %q\n", ageSecret)), id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	varFile := writeFile(t, dir, "secrets.hcl.age", string(enc))
	site := writeFile(t, dir, "site.hcl", secretsPlaybook)
	common := []string{"-i", hosts, site, "--known-hosts", f.KnownHostsFile, "--var-file", varFile, "--vault-password-file", vaultPass}

	// Wrong keys: one error naming the file, nothing applied.
	stranger, _ := age.GenerateX25519Identity()
	wrongKey := writeFile(t, t.TempDir(), "key.txt", stranger.String()+"\n")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong age identity", []string{"--identity", wrongKey}, varFile + ": not encrypted to your identity"},
		{"wrong vault password", []string{"--identity", key, "--vault-password-file", key}, "vault.yml: wrong vault password"},
	} {
		r := drover(t, "", append(append([]string{"apply"}, common...), c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, want an error with %q\n%s%s", c.name, r.code, c.want, r.stdout, r.stderr)
		}
		if out := f.Hosts[0].Exec(t, "test -e /root/app.env && echo applied || true"); out != "" {
			t.Fatalf("%s: applied anyway", c.name)
		}
	}

	for _, jsonOut := range []bool{false, true} {
		args := append([]string{"apply", "--identity", key}, common...)
		if jsonOut {
			args = append(args, "--json")
		}
		r := drover(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "exit status 1") {
			t.Fatalf("apply (json %v): exit %d, want the failing command\n%s%s", jsonOut, r.code, r.stdout, r.stderr)
		}
		for _, s := range []string{vaultSecret, ageSecret} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("apply (json %v) shows %s:\n%s%s", jsonOut, s, r.stdout, r.stderr)
			}
		}
		if !strings.Contains(r.stdout, "token ******** db ********") {
			t.Errorf("apply (json %v): no masked command output:\n%s", jsonOut, r.stdout)
		}
	}
	for _, h := range f.Hosts {
		if got, want := h.Exec(t, "cat /root/app.env"), "TOKEN="+ageSecret+"\nDB="+vaultSecret+"\n"; got != want {
			t.Errorf("%s: app.env %q, want %q", h.Name, got, want)
		}
	}

	// plan and validate take the same flags and show no secret either.
	r := drover(t, "", append([]string{"plan", "--identity", key}, common...)...)
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, vaultSecret) || strings.Contains(r.stdout+r.stderr, ageSecret) {
		t.Errorf("plan: %+v", r)
	}
	r = droverEnv(t, []string{"DROVER_AGE_IDENTITY=" + key}, "validate", site, "--var-file", varFile, "--var", "vault_db_password=x")
	if r.code != 0 {
		t.Errorf("validate with DROVER_AGE_IDENTITY: %+v", r)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestCLIInventoryVault: inventory list reads vault files with
// --vault-password-file and shows their values as (sensitive), in text and
// JSON; without the password it is one error per encrypted thing.
func TestCLIInventoryVault(t *testing.T) {
	inv, pass := "../../inventory/testdata/vault/hosts.yml", "../../inventory/testdata/vault/vault.pass"
	secretsIn := []string{"group-Secret-41", "api-Tok-42", "host-Secret-43", "inline-Secret-44", "inv-vault-pw-3"}
	for _, jsonOut := range []bool{false, true} {
		args := []string{"inventory", "list", "-i", inv, "--vault-password-file", pass, "--vars", "all"}
		if jsonOut {
			args = append(args, "--json")
		}
		r := drover(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "http_port") || !strings.Contains(r.stdout, "(sensitive)") {
			t.Errorf("json %v: %+v", jsonOut, r)
		}
		for _, s := range secretsIn {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("json %v: shows %s:\n%s", jsonOut, s, r.stdout)
			}
		}
	}
	r := drover(t, "", "inventory", "list", "-i", inv)
	if r.code != 1 || strings.Count(r.stderr, "is encrypted with Ansible Vault: no key given and no terminal to ask on: pass --vault-password-file FILE") != 3 {
		t.Errorf("without a password: %+v", r)
	}
}

// withTerminal runs drover on a pseudo-terminal (util-linux script), typing
// input, as a person at a terminal would answer the prompts.
func withTerminal(t *testing.T, dir, input string, args ...string) result {
	t.Helper()
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to run drover on a terminal")
	}
	quoted := []string{droverBin(t)}
	for _, a := range args {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	cmd := exec.Command(scriptBin, "-qec", strings.Join(quoted, " "), "/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: strings.ReplaceAll(out.String(), "\r\n", "\n"), code: code}
}

// TestCLISecretPassphrase: one person's files, encrypted with a passphrase
// asked twice; a run with two such files asks once; a wrong one is one
// error naming the file.
func TestCLISecretPassphrase(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.hcl", "a = \"pass-Secret-A\"\n")
	writeFile(t, dir, "b.hcl", "b = \"pass-Secret-B\"\n")
	for _, f := range []string{"a.hcl", "b.hcl"} {
		r := withTerminal(t, dir, "pw-Solo-1\npw-Solo-1\n", "secret", "encrypt", f)
		if r.code != 0 || !strings.Contains(r.stdout, "for a passphrase") {
			t.Fatalf("encrypt %s: %+v", f, r)
		}
	}
	site := writeFile(t, dir, "site.hcl", "variable \"a\" { type = string }\nvariable \"b\" { type = string }\n")
	r := withTerminal(t, dir, "pw-Solo-1\n", "validate", site, "--var-file", "a.hcl.age", "--var-file", "b.hcl.age")
	if r.code != 0 || strings.Count(r.stdout, "Passphrase for") != 1 {
		t.Errorf("validate: want one prompt for both files: %+v", r)
	}
	r = withTerminal(t, dir, "bad-Guess-2\n", "validate", site, "--var-file", "a.hcl.age", "--var-file", "b.hcl.age")
	if r.code != 1 || !strings.Contains(r.stdout, "a.hcl.age: wrong passphrase") {
		t.Errorf("wrong passphrase: %+v", r)
	}
	for _, s := range []string{"pass-Secret-A", "pass-Secret-B"} {
		if strings.Contains(r.stdout, s) {
			t.Errorf("output shows %s", s)
		}
	}
}
