package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyring loads the credentials offered to hosts: identity files and the
// agent's keys (see credentials for the order). Decrypted identity files are cached for the life of the
// connector, so a passphrase is asked once per file however many hosts
// connect at the same time.
type keyring struct {
	opts Options

	agentOnce sync.Once
	agent     agent.ExtendedAgent // nil when disabled or unreachable
	agentConn net.Conn
	agentErr  error

	mu    sync.Mutex
	files map[string]*keyFile
}

// keyFile is one identity file, loaded at most once.
type keyFile struct {
	once   sync.Once
	signer ssh.Signer
	// skip says why the file is not offered (absent, encrypted without a
	// prompt, wrong passphrase); err is set when that is fatal.
	skip string
	err  error
}

func newKeyring(opts Options) *keyring {
	return &keyring{opts: opts, files: map[string]*keyFile{}}
}

// defaultIdentities are the files OpenSSH tries when none is configured.
func defaultIdentities() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

// credentials returns the signers to offer for t, and a description of what
// was offered (for an authentication failure message; never secrets). The
// order saves round trips: each key the host refuses costs one, and sshd
// disconnects after MaxAuthTries (6) refusals. Identity files the target
// names come first, since they are the keys meant for it; then the agent's
// keys; then, when the target names none, OpenSSH's default files. An
// explicitly configured identity file that cannot be read is an error
// naming it.
func (k *keyring) credentials(t Target) ([]ssh.Signer, []string, error) {
	var signers []ssh.Signer
	var tried []string
	seen := map[string]bool{}
	add := func(s ssh.Signer) bool {
		blob := string(s.PublicKey().Marshal())
		if seen[blob] {
			return false
		}
		seen[blob] = true
		signers = append(signers, s)
		return true
	}
	addFiles := func(files []string, explicit bool) error {
		for _, f := range files {
			f = expandHome(f)
			kf := k.load(f, explicit)
			if kf.err != nil {
				return kf.err
			}
			if kf.signer == nil {
				if kf.skip != "" {
					tried = append(tried, f+" ("+kf.skip+")")
				}
				continue
			}
			if add(kf.signer) {
				tried = append(tried, f)
			}
		}
		return nil
	}

	explicit := len(t.Identities) > 0
	if explicit {
		if err := addFiles(t.Identities, true); err != nil {
			return nil, tried, err
		}
	}
	// IdentitiesOnly: of the agent's keys, only those of the identity files
	// (loaded above, or whose .pub is beside an encrypted one).
	var only map[string]bool
	if explicit && t.IdentitiesOnly {
		only = identityBlobs(t.Identities, signers)
	}
	if ag := k.agentClient(); ag != nil {
		if as, err := ag.Signers(); err != nil {
			tried = append(tried, "ssh-agent (error: "+err.Error()+")")
		} else {
			n := 0
			for _, s := range as {
				if only != nil && !only[string(s.PublicKey().Marshal())] {
					continue
				}
				if add(s) {
					n++
				}
			}
			tried = append(tried, fmt.Sprintf("ssh-agent (%d keys)", n))
		}
	} else if k.agentErr != nil {
		tried = append(tried, "ssh-agent (unavailable: "+k.agentErr.Error()+")")
	}
	if !explicit {
		if err := addFiles(defaultIdentities(), false); err != nil {
			return nil, tried, err
		}
	}
	return signers, tried, nil
}

// identityBlobs are the public keys of the identity files: those loaded
// (signers) and those of the files' .pub companions.
func identityBlobs(files []string, signers []ssh.Signer) map[string]bool {
	out := map[string]bool{}
	for _, s := range signers {
		out[string(s.PublicKey().Marshal())] = true
	}
	for _, f := range files {
		b, err := os.ReadFile(expandHome(f) + ".pub")
		if err != nil {
			continue // no .pub: only the file itself can be offered
		}
		if pk, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			out[string(pk.Marshal())] = true
		}
	}
	return out
}

func (k *keyring) agentClient() agent.ExtendedAgent {
	k.agentOnce.Do(func() {
		if k.opts.NoAgent {
			return
		}
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			k.agentErr = err
			return
		}
		// The agent client serialises requests itself, so one connection is
		// shared by every host.
		k.agentConn = c
		k.agent = agent.NewClient(c)
	})
	return k.agent
}

func (k *keyring) load(file string, explicit bool) *keyFile {
	k.mu.Lock()
	kf, ok := k.files[file]
	if !ok {
		kf = &keyFile{}
		k.files[file] = kf
	}
	k.mu.Unlock()
	kf.once.Do(func() { k.read(kf, file, explicit) })
	return kf
}

func (k *keyring) read(kf *keyFile, file string, explicit bool) {
	pem, err := os.ReadFile(file)
	if err != nil {
		if !explicit {
			if !errors.Is(err, fs.ErrNotExist) {
				kf.skip = "unreadable"
			}
			return
		}
		kf.err = &Error{Kind: ErrAuth, Err: fmt.Errorf("identity file %s: %w", file, err),
			Hint: "fix the IdentityFile path in ssh_config or the inventory, or remove it to use ssh-agent and ~/.ssh/id_*"}
		return
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		kf.signer = signer
		return
	case errors.As(err, &missing):
		if k.opts.Passphrase == nil {
			kf.skip = "encrypted, no passphrase prompt available"
			return
		}
		pass, perr := k.opts.Passphrase(file)
		if perr != nil {
			kf.skip = "encrypted, passphrase not given: " + perr.Error()
			return
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
		clear(pass)
		if err != nil {
			kf.skip = "encrypted, wrong passphrase"
			return
		}
		kf.signer = signer
	default:
		if explicit {
			kf.err = &Error{Kind: ErrAuth, Err: fmt.Errorf("identity file %s: %w", file, err),
				Hint: "the file is not a private key OpenSSH can read; point IdentityFile at the private key, not the .pub"}
			return
		}
		kf.skip = "not a usable private key"
	}
}

// expandHome expands a leading ~/ as ssh_config does.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

func (k *keyring) close() {
	k.agentOnce.Do(func() {}) // no agent dial may start after this
	if k.agentConn != nil {
		_ = k.agentConn.Close()
	}
}
