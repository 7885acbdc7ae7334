// Package secrets reads and writes secrets at rest: variable files encrypted
// with age (filippo.io/age) and Ansible Vault 1.1/1.2 text. Clear text only
// ever lives in memory here; callers mark what they decrypt as sensitive.
//
// Keys holds where the keys come from (an age identity file, a vault
// password file, a prompt) and asks for each at most once per run, however
// many files need it.
package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"unicode/utf8"

	"filippo.io/age"
)

// Format is how a file is stored.
type Format int

const (
	Plain Format = iota
	Age          // age, binary or ASCII-armored
	Vault        // Ansible Vault 1.1 or 1.2, AES256
)

func (f Format) String() string {
	switch f {
	case Age:
		return "age"
	case Vault:
		return "Ansible Vault"
	}
	return "plain text"
}

// Readable names the encrypted formats drover reads, for error messages.
const Readable = "age (binary or armored) and Ansible Vault 1.1/1.2 (AES256)"

const (
	ageMagic    = "age-encryption.org/v1\n"
	ageArmor    = "-----BEGIN AGE ENCRYPTED FILE-----"
	vaultPrefix = "$ANSIBLE_VAULT;"
)

// foreign are the starts of encrypted formats drover does not read, so that
// such a file is refused by name rather than parsed as garbage.
var foreign = []struct{ prefix, name string }{
	{"-----BEGIN PGP MESSAGE-----", "OpenPGP (gpg)"},
	{"\x00GITCRYPT\x00", "git-crypt"},
	{"age-encryption.org/", "a newer age version"},
}

// UnknownFormatError is an encrypted file in a format drover does not read.
type UnknownFormatError struct {
	Name, What string
}

func (e *UnknownFormatError) Error() string {
	return fmt.Sprintf("%s is encrypted as %s, which drover cannot read; drover reads %s", e.Name, e.What, Readable)
}

// Detect says how data is stored. An encrypted format drover does not read
// (gpg, git-crypt, an unknown vault version or cipher, or binary data in a
// file named *.age) is an *UnknownFormatError.
func Detect(name string, data []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(data, []byte(ageMagic)):
		return Age, nil
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(ageArmor)):
		return Age, nil
	case bytes.HasPrefix(data, []byte(vaultPrefix)):
		if _, _, err := vaultHeader(data); err != nil {
			return Plain, &UnknownFormatError{Name: name, What: err.Error()}
		}
		return Vault, nil
	}
	for _, f := range foreign {
		if bytes.HasPrefix(data, []byte(f.prefix)) {
			return Plain, &UnknownFormatError{Name: name, What: f.name}
		}
	}
	// Binary data is no variables file: most likely an encryption drover
	// does not know (binary gpg, a truncated header).
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return Plain, &UnknownFormatError{Name: name, What: "binary data (not age, not Ansible Vault)"}
	}
	if hasSuffix(name, ".age") {
		return Plain, &UnknownFormatError{Name: name, What: "something other than age (its name ends in .age but it has no age header)"}
	}
	return Plain, nil
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// Keys finds the keys that open encrypted files. The zero value opens
// nothing encrypted (a clear error says what to pass). Safe for concurrent
// use; each key is read or asked for once.
type Keys struct {
	// IdentityFile is an age identity file (--identity), holding
	// AGE-SECRET-KEY-1... lines as age-keygen writes them.
	IdentityFile string
	// IdentityEnv is DROVER_AGE_IDENTITY: the path of an identity file, or
	// the identity itself (it starts with AGE-SECRET-KEY-), for CI.
	IdentityEnv string
	// VaultPasswordFile is --vault-password-file: a file holding the vault
	// password, or an executable that prints it, as Ansible reads it.
	VaultPasswordFile string
	// Prompt asks for a secret on the terminal without echo; nil when
	// there is none to ask on.
	Prompt func(prompt string) ([]byte, error)
	// Reveal receives every key read or typed (passphrases, passwords), so
	// that output masks them.
	Reveal func(secret string)

	mu         sync.Mutex
	identities []age.Identity
	idErr      error
	idLoaded   bool
	passphrase []byte // the age passphrase, once asked
	vaultPass  []byte
	vaultErr   error
	vaultRead  bool
}

// Open returns the clear text of data (read from name) and how it was
// stored. Plain data is returned as it is. An error names the file and
// never comes with part of the clear text.
func (k *Keys) Open(name string, data []byte) ([]byte, Format, error) {
	if k == nil {
		k = &Keys{}
	}
	f, err := Detect(name, data)
	if err != nil {
		return nil, Plain, err
	}
	var clear []byte
	switch f {
	case Plain:
		return data, Plain, nil
	case Age:
		clear, err = k.openAge(name, data)
	case Vault:
		clear, err = k.OpenVault(name, data)
	}
	if err != nil {
		return nil, f, err
	}
	return clear, f, nil
}

// ReadFile reads and opens a file.
func (k *Keys) ReadFile(path string) ([]byte, Format, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Plain, fmt.Errorf("reading %s: %w", path, err)
	}
	return k.Open(path, data)
}

// ErrNoKey is wrapped by errors about a missing key: nothing says how to
// open the file, and there is no terminal to ask on.
var ErrNoKey = errors.New("no key given and no terminal to ask on")

func (k *Keys) reveal(b []byte) {
	if k != nil && k.Reveal != nil && len(b) > 0 {
		k.Reveal(string(b))
	}
}

func (k *Keys) ask(prompt string) ([]byte, error) {
	if k == nil || k.Prompt == nil {
		return nil, ErrNoKey
	}
	b, err := k.Prompt(prompt)
	if err != nil {
		return nil, err
	}
	k.reveal(b)
	return b, nil
}
