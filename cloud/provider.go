// Package cloud is what drover needs from a cloud API to provision hosts:
// create an instance, find instances by tag, read one, delete one
// (Provider), and where the API allows it resize one in place (Resizer) and
// read its SSH host keys (HostKeyReader). Each provider (cloud/digitalocean,
// cloud/linode, cloud/ec2) implements them with the provider's official SDK.
//
// There is no state file: every instance drover creates carries an ownership
// tag (OwnerTag), and listing by that tag is how drover finds what it owns.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Spec is the instance to create.
type Spec struct {
	Name     string
	Region   string // EC2: ignored (the client's region)
	Size     string // DigitalOcean size slug, Linode type, EC2 instance type
	Image    string // image slug, Linode image id, AMI id
	SSHKeys  []string
	Tags     []string // "k:v" or "k=v" (EC2 maps "k=v" to key k, value v)
	UserData string

	// EC2 only.
	SubnetID         string
	SecurityGroupIDs []string
	KeyName          string
	// Linode only: required by the API when deploying an image.
	RootPassword string
}

// Instance is an instance as the API reports it.
type Instance struct {
	ID     string
	Name   string
	Region string
	Size   string
	Image  string
	// Status is normalized: StatusPending, StatusRunning, StatusStopped or
	// the API's own word for anything else.
	Status      string
	PublicIPv4  string
	PrivateIPv4 string
	Tags        []string
}

// Address is the address drover connects to: the public IPv4, else the
// private one.
func (i Instance) Address() string {
	if i.PublicIPv4 != "" {
		return i.PublicIPv4
	}
	return i.PrivateIPv4
}

// HasTag reports whether the instance carries tag.
func (i Instance) HasTag(tag string) bool {
	for _, t := range i.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Normalized statuses.
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusStopped = "stopped"
)

// Provider is one cloud API.
type Provider interface {
	// Name is the provider's name: "digitalocean", "linode", "ec2".
	Name() string
	// Create starts creating an instance and returns it as first reported
	// (usually pending, often without addresses).
	Create(ctx context.Context, s Spec) (Instance, error)
	// Get reads one instance; an *APIError with NotFound when it is gone.
	Get(ctx context.Context, id string) (Instance, error)
	// List returns the instances carrying tag (all of them when tag is ""),
	// ordered by name then id. Deleted (terminated) instances are left out.
	List(ctx context.Context, tag string) ([]Instance, error)
	// Delete deletes the instance. Deleting one that is gone is not an error.
	Delete(ctx context.Context, id string) error
}

// Resizer is implemented by providers that can change an instance's size
// in place. Apply calls it for a planned "~ resize".
type Resizer interface {
	// Resize changes the size (DigitalOcean size slug, Linode type, EC2
	// instance type) of instance id and returns the instance once the API
	// reports it running with the new size. It may power the instance off
	// and on again (DigitalOcean, EC2); its addresses may change.
	Resize(ctx context.Context, id, size string) (Instance, error)
}

// HostKeyReader is implemented by providers whose API reports an
// instance's SSH host keys (EC2: the console output, where cloud-init prints
// them between "-----BEGIN SSH HOST KEY KEYS-----" lines). Provisioning
// pins those keys instead of trusting the first key it sees.
type HostKeyReader interface {
	// HostKeys returns the instance's host public keys in authorized_keys
	// format ("ssh-ed25519 AAAA... [comment]"). It returns nil, nil while the
	// keys are not available yet (the caller polls).
	HostKeys(ctx context.Context, id string) ([]string, error)
}

// APIError is an error answer of a cloud API.
type APIError struct {
	Provider string
	Op       string // "create droplet web-0"
	Status   int    // HTTP status
	Code     string // the API's error code, when it gives one
	Message  string // the API's message
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	return fmt.Sprintf("%s: %s: HTTP %d: %s", e.Provider, e.Op, e.Status, msg)
}

// Retryable reports whether the request may succeed if sent again: rate
// limits and transient server errors.
func (e *APIError) Retryable() bool {
	return e.Status == 429 || e.Status == 500 || e.Status == 502 || e.Status == 503 || e.Status == 504
}

// IsNotFound reports whether err is an API's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == 404
}

// IsRetryable reports whether err is an APIError worth retrying.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable()
}

// Backoff is how Retry waits between attempts.
type Backoff struct {
	Attempts int           // total attempts, at least 1
	Initial  time.Duration // first wait; doubled each time
	Max      time.Duration
}

// DefaultBackoff retries for about a minute.
var DefaultBackoff = Backoff{Attempts: 7, Initial: 500 * time.Millisecond, Max: 15 * time.Second}

// Retry calls fn until it succeeds, fails with an error that is not
// retryable, runs out of attempts or ctx ends.
func Retry(ctx context.Context, b Backoff, fn func() error) error {
	wait := b.Initial
	var err error
	for i := 0; i < max(b.Attempts, 1); i++ {
		if err = fn(); err == nil || !IsRetryable(err) {
			return err
		}
		if i == b.Attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (giving up: %v)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, b.Max)
	}
	return err
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// OwnerTag is the tag that marks an instance as created by drover for the
// resource name of the stack: "drover:<stack>:<name>". It is valid on every
// provider (DigitalOcean allows only letters, digits, '-', '_' and ':').
func OwnerTag(stack, name string) (string, error) {
	for _, s := range []string{stack, name} {
		if !nameRE.MatchString(s) {
			return "", fmt.Errorf("%q: use only letters, digits, '-' and '_' (it goes into the ownership tag)", s)
		}
	}
	tag := "drover:" + stack + ":" + name
	if len(tag) > 50 {
		return "", fmt.Errorf("ownership tag %q is longer than 50 characters (Linode's limit); shorten the stack or resource name", tag)
	}
	return tag, nil
}

// IsOwnerTag reports whether tag is an ownership tag.
func IsOwnerTag(tag string) bool { return strings.HasPrefix(tag, "drover:") }

// Poll reads an instance with get until done accepts it, get fails, or ctx
// ends: often at first, then every maxPause. Resizers use it to wait for the
// API to report the result of their actions.
func Poll(ctx context.Context, maxPause time.Duration, get func() (Instance, error), done func(Instance) bool) (Instance, error) {
	pause := PollStart(maxPause)
	for {
		in, err := get()
		if err != nil {
			return in, err
		}
		if done(in) {
			return in, nil
		}
		select {
		case <-ctx.Done():
			return in, fmt.Errorf("instance %s is still %s (size %s): %w", in.ID, in.Status, in.Size, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, maxPause)
	}
}

// PollStart is the first pause of a poll that backs off to maxPause: many
// cloud operations finish in seconds.
func PollStart(maxPause time.Duration) time.Duration { return min(250*time.Millisecond, maxPause) }
