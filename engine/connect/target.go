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
	t := hostTarget(h)
	if h.Become.Enabled {
		user := h.Become.User
		if user == "" {
			user = "root"
		}
		t.Become = transport.BecomeConfig{Enabled: true, User: user, Password: becomePass}
	}
	if t.Local {
		return t, nil
	}
	hops, err := inv.JumpHosts(h)
	if err != nil {
		return transport.Target{}, fmt.Errorf("connection to %s: %w", h.Name, err)
	}
	for _, hop := range hops {
		// A hop only forwards the connection: it never becomes anyone.
		t.Jumps = append(t.Jumps, hostTarget(hop))
	}
	return t, nil
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
	}
}
