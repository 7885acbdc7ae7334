package transport

import (
	"context"
	"time"
)

// Target is everything needed to reach one host. It is built from an
// inventory host (with ssh_config applied) by the caller; the transport does
// not read inventories.
type Target struct {
	Name       string // inventory name, for messages and events
	Local      bool   // run on this machine without SSH
	Address    string
	Port       int
	User       string
	Identities []string // private key files to offer after the agent's keys
	// Jumps are the ProxyJump hops, outermost first. Each hop's host key is
	// verified like the target's.
	Jumps []Target
	// KnownHostsFiles overrides OpenSSH's default files for this host
	// (UserKnownHostsFile from ssh_config); empty means the defaults.
	KnownHostsFiles []string
	ConnectTimeout  time.Duration
	Become          BecomeConfig
	// AcceptNewHostKeys is Options.AcceptNewHostKeys for this host alone
	// (StrictHostKeyChecking=accept-new in its inventory).
	AcceptNewHostKeys bool
	// IdentitiesOnly offers only Identities, and agent keys whose public
	// key is one of theirs (a .pub file beside it), as OpenSSH does.
	IdentitiesOnly bool
}

// BecomeConfig says whether and how to run as another user.
type BecomeConfig struct {
	Enabled bool
	User    string // default root
	// Password for sudo, when it needs one. It is written to sudo's stdin,
	// never placed on a command line, in the environment or in any output.
	Password []byte
}

// Options are the run-wide connection settings (from flags).
type Options struct {
	// KnownHostsFile, when set, replaces every other known_hosts file (the
	// --known-hosts flag).
	KnownHostsFile string
	// AcceptNewHostKeys trusts and records the key of a host that is not yet
	// in known_hosts, like OpenSSH's StrictHostKeyChecking=accept-new. A
	// changed key is refused regardless.
	AcceptNewHostKeys bool
	// HashKnownHosts writes accepted host names hashed, like OpenSSH's
	// HashKnownHosts=yes (Debian's default), instead of in clear text.
	HashKnownHosts bool
	// NoAgent disables ssh-agent even when SSH_AUTH_SOCK is set.
	NoAgent bool
	// Passphrase is asked for an encrypted identity file, once per file per
	// run. Nil means encrypted keys are skipped with a warning.
	Passphrase func(keyFile string) ([]byte, error)
	// ConnectTimeout bounds the TCP connect plus SSH handshake per hop.
	ConnectTimeout time.Duration
	// KeepAlive is the interval of keepalive requests; 0 means the default
	// (15s), negative disables them. Three unanswered requests close the
	// connection.
	KeepAlive time.Duration
}

// Connector opens connections; the SSH and local transports implement it.
type Connector interface {
	Connect(ctx context.Context, t Target) (Conn, error)
}
