package transport

import "context"

// Dialer picks the transport for each target: Local for Target.Local, SSH
// otherwise. Use one Dialer per run so that every host shares the SSH
// connector's caches (decrypted keys, ssh-agent, known_hosts). It implements
// Connector and is safe for concurrent use.
type Dialer struct {
	ssh   *SSHConnector
	local Local
}

// NewDialer returns a Dialer for opts.
func NewDialer(opts Options) *Dialer {
	return &Dialer{ssh: NewSSH(opts)}
}

// Dial connects to t.
func (d *Dialer) Dial(ctx context.Context, t Target) (Conn, error) {
	if t.Local {
		return d.local.Connect(ctx, t)
	}
	return d.ssh.Connect(ctx, t)
}

// Connect is Dial, so that a Dialer is a Connector.
func (d *Dialer) Connect(ctx context.Context, t Target) (Conn, error) { return d.Dial(ctx, t) }

// Close releases the Dialer's shared resources; open connections stay open.
func (d *Dialer) Close() error { return d.ssh.Close() }

// Dial connects to one target with a Dialer of its own. For many hosts use
// NewDialer once, so that passphrases are asked once.
func Dial(ctx context.Context, t Target, opts Options) (Conn, error) {
	d := NewDialer(opts)
	defer d.Close()
	return d.Dial(ctx, t)
}
