package main

import (
	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/connect"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// registerConnectionFlags adds to every command under root the flags that
// override inventory connection settings; inventory.Flags lists them (its
// field table), so a new one needs no code here.
func registerConnectionFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	for _, f := range inventory.Flags() {
		if f.Bool {
			pf.BoolP(f.Name, f.Shorthand, f.Default == "true", f.Usage)
		} else {
			pf.StringP(f.Name, f.Shorthand, f.Default, f.Usage)
		}
	}
}

// cliOverrides are the connection flags given on this command line (a
// flag left at its default overrides nothing).
func cliOverrides(cmd *cobra.Command) (inventory.Overrides, error) {
	var ov inventory.Overrides
	for _, f := range inventory.Flags() {
		fl := cmd.Flags().Lookup(f.Name)
		if fl == nil || !fl.Changed {
			continue
		}
		if err := ov.Set(f.Name, fl.Value.String()); err != nil {
			return ov, usageErrorf("%w", err)
		}
	}
	return ov, nil
}

// withOverrides returns copies of the selected hosts with the command-line
// overrides applied. The inventory's own hosts stay as they are, so that a
// bastion that is also selected still serves as a jump hop with its
// inventory settings: `-u admin` is for the targets, not their hops.
func withOverrides(hosts []*inventory.Host, ov inventory.Overrides) []*inventory.Host {
	out := make([]*inventory.Host, len(hosts))
	for i, h := range hosts {
		c := *h
		inventory.ApplyOverrides(&c, ov)
		out[i] = &c
	}
	return out
}

// connector is how a command reaches hosts: the inventory, the command
// line's overrides, the become password (asked once, with -K) and the one
// dialer of the run.
type connector struct {
	inv        *inventory.Inventory
	ov         inventory.Overrides
	becomePass []byte
	dialer     *transport.Dialer
}

// newConnector asks for the become password when -K says so and makes the
// dialer. The caller closes c.dialer.
func newConnector(cmd *cobra.Command, u *ui, inv *inventory.Inventory, ov inventory.Overrides) (*connector, error) {
	c := &connector{inv: inv, ov: ov}
	prompt := newPrompter(u.masker, cmd.InOrStdin())
	if global.askBecomePass {
		var err error
		if c.becomePass, err = prompt.becomePassword(); err != nil {
			return nil, err
		}
	}
	timeout := transport.DefaultConnectTimeout
	if ov.ConnectTimeout != nil {
		timeout = *ov.ConnectTimeout
	}
	c.dialer = transport.NewDialer(transport.Options{
		KnownHostsFile:    global.knownHosts,
		AcceptNewHostKeys: global.acceptNewHostKeys,
		Passphrase:        prompt.passphrase,
		ConnectTimeout:    timeout,
	})
	return c, nil
}

// target is what the transport dials for h, the overrides applied to it and,
// those that are per hop, to its jump hops.
func (c *connector) target(h *inventory.Host) (transport.Target, error) {
	return connect.TargetWith(c.inv, h, c.ov, c.becomePass)
}
