package secrets

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"gopkg.in/yaml.v3"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inlineVault returns the vault text of the !vault value in inline.yml.
func inlineVault(t *testing.T) []byte {
	t.Helper()
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(read(t, "testdata/inline.yml"), &doc); err != nil {
		t.Fatal(err)
	}
	n := doc["db_password"]
	if n.Tag != "!vault" {
		t.Fatalf("tag %q", n.Tag)
	}
	return []byte(n.Value)
}

// The fixtures were written by the real ansible-vault (testdata/README.md).
func TestDecryptVaultFixtures(t *testing.T) {
	clear := read(t, "testdata/clear.yml")
	for _, c := range []struct {
		name, pwFile string
		data         []byte
		want         string
	}{
		{"1.1 file", "vault.pass", read(t, "testdata/vault11.yml"), string(clear)},
		{"1.2 file with label", "vault-prod.pass", read(t, "testdata/vault12.yml"), string(clear)},
		{"inline encrypt_string", "vault.pass", inlineVault(t), "inline-secret-Qw3"},
		{"password script", "vault-pass.sh", read(t, "testdata/vault11.yml"), string(clear)},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := &Keys{VaultPasswordFile: filepath.Join("testdata", c.pwFile)}
			got, f, err := k.Open("x.yml", c.data)
			if err != nil || f != Vault || string(got) != c.want {
				t.Fatalf("Open = %q, %v, %v; want %q", got, f, err, c.want)
			}
		})
	}
}

func TestDecryptVaultBad(t *testing.T) {
	good := read(t, "testdata/vault11.yml")
	lines := strings.Split(strings.TrimSpace(string(good)), "\n")
	last := len(lines) - 1
	for _, c := range []struct {
		name, data, pw, want string
	}{
		{"wrong password", string(good), "nope", "wrong vault password, or the file was altered (HMAC check failed)"},
		{"ciphertext altered", alterCiphertext(t, good), "vault-pw-Kq7", "HMAC check failed"},
		{"truncated", strings.Join(lines[:last], "\n"), "vault-pw-Kq7", "damaged"},
		{"not hex", lines[0] + "\nzz" + strings.Join(lines[1:], "\n"), "vault-pw-Kq7", "not hexadecimal"},
		{"header only", lines[0] + "\n", "vault-pw-Kq7", "damaged or truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecryptVault([]byte(c.data), []byte(c.pw))
			if err == nil || !strings.Contains(err.Error(), c.want) || got != nil {
				t.Fatalf("DecryptVault = %q, %v; want an error with %q and no text", got, err, c.want)
			}
		})
	}
}

// alterCiphertext changes one hex digit of the ciphertext inside the vault
// text, keeping the format valid: only the HMAC can tell.
func alterCiphertext(t *testing.T, vault []byte) string {
	t.Helper()
	head, body, _ := strings.Cut(string(vault), "\n")
	inner, err := hex.DecodeString(strings.ReplaceAll(body, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	i := len(inner) - 5
	if inner[i] == '0' {
		inner[i] = '1'
	} else {
		inner[i] = '0'
	}
	return head + "\n" + hex.EncodeToString(inner) + "\n"
}

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       Format
		err        string
	}{
		{"vars.hcl", "a = 1\n", Plain, ""},
		{"x.age", "age-encryption.org/v1\n-> X25519 abc\n", Age, ""},
		{"x.age", "\n-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", Age, ""},
		{"v.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n", Vault, ""},
		{"v.yml", "$ANSIBLE_VAULT;1.2;AES256;prod\n6162\n", Vault, ""},
		{"v.yml", "$ANSIBLE_VAULT;2.0;AES256\n6162\n", Plain, "Ansible Vault version 2.0, which drover cannot read; drover reads age"},
		{"v.yml", "$ANSIBLE_VAULT;1.1;AES\n6162\n", Plain, "cipher AES"},
		{"s.hcl.gpg", "-----BEGIN PGP MESSAGE-----\n", Plain, "OpenPGP (gpg)"},
		{"s.hcl", "\x00GITCRYPT\x00abc", Plain, "git-crypt"},
		{"s.hcl", "\x85\x02\x0c\x03\xff", Plain, "binary data"},
		{"s.hcl.age", "a = 1\n", Plain, "no age header"},
	} {
		t.Run(c.name+" "+c.data[:min(len(c.data), 12)], func(t *testing.T) {
			f, err := Detect(c.name, []byte(c.data))
			if f != c.want || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Detect = %v, %v; want %v, %q", f, err, c.want, c.err)
			}
			var ue *UnknownFormatError
			if err != nil && (!errors.As(err, &ue) || !strings.Contains(err.Error(), c.name)) {
				t.Fatalf("error %v does not name the file", err)
			}
		})
	}
}

// fastScrypt is a passphrase recipient cheap enough for tests.
func fastScrypt(t *testing.T, pass string) age.Recipient {
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	return r
}

func TestAgeRoundTrip(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "key.txt")
	os.WriteFile(idFile, []byte("# created: now\n"+id.String()+"\n"), 0o600)
	otherFile := filepath.Join(dir, "other.txt")
	os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600)
	clear := []byte("db_password = \"age-secret-Pm4\"\n")

	team, err := EncryptAge(clear, id.Recipient(), other.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	solo, err := EncryptAge(clear, fastScrypt(t, "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(team, []byte(ageArmor)) || bytes.Contains(team, []byte("age-secret")) {
		t.Fatalf("not armored age:\n%s", team)
	}
	asked := 0
	prompt := func(pass string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { asked++; return []byte(pass), nil }
	}
	lines := strings.Split(string(team), "\n")
	truncated := strings.Join(lines[:len(lines)-3], "\n") + "\n" + lines[len(lines)-2] + "\n"
	flipped := bytes.Clone(team)
	flipped[len(flipped)/2] ^= 1

	for _, c := range []struct {
		name string
		keys *Keys
		data []byte
		err  string // "" for success
	}{
		{"identity file", &Keys{IdentityFile: idFile}, team, ""},
		{"other member's identity", &Keys{IdentityFile: otherFile}, team, ""},
		{"identity in env", &Keys{IdentityEnv: id.String()}, team, ""},
		{"identity path in env", &Keys{IdentityEnv: idFile}, team, ""},
		{"passphrase", &Keys{Prompt: prompt("correct horse")}, solo, ""},
		{"no identity", &Keys{}, team, "no identity given: pass your age identity file with --identity FILE"},
		{"stranger's identity", &Keys{IdentityEnv: mustIdentity(t)}, team, "x.hcl.age: not encrypted to your identity"},
		{"wrong passphrase", &Keys{Prompt: prompt("wrong")}, solo, "x.hcl.age: wrong passphrase"},
		{"no terminal for the passphrase", &Keys{}, solo, "x.hcl.age is encrypted with a passphrase: no key given and no terminal to ask on"},
		{"identity file is not one", &Keys{IdentityFile: filepath.Join("testdata", "vault.pass")}, team, "is not an age identity file"},
		{"truncated", &Keys{IdentityFile: idFile}, []byte(truncated), "x.hcl.age"},
		{"altered", &Keys{IdentityFile: idFile}, flipped, "x.hcl.age"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, f, err := c.keys.Open("x.hcl.age", c.data)
			if c.err == "" {
				if err != nil || f != Age || !bytes.Equal(got, clear) {
					t.Fatalf("Open = %q, %v, %v", got, f, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
				t.Fatalf("Open = %q, %v; want an error with %q and no text", got, err, c.err)
			}
			if strings.Contains(err.Error(), id.String()) || strings.Contains(err.Error(), other.String()) {
				t.Fatalf("the error shows a key: %v", err)
			}
		})
	}

	// The passphrase is asked once for the whole run.
	asked = 0
	k := &Keys{Prompt: prompt("correct horse")}
	for range 3 {
		if _, _, err := k.Open("x.hcl.age", solo); err != nil {
			t.Fatal(err)
		}
	}
	if asked != 1 {
		t.Errorf("asked %d times", asked)
	}
}

func mustIdentity(t *testing.T) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func TestRecipientsFile(t *testing.T) {
	dir := t.TempDir()
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	enc := filepath.Join(dir, "prod.hcl.age")
	if got := RecipientsFile(enc); got != "" {
		t.Fatalf("no list yet, got %q", got)
	}
	os.WriteFile(filepath.Join(dir, DirRecipients), []byte("# the team\n"+a.Recipient().String()+"\n\n"+b.Recipient().String()+"\n"), 0o644)
	if got := RecipientsFile(enc); got != filepath.Join(dir, DirRecipients) {
		t.Fatalf("got %q", got)
	}
	rs, err := ReadRecipients(RecipientsFile(enc))
	if err != nil || len(rs) != 2 {
		t.Fatalf("ReadRecipients = %v, %v", rs, err)
	}
	own := enc + RecipientsSuffix
	os.WriteFile(own, []byte(a.Recipient().String()+"\n"), 0o644)
	if got := RecipientsFile(enc); got != own {
		t.Fatalf("the file's own list should win, got %q", got)
	}
	os.WriteFile(own, []byte("ssh-nonsense AAAA\n"), 0o644)
	if _, err := ReadRecipients(own); err == nil || !strings.Contains(err.Error(), own) {
		t.Fatalf("bad list: %v", err)
	}
}

func TestReadVaultPasswordFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), mode)
		return p
	}
	for _, c := range []struct {
		name, path, want, err string
	}{
		{"file, whitespace stripped", write("pw", "  s3cret \n\n", 0o600), "s3cret", ""},
		{"script", write("pw.sh", "#!/bin/sh\nprintf 'from script \\r\\n'\n", 0o700), "from script ", ""},
		{"failing script", write("bad.sh", "#!/bin/sh\necho locked >&2; exit 3\n", 0o700), "", "script"},
		{"empty", write("empty", "\n", 0o600), "", "is empty"},
		{"missing", filepath.Join(dir, "nope"), "", "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadVaultPasswordFile(c.path)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %q, %v; want error %q", got, err, c.err)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
