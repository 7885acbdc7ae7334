package inventory

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"net"
	"strconv"
	"strings"
)

// jumpSpec is one ProxyJump hop as written: [user@]host[:port].
type jumpSpec struct {
	user string
	host string
	port int // 0: not given
}

func (j jumpSpec) String() string {
	s := j.host
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if j.user != "" {
		s = j.user + "@" + s
	}
	if j.port != 0 {
		s += ":" + strconv.Itoa(j.port)
	}
	return s
}

// parseJumpList parses OpenSSH's ProxyJump syntax: comma-separated hops,
// each [user@]host[:port] or ssh://[user@]host[:port], IPv6 in brackets.
func parseJumpList(s string) ([]jumpSpec, error) {
	var out []jumpSpec
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("proxy jump %q has an empty hop", s)
		}
		j, err := parseJump(part)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func parseJump(s string) (jumpSpec, error) {
	var j jumpSpec
	orig := s
	s = strings.TrimPrefix(s, "ssh://")
	if i := strings.LastIndex(s, "@"); i >= 0 {
		j.user, s = s[:i], s[i+1:]
		if j.user == "" {
			return j, fmt.Errorf("proxy jump hop %q has an empty user", orig)
		}
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return j, fmt.Errorf("proxy jump hop %q has an unclosed [", orig)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return j, fmt.Errorf("proxy jump hop %q: unexpected %q after ]", orig, rest)
			}
			port = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	case strings.Count(s, ":") > 1 && net.ParseIP(s) != nil:
		host = s // a bare IPv6 address
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return j, fmt.Errorf("proxy jump hop %q has no valid host name", orig)
	}
	j.host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return j, fmt.Errorf("proxy jump hop %q: %q is not a port number", orig, port)
		}
		j.port = n
	}
	return j, nil
}

// maxJumpDepth bounds the chain of hops reached through the first hop's own
// ProxyJump.
const maxJumpDepth = 8

// JumpHosts resolves h.ProxyJump into the hosts to go through, outermost
// first. A hop that names an inventory host is that host (a user or port
// written in the hop overrides the host's); any other hop is dialled as
// written, completed from ssh_config (HostName, User, Port, IdentityFile,
// UserKnownHostsFile, ConnectTimeout) and the built-in defaults.
//
// As with OpenSSH, the first hop's own ProxyJump is followed (it is reached
// the way it would be reached directly), and the later hops' own ProxyJump
// settings are ignored (they are reached through the previous hop). A loop is
// an error.
func (inv *Inventory) JumpHosts(h *Host) ([]*Host, error) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.jumpChain(h, []string{h.Name}, 0)
}

func (inv *Inventory) jumpChain(h *Host, path []string, depth int) ([]*Host, error) {
	if h.ProxyJump == "" || h.Connection == ConnLocal {
		return nil, nil
	}
	if depth > maxJumpDepth {
		return nil, fmt.Errorf("host %q: more than %d nested proxy jumps (%s); simplify the chain", path[0], maxJumpDepth, strings.Join(path, " -> "))
	}
	specs, err := parseJumpList(h.ProxyJump)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", h.Name, err)
	}
	var out []*Host
	for i, sp := range specs {
		hop, err := inv.jumpHost(sp, h)
		if err != nil {
			return nil, err
		}
		for _, p := range path {
			if p == hop.Name {
				return nil, fmt.Errorf("host %q: proxy jump loop %s -> %s; fix proxy_jump (or ProxyJump in ssh_config)", path[0], strings.Join(path, " -> "), hop.Name)
			}
		}
		if i == 0 {
			inner, err := inv.jumpChain(hop, append(path, hop.Name), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		}
		hop.ProxyJump = ""
		out = append(out, hop)
	}
	return out, nil
}

// jumpHost makes the Host for one hop of target's ProxyJump. It returns a
// copy: callers may not change inventory hosts through it.
func (inv *Inventory) jumpHost(sp jumpSpec, target *Host) (*Host, error) {
	if ih, ok := inv.byName[sp.host]; ok {
		if ih.Connection == ConnLocal {
			return nil, fmt.Errorf("host %q: proxy jump host %q has connection local; it must be reachable over SSH", target.Name, ih.Name)
		}
		c := *ih
		if sp.user != "" {
			c.User = sp.user
		}
		if sp.port != 0 {
			c.Port = sp.port
		}
		return &c, nil
	}
	// Any other hop: the hop as written, over ssh_config and the built-in
	// defaults (not the inventory's defaults or groups: it is not a host of
	// the inventory).
	var written settings
	if sp.user != "" {
		written.vals[keyUser] = sp.user
	}
	if sp.port != 0 {
		written.vals[keyPort] = sp.port
	}
	var lookupErr error
	var diags hcl.Diagnostics
	hop := resolve(sp.host, &written, func(alias string) *settings {
		sh, err := inv.ssh.lookup(alias)
		lookupErr = err
		return sh
	}, &diags)
	if lookupErr != nil {
		return nil, fmt.Errorf("host %q: proxy jump %s: %w", target.Name, sp, lookupErr)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("host %q: proxy jump %s: %s", target.Name, sp, diags.Error())
	}
	hop.Vars = nil
	hop.Source = fmt.Sprintf("proxy jump of %s", target.Name)
	return hop, nil
}
