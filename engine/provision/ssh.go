package provision

import (
	"bytes"
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

// ErrHostKeyMismatch is wrapped by VerifyHostKeys' error when the host
// presents a key the provider does not report.
var ErrHostKeyMismatch = errors.New("host key mismatch")

// parseKeys reads host keys in authorized_keys format, as providers report
// them.
func parseKeys(lines []string) ([]HostKey, error) {
	var out []HostKey
	for _, l := range lines {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			return nil, fmt.Errorf("the provider reported a host key drover cannot read (%q): %w", clip(l), err)
		}
		out = append(out, HostKey{k})
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// VerifyHostKeys completes an SSH key exchange with addr:port offering only
// the algorithms of keys, and accepts the host only if it presents one of
// them: the strict check a provider's reported keys allow. It does not log
// in.
func VerifyHostKeys(ctx context.Context, addr string, port int, keys []HostKey) error {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	var algos []string
	for _, k := range keys {
		if k.Type() == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		algos = append(algos, k.Type())
	}
	var seen ssh.PublicKey
	var mismatch error
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", hp)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	cfg := &ssh.ClientConfig{
		User:              "drover",
		HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			seen = k
			for _, want := range keys {
				if bytes.Equal(k.Marshal(), want.Marshal()) {
					return errGotKey
				}
			}
			var fps []string
			for _, want := range keys {
				fps = append(fps, want.Type()+" "+ssh.FingerprintSHA256(want))
			}
			mismatch = fmt.Errorf("%w: it presented %s %s, the provider's API reports %s", ErrHostKeyMismatch, k.Type(), ssh.FingerprintSHA256(k), strings.Join(fps, ", "))
			return mismatch
		},
	}
	_, _, _, err = ssh.NewClientConn(c, hp, cfg)
	switch {
	case mismatch != nil:
		return mismatch
	case seen != nil:
		return nil
	case err == nil:
		err = errors.New("no host key")
	}
	return fmt.Errorf("checking the host key the provider reports: %w", err)
}

// KnownHostsTrust returns a TrustKey for ApplyOptions that writes host keys
// to the known_hosts file (created when missing); lines already there for
// the address are replaced, since a created instance may reuse an address
// of a destroyed one.
func KnownHostsTrust(file string) func(h Host, keys []HostKey) error {
	return func(h Host, keys []HostKey) error {
		hp := knownhosts.Normalize(net.JoinHostPort(h.Address, strconv.Itoa(h.Port)))
		var lines []string
		for _, k := range keys {
			lines = append(lines, knownhosts.Line([]string{hp}, k.PublicKey))
		}
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
		keep = append(keep, lines...)
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, file)
	}
}

var knownMu sync.Mutex
