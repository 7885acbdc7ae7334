package secrets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// RecipientsSuffix names the per-file recipients list: secrets.hcl.age is
// encrypted to the keys in secrets.hcl.age.recipients when it exists.
const RecipientsSuffix = ".recipients"

// DirRecipients names the directory-wide recipients list, used for every
// encrypted file in its directory that has no list of its own.
const DirRecipients = ".age-recipients"

// maxAgeFile bounds what is decrypted into memory: variable files are small,
// and a mistaken multi-gigabyte file must not exhaust the controller.
const maxAgeFile = 64 << 20

// RecipientsFile returns the recipients list that applies to the encrypted
// file path (see RecipientsSuffix, DirRecipients), or "" when there is none.
func RecipientsFile(path string) string {
	for _, p := range []string{path + RecipientsSuffix, filepath.Join(filepath.Dir(path), DirRecipients)} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// ReadRecipients parses a recipients file: one public key a line (age1...,
// as age-keygen prints them), # comments and blank lines ignored, the same
// format as age -R.
func ReadRecipients(path string) ([]age.Recipient, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the recipients file: %w", err)
	}
	defer f.Close()
	rs, err := age.ParseRecipients(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; each line must be an age public key (age1...)", path, err)
	}
	return rs, nil
}

// EncryptAge encrypts clear to recipients, ASCII-armored so that the file
// diffs and reviews as text in version control.
func EncryptAge(clear []byte, recipients ...age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if _, err := w.Write(clear); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	return buf.Bytes(), nil
}

// PassphraseRecipient is the recipient for a file only its passphrase
// opens (one person's secrets).
func PassphraseRecipient(pass []byte) (age.Recipient, error) {
	r, err := age.NewScryptRecipient(string(pass))
	if err != nil {
		return nil, fmt.Errorf("using the passphrase: %w", err)
	}
	return r, nil
}

// IsPassphraseFile reports whether an age file is encrypted with a
// passphrase (scrypt) rather than to public keys.
func IsPassphraseFile(data []byte) bool {
	for _, t := range ageStanzas(data) {
		if t == "scrypt" {
			return true
		}
	}
	return false
}

// ageStanzas lists the recipient types in an age header ("X25519",
// "scrypt"), dearmoring first.
func ageStanzas(data []byte) []string {
	var r io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(ageArmor)) {
		r = armor.NewReader(r)
	}
	hdr, err := age.ExtractHeader(r)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	for sc.Scan() {
		if t, ok := strings.CutPrefix(sc.Text(), "-> "); ok {
			typ, _, _ := strings.Cut(t, " ")
			out = append(out, typ)
		}
	}
	return out
}

// openAge decrypts an age file in memory. A passphrase file asks for the
// passphrase (once per run); a file encrypted to public keys uses the
// identity from --identity or DROVER_AGE_IDENTITY.
func (k *Keys) openAge(name string, data []byte) ([]byte, error) {
	var ids []age.Identity
	if IsPassphraseFile(data) {
		pass, err := k.agePassphrase(name)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(string(pass))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ids = []age.Identity{id}
	} else {
		var err error
		if ids, err = k.ageIdentities(); err != nil {
			return nil, fmt.Errorf("%s is encrypted with age to public keys: %w", name, err)
		}
	}
	clear, err := DecryptAge(data, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) || errors.Is(err, age.ErrIncorrectIdentity) {
			if IsPassphraseFile(data) {
				return nil, fmt.Errorf("%s: wrong passphrase", name)
			}
			return nil, fmt.Errorf("%s: not encrypted to your identity (%s); ask someone who can open it to add your public key to its recipients file and re-encrypt it", name, k.identitySource())
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return clear, nil
}

// DecryptAge decrypts a whole age file (binary or armored) in memory. A
// truncated or altered file is an error: age authenticates every chunk and
// the end, and nothing is returned unless all of it checks out.
func DecryptAge(data []byte, ids ...age.Identity) ([]byte, error) {
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(ageArmor)) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		return nil, err
	}
	clear, err := io.ReadAll(io.LimitReader(r, maxAgeFile+1))
	if err != nil {
		return nil, fmt.Errorf("the file is damaged or truncated: %w", err)
	}
	if len(clear) > maxAgeFile {
		return nil, fmt.Errorf("larger than %d MiB, too large for a variables file", maxAgeFile>>20)
	}
	return clear, nil
}

func (k *Keys) identitySource() string {
	switch {
	case k.IdentityFile != "":
		return "--identity " + k.IdentityFile
	case strings.HasPrefix(k.IdentityEnv, "AGE-SECRET-KEY-"):
		return "the key in DROVER_AGE_IDENTITY"
	default:
		return "DROVER_AGE_IDENTITY=" + k.IdentityEnv
	}
}

// ageIdentities loads the identity once.
func (k *Keys) ageIdentities() ([]age.Identity, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.idLoaded {
		return k.identities, k.idErr
	}
	k.idLoaded = true
	k.identities, k.idErr = k.loadIdentities()
	return k.identities, k.idErr
}

func (k *Keys) loadIdentities() ([]age.Identity, error) {
	var src []byte
	var where string
	switch {
	case k.IdentityFile != "":
		where = "--identity " + k.IdentityFile
		b, err := os.ReadFile(k.IdentityFile)
		if err != nil {
			return nil, fmt.Errorf("reading the identity: %w", err)
		}
		src = b
	case strings.HasPrefix(k.IdentityEnv, "AGE-SECRET-KEY-"):
		where = "DROVER_AGE_IDENTITY"
		src = []byte(k.IdentityEnv)
	case k.IdentityEnv != "":
		where = "DROVER_AGE_IDENTITY=" + k.IdentityEnv
		b, err := os.ReadFile(k.IdentityEnv)
		if err != nil {
			return nil, fmt.Errorf("reading the identity (DROVER_AGE_IDENTITY): %w", err)
		}
		src = b
	default:
		return nil, errors.New("no identity given: pass your age identity file with --identity FILE or DROVER_AGE_IDENTITY")
	}
	ids, err := age.ParseIdentities(bytes.NewReader(src))
	if err != nil {
		// age's parse errors do not quote the key; keep it that way.
		return nil, fmt.Errorf("%s is not an age identity file (AGE-SECRET-KEY-1... lines, as age-keygen writes): %w", where, err)
	}
	return ids, nil
}

// agePassphrase asks for the age passphrase once per run: one person's
// secrets share one passphrase.
func (k *Keys) agePassphrase(name string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.passphrase != nil {
		return k.passphrase, nil
	}
	pass, err := k.ask(fmt.Sprintf("Passphrase for %s: ", name))
	if errors.Is(err, ErrNoKey) {
		return nil, fmt.Errorf("%s is encrypted with a passphrase: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: asking for the passphrase: %w", name, err)
	}
	k.passphrase = pass
	return pass, nil
}

// Passphrase returns the age passphrase asked so far in this run, if any
// (edit re-encrypts with it).
func (k *Keys) Passphrase() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.passphrase
}

// NewPassphrase asks for a new passphrase twice and checks both agree.
func (k *Keys) NewPassphrase(name string) ([]byte, error) {
	p1, err := k.ask(fmt.Sprintf("New passphrase for %s: ", name))
	if err != nil {
		return nil, fmt.Errorf("asking for a passphrase (or use a recipients file; see docs/secrets.md): %w", err)
	}
	if len(p1) == 0 {
		return nil, errors.New("the passphrase is empty")
	}
	p2, err := k.ask("Again: ")
	if err != nil {
		return nil, fmt.Errorf("asking for the passphrase: %w", err)
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("the passphrases differ")
	}
	k.mu.Lock()
	k.passphrase = p1
	k.mu.Unlock()
	return p1, nil
}
