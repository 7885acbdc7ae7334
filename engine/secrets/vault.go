package secrets

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Ansible Vault 1.1/1.2 with AES256, as ansible-vault writes it
// (ansible/parsing/vault/__init__.py, VaultAES256):
//
//	$ANSIBLE_VAULT;1.1;AES256            (1.2 adds ;LABEL, the vault id)
//	hex( hex(salt) \n hex(hmac) \n hex(ciphertext) ), in lines of 80
//
// key1 (AES), key2 (HMAC) and the CTR counter are the 80 bytes of
// PBKDF2-HMAC-SHA256(password, salt, 10000); the HMAC-SHA256 with key2 is of
// the ciphertext, which is AES-256-CTR of the PKCS#7-padded clear text.
const (
	vaultIterations = 10000
	vaultKeyLen     = 32
)

// vaultHeader parses the first line: the version and the vault id label
// ("" for 1.1). Any other version or cipher is an error naming it.
func vaultHeader(data []byte) (version, label string, err error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	parts := strings.Split(strings.TrimSpace(string(line)), ";")
	if len(parts) < 3 || parts[0] != "$ANSIBLE_VAULT" {
		return "", "", errors.New("an Ansible Vault header drover does not understand")
	}
	version, cipherName := strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	switch version {
	case "1.1", "1.2":
	default:
		return "", "", fmt.Errorf("Ansible Vault version %s", version)
	}
	if cipherName != "AES256" {
		return "", "", fmt.Errorf("Ansible Vault with cipher %s", cipherName)
	}
	if len(parts) >= 4 {
		label = strings.TrimSpace(parts[3])
	}
	return version, label, nil
}

// DecryptVault decrypts Ansible Vault text with password. A wrong password
// and an altered file fail the same HMAC check, as in Ansible; nothing is
// decrypted before it passes.
func DecryptVault(data, password []byte) ([]byte, error) {
	if _, _, err := vaultHeader(data); err != nil {
		return nil, err
	}
	_, body, _ := bytes.Cut(data, []byte("\n"))
	var joined []byte
	for _, l := range bytes.Split(body, []byte("\n")) {
		joined = append(joined, bytes.TrimSpace(l)...)
	}
	inner, err := hex.DecodeString(string(joined))
	if err != nil {
		return nil, fmt.Errorf("the vault text is damaged (not hexadecimal): %w", err)
	}
	parts := bytes.SplitN(inner, []byte("\n"), 3)
	if len(parts) != 3 {
		return nil, errors.New("the vault text is damaged or truncated (want salt, HMAC and ciphertext)")
	}
	salt, err1 := hex.DecodeString(string(parts[0]))
	mac, err2 := hex.DecodeString(string(parts[1]))
	ct, err3 := hex.DecodeString(string(bytes.TrimSpace(parts[2])))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("the vault text is damaged: %w", err)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errors.New("the vault text is damaged or truncated (the ciphertext is not whole blocks)")
	}
	dk, err := pbkdf2.Key(sha256.New, string(password), salt, vaultIterations, 2*vaultKeyLen+aes.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("deriving the vault key: %w", err)
	}
	key1, key2, iv := dk[:vaultKeyLen], dk[vaultKeyLen:2*vaultKeyLen], dk[2*vaultKeyLen:]
	h := hmac.New(sha256.New, key2)
	h.Write(ct)
	if !hmac.Equal(h.Sum(nil), mac) {
		return nil, errors.New("wrong vault password, or the file was altered (HMAC check failed)")
	}
	block, err := aes.NewCipher(key1)
	if err != nil {
		return nil, fmt.Errorf("vault cipher: %w", err)
	}
	clear := make([]byte, len(ct))
	cipher.NewCTR(block, iv).XORKeyStream(clear, ct)
	n := int(clear[len(clear)-1])
	if n == 0 || n > aes.BlockSize || !bytes.Equal(clear[len(clear)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, errors.New("the vault text is damaged (bad padding)")
	}
	return clear[:len(clear)-n], nil
}

// OpenVault decrypts Ansible Vault text from name (a file, or a !vault
// value in it) with the run's vault password.
func (k *Keys) OpenVault(name string, data []byte) ([]byte, error) {
	pw, err := k.vaultPassword()
	if err != nil {
		return nil, fmt.Errorf("%s is encrypted with Ansible Vault: %w", name, err)
	}
	clear, err := DecryptVault(data, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return clear, nil
}

// vaultPassword reads --vault-password-file or asks, once per run.
func (k *Keys) vaultPassword() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.vaultRead {
		k.vaultRead = true
		k.vaultPass, k.vaultErr = k.readVaultPassword()
		k.reveal(k.vaultPass)
	}
	return k.vaultPass, k.vaultErr
}

func (k *Keys) readVaultPassword() ([]byte, error) {
	if k.VaultPasswordFile == "" {
		pw, err := k.ask("Vault password: ")
		if errors.Is(err, ErrNoKey) {
			return nil, fmt.Errorf("%w: pass --vault-password-file FILE (or set ANSIBLE_VAULT_PASSWORD_FILE)", err)
		}
		if err != nil {
			return nil, fmt.Errorf("asking for the vault password: %w", err)
		}
		return pw, nil
	}
	return ReadVaultPasswordFile(k.VaultPasswordFile)
}

// vaultScriptTimeout bounds a password script, which may be a client that
// asks a secrets manager.
var vaultScriptTimeout = time.Minute

// ReadVaultPasswordFile reads a vault password file the way Ansible does: an
// executable file is run and its standard output (less the line ending) is
// the password; any other file is read, surrounding whitespace removed.
func ReadVaultPasswordFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the vault password file: %w", err)
	}
	var pw []byte
	if st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), vaultScriptTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("the vault password script %s failed: %w: %s", path, err, strings.TrimSpace(stderr.String()))
		}
		pw = bytes.Trim(out, "\r\n")
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading the vault password file: %w", err)
		}
		pw = bytes.TrimSpace(b)
	}
	if len(pw) == 0 {
		return nil, fmt.Errorf("the vault password from %s is empty", path)
	}
	return pw, nil
}
