package transport

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsWriteMu serialises appends to known_hosts files across every
// connector in the process, so that many hosts accepted at once never
// interleave or duplicate lines.
var knownHostsWriteMu sync.Mutex

// hostKeys finds and verifies host keys the way OpenSSH does. It caches parsed
// known_hosts databases per file list and drops the cache when it appends.
type hostKeys struct {
	opts Options

	mu  sync.Mutex
	dbs map[string]*knownhosts.HostKeyDB
}

func newHostKeys(opts Options) *hostKeys {
	return &hostKeys{opts: opts, dbs: map[string]*knownhosts.HostKeyDB{}}
}

// files returns the known_hosts files to consult for t, in OpenSSH's order:
// --known-hosts alone; else the target's UserKnownHostsFile list; else
// ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
func (h *hostKeys) files(t Target) []string {
	if h.opts.KnownHostsFile != "" {
		return []string{h.opts.KnownHostsFile}
	}
	if len(t.KnownHostsFiles) > 0 {
		return t.KnownHostsFiles
	}
	var files []string
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".ssh", "known_hosts"))
	}
	return append(files, "/etc/ssh/ssh_known_hosts")
}

// writeFile is the user file that accepted keys are appended to: the first
// file OpenSSH would write to (the first UserKnownHostsFile).
func (h *hostKeys) writeFile(t Target) string {
	return h.files(t)[0]
}

// db returns the parsed known_hosts database for the existing files of t.
// Missing files are skipped, as OpenSSH does.
func (h *hostKeys) db(t Target) (*knownhosts.HostKeyDB, error) {
	var existing []string
	for _, f := range h.files(t) {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	key := strings.Join(existing, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	if db, ok := h.dbs[key]; ok {
		return db, nil
	}
	db, err := knownhosts.NewDB(existing...)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	h.dbs[key] = db
	return db, nil
}

func (h *hostKeys) invalidate() {
	h.mu.Lock()
	h.dbs = map[string]*knownhosts.HostKeyDB{}
	h.mu.Unlock()
}

// verifier is the host-key check for one hop. It records the classified error
// so that the caller can return it instead of x/crypto's generic handshake
// error.
type verifier struct {
	h      *hostKeys
	t      Target
	addr   string // host:port as dialled and as looked up in known_hosts
	db     *knownhosts.HostKeyDB
	failed *Error
}

func (h *hostKeys) verifier(t Target, addr string) (*verifier, error) {
	db, err := h.db(t)
	if err != nil {
		return nil, err
	}
	return &verifier{h: h, t: t, addr: addr, db: db}, nil
}

// algorithms returns the host key algorithms known for the host, so that the
// server presents a key type we can check (or nil: any).
func (v *verifier) algorithms() []string {
	if algos := v.db.HostKeyAlgorithms(v.addr); len(algos) > 0 {
		// Of the known keys, ask for the one cheapest for the host to sign
		// with (ed25519, then ECDSA, then RSA), whatever their order in
		// known_hosts: the host signs once per connection.
		algos = slices.Clone(algos)
		slices.SortStableFunc(algos, func(a, b string) int { return hostKeyCost(a) - hostKeyCost(b) })
		return algos
	}
	// Unknown host: prefer the key types in OpenSSH's order, so that the
	// key recorded or shown is the one `ssh` and `ssh-keyscan` would see.
	return []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
}

// hostKeyCost ranks host key algorithms by the host's cost of signing.
func hostKeyCost(algo string) int {
	switch {
	case strings.Contains(algo, "ed25519"):
		return 0
	case strings.Contains(algo, "ecdsa"):
		return 1
	case strings.Contains(algo, "rsa"):
		return 2
	}
	return 3
}

func (v *verifier) callback(_ string, remote net.Addr, key ssh.PublicKey) error {
	err := v.db.HostKeyCallback()(v.addr, remote, key)
	if err == nil {
		return nil
	}
	var revoked *xknownhosts.RevokedError
	switch {
	case errors.As(err, &revoked):
		v.failed = &Error{Kind: ErrHostKeyRevoked, Host: v.t.Name, Addr: v.addr,
			Err: fmt.Errorf("the host key %s %s is marked @revoked in %s:%d",
				key.Type(), ssh.FingerprintSHA256(key), revoked.Revoked.Filename, revoked.Revoked.Line),
			Hint: "the host's key was revoked on purpose: do not connect until the host has a new key that you have verified and added to known_hosts"}
	case knownhosts.IsHostKeyChanged(err):
		v.failed = v.changed(key, err)
	case knownhosts.IsHostUnknown(err):
		if v.h.opts.AcceptNewHostKeys || v.t.AcceptNewHostKeys {
			if aerr := v.h.accept(v.t, v.addr, remote, key); aerr != nil {
				var te *Error
				if errors.As(aerr, &te) {
					v.failed = te
				} else {
					v.failed = &Error{Kind: ErrHostKeyUnknown, Host: v.t.Name, Addr: v.addr, Err: aerr,
						Hint: "could not record the new host key; check that the known_hosts file is writable"}
				}
				return v.failed
			}
			return nil
		}
		v.failed = v.unknown(key)
	default:
		v.failed = &Error{Kind: ErrOther, Host: v.t.Name, Addr: v.addr, Err: fmt.Errorf("checking host key: %w", err)}
	}
	return v.failed
}

func (v *verifier) unknown(key ssh.PublicKey) *Error {
	host, port := splitAddr(v.addr)
	portFlag := ""
	if port != "22" {
		portFlag = "-p " + port + " "
	}
	keyType := strings.TrimPrefix(key.Type(), "ssh-")
	if strings.HasPrefix(keyType, "ecdsa") {
		keyType = "ecdsa"
	}
	return &Error{Kind: ErrHostKeyUnknown, Host: v.t.Name, Addr: v.addr,
		Err: fmt.Errorf("host key is not known: the host presented %s key %s, which is in none of %s",
			key.Type(), ssh.FingerprintSHA256(key), strings.Join(v.h.files(v.t), ", ")),
		Hint: fmt.Sprintf("check that fingerprint against the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then run: ssh-keyscan %s-t %s %s >> %s (or re-run with --accept-new-host-keys)",
			keyType, portFlag, keyType, host, v.h.writeFile(v.t))}
}

func (v *verifier) changed(key ssh.PublicKey, err error) *Error {
	var ke *xknownhosts.KeyError
	errors.As(err, &ke)
	var b strings.Builder
	fmt.Fprintf(&b, "WARNING: THE HOST KEY HAS CHANGED. Someone may be intercepting this connection (man-in-the-middle), or the host was reinstalled.\n")
	fmt.Fprintf(&b, "  presented: %s %s\n", key.Type(), ssh.FingerprintSHA256(key))
	files := map[string]bool{}
	for _, w := range ke.Want {
		fmt.Fprintf(&b, "  expected:  %s %s (%s:%d)\n", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line)
		files[w.Filename] = true
	}
	hint := "verify the new key with the host's administrator; only if the change is legitimate, remove the old entry"
	for f := range files {
		hint += fmt.Sprintf(" (ssh-keygen -R %s -f %s)", knownhosts.Normalize(v.addr), f)
		break
	}
	hint += " and connect again; drover never overrides a changed key"
	return &Error{Kind: ErrHostKeyChanged, Host: v.t.Name, Addr: v.addr, Err: errors.New(strings.TrimSuffix(b.String(), "\n")), Hint: hint}
}

// accept records key for an unknown host in the first user known_hosts file.
// Under the process-wide lock it re-reads that file: another connection may
// have recorded the host meanwhile (many targets behind one jump host).
func (h *hostKeys) accept(t Target, addr string, remote net.Addr, key ssh.PublicKey) error {
	file := h.writeFile(t)
	if file == os.DevNull {
		// Recording into /dev/null would trust every key on every
		// connection: verification turned off, which drover never does.
		return &Error{Kind: ErrHostKeyUnknown, Host: t.Name, Addr: addr,
			Err:  fmt.Errorf("host key is not known, and new keys would be recorded in %s, which keeps nothing", file),
			Hint: "name a real known_hosts file (UserKnownHostsFile, known_hosts_file or --known-hosts) so that accepted keys are verified next time"}
	}
	knownHostsWriteMu.Lock()
	defer knownHostsWriteMu.Unlock()

	if _, err := os.Stat(file); err == nil {
		fresh, err := knownhosts.NewDB(file)
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		err = fresh.HostKeyCallback()(addr, remote, key)
		switch {
		case err == nil:
			return nil // recorded meanwhile by another connection
		case knownhosts.IsHostKeyChanged(err):
			return (&verifier{h: h, t: t, addr: addr}).changed(key, err)
		case !knownhosts.IsHostUnknown(err):
			return err
		}
	}

	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", file, err)
	}
	line := knownHostsLine(addr, key, h.opts.HashKnownHosts)
	// Start on a fresh line if the file does not end with one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		if last, err := readLastByte(file, st.Size()); err == nil && last != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	h.invalidate()
	return nil
}

// knownHostsLine is the line OpenSSH itself would add for addr: "host" for
// port 22, "[host]:port" otherwise, hashed when HashKnownHosts is set.
func knownHostsLine(addr string, key ssh.PublicKey, hash bool) string {
	if !hash {
		return knownhosts.Line([]string{addr}, key) + "\n"
	}
	name := xknownhosts.HashHostname(knownhosts.Normalize(addr))
	return name + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal()) + "\n"
}

func readLastByte(file string, size int64) (byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return 0, err
	}
	return b[0], nil
}

func splitAddr(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, "22"
	}
	return host, port
}

func joinAddr(host string, port int) string {
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
