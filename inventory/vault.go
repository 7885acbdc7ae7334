package inventory

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/drover-cm/drover/engine/lang"
)

// vaultFunc decrypts Ansible Vault text; name says where it is.
type vaultFunc func(name string, vaulttext []byte) ([]byte, error)

// errNoVaultPassword is the error for vault text when no vault password was
// given to Load.
var errNoVaultPassword = errors.New("it is encrypted with Ansible Vault and no vault password was given; pass --vault-password-file FILE")

func isVault(src []byte) bool { return bytes.HasPrefix(src, []byte("$ANSIBLE_VAULT;")) }

func openVault(vault vaultFunc, name string, vaulttext []byte) ([]byte, error) {
	if vault == nil {
		return nil, fmt.Errorf("%s: %w", name, errNoVaultPassword)
	}
	return vault(name, vaulttext)
}

// vaultError is a !vault value that could not be decrypted.
type vaultError struct{ err error }

func (e *vaultError) Error() string { return e.err.Error() }
func (e *vaultError) Unwrap() error { return e.err }

// openInline decrypts a !vault value of f. Its errors name the file and
// line.
func (f *srcFile) openInline(n *yaml.Node) ([]byte, error) {
	clear, err := openVault(f.vault, fmt.Sprintf("%s:%d", f.name, n.Line), []byte(n.Value))
	if err != nil {
		return nil, &vaultError{err}
	}
	return clear, nil
}

// openVaultFile decrypts a whole vars file. On error it returns src as it
// was, for the diagnostic's range.
func openVaultFile(vault vaultFunc, path string, src []byte) ([]byte, error) {
	clear, err := openVault(vault, path, src)
	if err != nil {
		return src, err
	}
	return clear, nil
}

// markVaultVars marks every variable of a vault file's layer sensitive, and
// reports false (use none of them) when the file had errors.
func markVaultVars(layer *settings, diags hcl.Diagnostics) bool {
	if diags.HasErrors() {
		return false
	}
	for k, v := range layer.Vars {
		layer.Vars[k] = sensitive(v)
	}
	return true
}

// sensitive marks a value from a vault as the engine's sensitive values
// are, so that every output masks it.
func sensitive(v cty.Value) cty.Value { return lang.Sensitive(v) }
