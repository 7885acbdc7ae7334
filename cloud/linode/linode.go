// Package linode provisions Linode instances with linodego, the official
// SDK.
package linode

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/linode/linodego"

	"github.com/drover-cm/drover/cloud"
)

// Config configures the client.
type Config struct {
	// Token is the API token; "" reads LINODE_TOKEN.
	Token string
	// BaseURL is the API's address without the version; "" is
	// https://api.linode.com.
	BaseURL string
	// Backoff for rate limits and transient errors; zero is cloud.DefaultBackoff.
	Backoff cloud.Backoff
	// Poll is the pause between reads of an instance being resized; zero
	// is 5 s.
	Poll time.Duration
}

// Provider is the Linode cloud.Provider and cloud.Resizer.
type Provider struct {
	c    linodego.Client
	bo   cloud.Backoff
	poll time.Duration
}

// New returns a provider. It fails when no token is given or found.
func New(cfg Config) (*Provider, error) {
	tok := cfg.Token
	if tok == "" {
		tok = os.Getenv("LINODE_TOKEN")
	}
	if tok == "" {
		return nil, errors.New("linode: no API token: set LINODE_TOKEN")
	}
	c := linodego.NewClient(&http.Client{})
	c.SetToken(tok)
	if cfg.BaseURL != "" {
		c.SetBaseURL(cfg.BaseURL)
	}
	c.SetAPIVersion("v4")
	c.SetUserAgent("drover " + linodego.DefaultUserAgent)
	// drover retries (cloud.Retry) so that every provider behaves alike;
	// linodego's cache would hide instances that changed.
	c.SetRetryCount(0)
	c.UseCache(false)
	bo := cfg.Backoff
	if bo.Attempts == 0 {
		bo = cloud.DefaultBackoff
	}
	poll := cfg.Poll
	if poll == 0 {
		poll = 5 * time.Second
	}
	c.SetPollDelay(poll) // linodego's event poller
	return &Provider{c: c, bo: bo, poll: poll}, nil
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "linode" }

func apiErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var le *linodego.Error
	if errors.As(err, &le) && le.Code >= 400 {
		return &cloud.APIError{Provider: "linode", Op: op, Status: le.Code, Message: le.Message}
	}
	return fmt.Errorf("linode: %s: %w", op, err)
}

// Create implements cloud.Provider. Linode has no ssh_keys ids: SSHKeys are
// public keys (authorized_keys).
func (p *Provider) Create(ctx context.Context, s cloud.Spec) (cloud.Instance, error) {
	opts := linodego.InstanceCreateOptions{
		Label: s.Name, Region: s.Region, Type: s.Size, Image: s.Image,
		AuthorizedKeys: s.SSHKeys, RootPass: s.RootPassword, Tags: s.Tags,
	}
	if s.UserData != "" {
		opts.Metadata = &linodego.InstanceMetadataOptions{UserData: base64.StdEncoding.EncodeToString([]byte(s.UserData))}
	}
	var in *linodego.Instance
	err := cloud.Retry(ctx, p.bo, func() error {
		var err error
		in, err = p.c.CreateInstance(ctx, opts)
		return apiErr("create instance "+s.Name, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	if in == nil {
		return cloud.Instance{}, errors.New("linode: the API answered without an instance")
	}
	return instance(in), nil
}

// Get implements cloud.Provider.
func (p *Provider) Get(ctx context.Context, id string) (cloud.Instance, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("linode: instance id %q is not a number", id)
	}
	var in *linodego.Instance
	err = cloud.Retry(ctx, p.bo, func() error {
		var err error
		in, err = p.c.GetInstance(ctx, n)
		return apiErr("get instance "+id, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	if in == nil {
		return cloud.Instance{}, errors.New("linode: the API answered without an instance")
	}
	return instance(in), nil
}

// List implements cloud.Provider.
func (p *Provider) List(ctx context.Context, tag string) ([]cloud.Instance, error) {
	opts := &linodego.ListOptions{}
	if tag != "" {
		f, err := json.Marshal(map[string]string{"tags": tag})
		if err != nil {
			return nil, err
		}
		opts.Filter = string(f)
	}
	var ls []linodego.Instance
	err := cloud.Retry(ctx, p.bo, func() error {
		var err error
		ls, err = p.c.ListInstances(ctx, opts)
		return apiErr("list instances", err)
	})
	if err != nil {
		return nil, err
	}
	out := make([]cloud.Instance, 0, len(ls))
	for i := range ls {
		out = append(out, instance(&ls[i]))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Delete implements cloud.Provider.
func (p *Provider) Delete(ctx context.Context, id string) error {
	n, err := strconv.Atoi(id)
	if err != nil {
		return fmt.Errorf("linode: instance id %q is not a number", id)
	}
	err = cloud.Retry(ctx, p.bo, func() error {
		return apiErr("delete instance "+id, p.c.DeleteInstance(ctx, n))
	})
	if cloud.IsNotFound(err) {
		return nil
	}
	return err
}

// Resize implements cloud.Resizer: one resize request (a cold migration: the
// Linode is shut down, moved to a host with room for the new type, its disk
// resized, and booted again), then wait for the resize's event to finish
// (as Linode's own tools do: the instance's fields alone do not tell a
// resize not started yet from one done) and for the instance to settle with
// the new type (running, or offline if it was).
func (p *Provider) Resize(ctx context.Context, id, size string) (cloud.Instance, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("linode: instance id %q is not a number", id)
	}
	op := "resize instance " + id + " to " + size
	// The poller notes the resize events that exist before the request.
	var ev *linodego.EventPoller
	err = cloud.Retry(ctx, p.bo, func() error {
		return apiErr(op+": listing its events", noPanic(func() error {
			var err error
			ev, err = p.c.NewEventPoller(ctx, n, linodego.EntityLinode, linodego.ActionLinodeResize)
			return err
		}))
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	autoDisk := true
	opts := linodego.InstanceResizeOptions{Type: size, MigrationType: linodego.ColdMigration, AllowAutoDiskResize: &autoDisk}
	err = cloud.Retry(ctx, p.bo, func() error {
		return apiErr(op, p.c.ResizeInstance(ctx, n, opts))
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	timeout := 3600 // seconds, when ctx has no deadline
	if d, ok := ctx.Deadline(); ok {
		timeout = max(int(time.Until(d).Seconds()), 1)
	}
	if err := noPanic(func() error { _, err := ev.WaitForFinished(ctx, timeout); return err }); err != nil {
		return cloud.Instance{}, fmt.Errorf("linode: %s: waiting for the resize to finish (see the Linode's activity in Cloud Manager): %w", op, err)
	}
	return cloud.Poll(ctx, p.poll, func() (cloud.Instance, error) { return p.Get(ctx, id) },
		func(in cloud.Instance) bool {
			return in.Size == size && (in.Status == cloud.StatusRunning || in.Status == cloud.StatusStopped)
		})
}

// noPanic runs fn, turning a panic into an error: linodego panics on an
// event whose time_remaining is not "HH:MM:SS" (seen from a mock server),
// and a malformed answer must fail the resize, not crash drover.
func noPanic(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("linodego could not read the API's answer: %v", r)
		}
	}()
	return fn()
}

func instance(l *linodego.Instance) cloud.Instance {
	in := cloud.Instance{ID: strconv.Itoa(l.ID), Name: l.Label, Region: l.Region, Size: l.Type, Image: l.Image, Tags: l.Tags}
	switch l.Status {
	case linodego.InstanceProvisioning, linodego.InstanceBooting:
		in.Status = cloud.StatusPending
	case linodego.InstanceRunning:
		in.Status = cloud.StatusRunning
	case linodego.InstanceOffline:
		in.Status = cloud.StatusStopped
	default:
		in.Status = string(l.Status)
	}
	for _, ip := range l.IPv4 {
		if ip == nil {
			continue
		}
		if isPrivate(*ip) {
			if in.PrivateIPv4 == "" {
				in.PrivateIPv4 = ip.String()
			}
		} else if in.PublicIPv4 == "" {
			in.PublicIPv4 = ip.String()
		}
	}
	return in
}

// isPrivate: Linode lists private (192.168.128.0/17) addresses beside public
// ones in ipv4. Loopback counts as public: tests point hosts at it.
func isPrivate(ip net.IP) bool {
	return ip.IsPrivate() && !ip.IsLoopback()
}
