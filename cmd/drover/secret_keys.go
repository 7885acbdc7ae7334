package main

// The keys to secrets at rest, for every command: --identity and
// DROVER_AGE_IDENTITY for age files, --vault-password-file (or Ansible's
// ANSIBLE_VAULT_PASSWORD_FILE) for Ansible Vault, else a prompt on the
// terminal, each at most once per run.

import (
	"os"
	"sync"

	"github.com/drover-cm/drover/engine/lang"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/secrets"
	"github.com/drover-cm/drover/inventory"
)

var secretFlags struct {
	identity          string
	vaultPasswordFile string
}

func init() {
	pf := rootCmd.PersistentFlags()
	pf.StringVar(&secretFlags.identity, "identity", "", "age identity file for encrypted --var-file files (also DROVER_AGE_IDENTITY)")
	pf.StringVar(&secretFlags.vaultPasswordFile, "vault-password-file", "", "Ansible Vault password file, or an executable printing it (also ANSIBLE_VAULT_PASSWORD_FILE)")
}

// runKeys are the keys of each command's ui: a command makes one ui, and
// tests run several commands in one process.
var runKeys sync.Map // *ui -> *secrets.Keys

// secretKeys returns the run's keys. What is read or typed is masked in all
// output.
func secretKeys(u *ui) *secrets.Keys {
	if k, ok := runKeys.Load(u); ok {
		return k.(*secrets.Keys)
	}
	vpf := secretFlags.vaultPasswordFile
	if vpf == "" {
		vpf = os.Getenv("ANSIBLE_VAULT_PASSWORD_FILE")
	}
	p := newPrompter(u.masker, nil)
	k := &secrets.Keys{
		IdentityFile:      secretFlags.identity,
		IdentityEnv:       os.Getenv("DROVER_AGE_IDENTITY"),
		VaultPasswordFile: vpf,
		Prompt: func(prompt string) ([]byte, error) {
			tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
			if err != nil {
				return nil, secrets.ErrNoKey
			}
			tty.Close()
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.readSecret(prompt, false)
		},
		Reveal: u.masker.Add,
	}
	got, _ := runKeys.LoadOrStore(u, k)
	return got.(*secrets.Keys)
}

// maskInventorySecrets registers every value the inventory marked
// sensitive (from Ansible Vault) with the masker, before anything prints.
func maskInventorySecrets(u *ui, inv *inventory.Inventory) {
	if inv == nil {
		return
	}
	for _, h := range inv.Hosts() {
		for _, v := range h.Vars {
			for _, s := range lang.SensitiveStrings(v) {
				u.masker.Add(s)
			}
		}
	}
}

// maskInputSecrets does the same for variable values from encrypted files.
func maskInputSecrets(u *ui, in run.Inputs) {
	for _, iv := range in {
		for _, s := range lang.SensitiveStrings(iv.Value) {
			u.masker.Add(s)
		}
	}
}
