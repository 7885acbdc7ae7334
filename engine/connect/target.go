package connect

import (
	"fmt"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/inventory"
)

// Target maps an inventory host to what the transport dials: address, user,
// keys, known_hosts files, and its ProxyJump hops (resolved by
// inv.JumpHosts, outermost first, each with its own host-key check).
// becomePass is the sudo password (from --ask-become-pass), used when the
// host becomes another user; it is shared, not copied.
func Target(inv *inventory.Inventory, h *inventory.Host, becomePass []byte) (transport.Target, error) {
	return TargetWith(inv, h, inventory.Overrides{}, becomePass)
}

// TargetWith is Target with the command line's overrides: all of them for
// the host, and for its hops those that apply per hop (Overrides.ForHops).
// h itself is not changed.
func TargetWith(inv *inventory.Inventory, h *inventory.Host, ov inventory.Overrides, becomePass []byte) (transport.Target, error) {
	c := *h
	inventory.ApplyOverrides(&c, ov)
	t := hostTarget(&c)
	if c.Become.Enabled {
		SetBecome(&t, true, c.Become.User, becomePass)
	}
	if t.Local {
		return t, nil
	}
	hops, err := inv.JumpHosts(&c)
	if err != nil {
		return transport.Target{}, fmt.Errorf("connection to %s: %w", h.Name, err)
	}
	hopOv := ov.ForHops()
	for _, hop := range hops {
		inventory.ApplyOverrides(hop, hopOv) // hops are copies
		// A hop only forwards the connection: it never becomes anyone.
		t.Jumps = append(t.Jumps, hostTarget(hop))
	}
	return t, nil
}

// SetBecome makes t run its commands as user (root when "") with sudo and
// the become password, or, when !enabled, as the login user. A play's
// become is set this way over the inventory's.
func SetBecome(t *transport.Target, enabled bool, user string, password []byte) {
	if !enabled {
		t.Become.Enabled = false
		return
	}
	if user == "" {
		user = "root"
	}
	t.Become = transport.BecomeConfig{Enabled: true, User: user, Password: password}
}

func hostTarget(h *inventory.Host) transport.Target {
	return transport.Target{
		Name:            h.Name,
		Local:           h.Connection == inventory.ConnLocal,
		Address:         h.Address,
		Port:            h.Port,
		User:            h.User,
		Identities:      h.Identities,
		KnownHostsFiles: h.KnownHostsFiles,
		ConnectTimeout:  h.ConnectTimeout,
		// The inventory's StrictHostKeyChecking=accept-new (or no, taken
		// as accept-new); --accept-new-host-keys applies to every host.
		AcceptNewHostKeys: h.AcceptsNewHostKeys(),
		IdentitiesOnly:    h.IdentitiesOnly && len(h.Identities) > 0,
	}
}
