package transport

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// classifyDial gives the kind and hint of a failed TCP connect, direct or
// through a jump host (whose sshd reports the failure as text).
func classifyDial(err error, t Target) (ErrorKind, string) {
	port := t.Port
	if port == 0 {
		port = 22
	}
	var dnsErr *net.DNSError
	var ne net.Error
	msg := strings.ToLower(err.Error())
	switch {
	case errors.As(err, &dnsErr), strings.Contains(msg, "name or service not known"),
		strings.Contains(msg, "no address associated"), strings.Contains(msg, "temporary failure in name resolution"):
		return ErrDNS, fmt.Sprintf("the name %q does not resolve; check the host's address in the inventory or ssh_config (HostName) and DNS", t.Address)
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(msg, "connection refused"):
		return ErrRefused, fmt.Sprintf("nothing listens on port %d; check that sshd runs on the host and the port in the inventory or ssh_config", port)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		strings.Contains(msg, "no route to host"), strings.Contains(msg, "network is unreachable"):
		return ErrTimeout, "the host is unreachable from here (no route); check the address, the network and any firewall"
	case errors.As(err, &ne) && ne.Timeout(), strings.Contains(msg, "connection timed out"):
		return ErrTimeout, "check that the host is up and that no firewall drops SSH, or raise the connect timeout"
	}
	return ErrOther, ""
}
