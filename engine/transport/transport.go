// Package transport connects drover to a host: run commands, move files.
//
// A Conn is one long-lived connection per host for the whole run. It is safe
// for concurrent use: several commands and transfers may be in flight at once
// on one SSH connection (one channel each).
//
// Values placed in a command line must be quoted with engine/shell; the
// transport never builds command lines from user values itself except through
// that package.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Cmd is one command to run on a host through `sh -c`.
type Cmd struct {
	// Command is a POSIX sh command line, already quoted (engine/shell).
	Command string
	// Stdin, when set, is copied to the command's standard input, which is
	// then closed. When nil the command reads EOF.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the output as it arrives (for
	// streaming); otherwise the output is captured into Result.
	Stdout, Stderr io.Writer
}

// Result is what a finished command produced. A non-zero exit status is not
// an error of the transport: it is reported in ExitCode.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	// Signal is set when the remote command was killed by a signal.
	Signal string
}

// PutOptions controls how a file is written on the host.
type PutOptions struct {
	// Mode of the file; 0 means 0644 for a new file.
	Mode fs.FileMode
}

// Conn is a connection to one host.
type Conn interface {
	// Run runs cmd and waits for it. The error is non-nil only when the command
	// could not be run or its status could not be read (connection lost,
	// context cancelled); a command that ran and failed has a nil error and a
	// non-zero Result.ExitCode. On cancellation the remote command is signalled
	// and the channel closed.
	Run(ctx context.Context, cmd Cmd) (Result, error)
	// Put writes the content of r to path atomically: into a temporary file in
	// the same directory, which is then renamed over path. A reader of path
	// sees the old content or the new, never a truncated file.
	Put(ctx context.Context, path string, r io.Reader, opts PutOptions) error
	// Get copies the content of the file at path to w.
	Get(ctx context.Context, path string, w io.Writer) error
	// Stats reports what the connection has done so far.
	Stats() Stats
	// Close closes the connection. Commands in flight are cut.
	Close() error
}

// Stats counts the work done on a connection. A round trip is one exchange
// that waits for the host: a command run, or a file transfer.
type Stats struct {
	RoundTrips  int64
	BytesSent   int64
	BytesRecv   int64
	ConnectTime time.Duration
	Dials       int64 // TCP/SSH handshakes made, including ProxyJump hops
	// ConnectTrips are the round trips connecting took to the target
	// itself: the TCP connect, then every turn of the SSH handshake and
	// authentication where drover wrote and then waited to read (version,
	// key exchange, service request, each authentication attempt). Not
	// counted in RoundTrips; 0 where not measured (local connections).
	ConnectTrips int64
}

// ErrorKind classifies connection failures, so that every failure gets its own
// message and hint, and so that reports can say "unreachable" vs "failed".
type ErrorKind int

const (
	ErrOther          ErrorKind = iota
	ErrDNS                      // the name did not resolve
	ErrRefused                  // nothing listens on the port
	ErrTimeout                  // no answer in time (TCP or SSH handshake)
	ErrAuth                     // the host refused every credential offered
	ErrHostKeyUnknown           // the host is not in known_hosts
	ErrHostKeyChanged           // the host presented a key different from known_hosts
	ErrHostKeyRevoked           // the key is marked @revoked
	ErrConnLost                 // an established connection broke
	ErrBecome                   // privilege escalation failed (sudo refused, wrong password)
)

func (k ErrorKind) String() string {
	switch k {
	case ErrDNS:
		return "dns"
	case ErrRefused:
		return "refused"
	case ErrTimeout:
		return "timeout"
	case ErrAuth:
		return "auth"
	case ErrHostKeyUnknown:
		return "host-key-unknown"
	case ErrHostKeyChanged:
		return "host-key-changed"
	case ErrHostKeyRevoked:
		return "host-key-revoked"
	case ErrConnLost:
		return "connection-lost"
	case ErrBecome:
		return "become"
	}
	return "other"
}

// Error is a connection failure with its kind and a hint for the user.
type Error struct {
	Kind ErrorKind
	Host string // the inventory name of the host
	Addr string // host:port that was dialled
	Hint string // what the user can do about it, one sentence
	Err  error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s (%s): %v", e.Host, e.Addr, e.Err)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a transport error, or ErrOther.
func KindOf(err error) ErrorKind {
	var te *Error
	if errors.As(err, &te) {
		return te.Kind
	}
	return ErrOther
}

// Unreachable reports whether err means the host could not be reached or
// authenticated at all (as opposed to a command failing on it).
func Unreachable(err error) bool {
	switch KindOf(err) {
	case ErrDNS, ErrRefused, ErrTimeout, ErrAuth, ErrHostKeyUnknown, ErrHostKeyChanged, ErrHostKeyRevoked, ErrConnLost:
		return true
	}
	return false
}
