package provision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKey is the key a host presented.
type HostKey struct{ ssh.PublicKey }

var errGotKey = errors.New("host key read")

// WaitSSH waits until addr:port completes an SSH key exchange, and returns
// the host key. It does not log in.
func WaitSSH(ctx context.Context, addr string, port int) (HostKey, error) {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	var last error
	for {
		key, err := readHostKey(ctx, hp)
		if err == nil {
			return key, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return HostKey{}, fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

func readHostKey(ctx context.Context, hp string) (HostKey, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", hp)
	if err != nil {
		return HostKey{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "drover",
		// The key is only read here (the handshake stops at it): whether
		// to trust it is the caller's decision.
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errGotKey
		},
	}
	_, _, _, err = ssh.NewClientConn(c, hp, cfg)
	if key != nil {
		return HostKey{key}, nil
	}
	if err == nil {
		err = errors.New("no host key")
	}
	return HostKey{}, err
}

// KnownHostsTrust returns a TrustKey for ApplyOptions that writes the key of
// each host created in this run to the known_hosts file (created when
// missing); a line already there for the address is replaced, since a
// created instance may reuse an address of a destroyed one.
func KnownHostsTrust(file string) func(h Host, key HostKey) error {
	return func(h Host, key HostKey) error {
		hp := knownhosts.Normalize(net.JoinHostPort(h.Address, strconv.Itoa(h.Port)))
		line := knownhosts.Line([]string{hp}, key.PublicKey)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return err
		}
		knownMu.Lock()
		defer knownMu.Unlock()
		old, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		var keep []string
		for _, l := range strings.Split(string(old), "\n") {
			if l == "" {
				continue
			}
			if f := strings.Fields(l); len(f) > 0 && f[0] == hp {
				continue
			}
			keep = append(keep, l)
		}
		keep = append(keep, line)
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, file)
	}
}

var knownMu sync.Mutex
