// Package digitalocean provisions DigitalOcean droplets with godo, the
// official SDK.
package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/digitalocean/godo"

	"github.com/drover-cm/drover/cloud"
)

// Config configures the client.
type Config struct {
	// Token is the API token; "" reads DIGITALOCEAN_TOKEN (or
	// DIGITALOCEAN_ACCESS_TOKEN).
	Token string
	// BaseURL is the API's address; "" is https://api.digitalocean.com/.
	BaseURL string
	// Backoff for rate limits and transient errors; zero is cloud.DefaultBackoff.
	Backoff cloud.Backoff
	// Poll is the pause between reads of an action's progress (Resize);
	// zero is 3 s.
	Poll time.Duration
}

// Provider is the DigitalOcean cloud.Provider and cloud.Resizer.
type Provider struct {
	c    *godo.Client
	bo   cloud.Backoff
	poll time.Duration
}

// New returns a provider. It fails when no token is given or found.
func New(cfg Config) (*Provider, error) {
	tok := cfg.Token
	if tok == "" {
		tok = os.Getenv("DIGITALOCEAN_TOKEN")
	}
	if tok == "" {
		tok = os.Getenv("DIGITALOCEAN_ACCESS_TOKEN")
	}
	if tok == "" {
		return nil, errors.New("digitalocean: no API token: set DIGITALOCEAN_TOKEN")
	}
	c := godo.NewFromToken(tok)
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("digitalocean: base URL: %w", err)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		c.BaseURL = u
	}
	c.UserAgent = "drover " + c.UserAgent
	bo := cfg.Backoff
	if bo.Attempts == 0 {
		bo = cloud.DefaultBackoff
	}
	poll := cfg.Poll
	if poll == 0 {
		poll = 3 * time.Second
	}
	return &Provider{c: c, bo: bo, poll: poll}, nil
}

// Name implements cloud.Provider.
func (p *Provider) Name() string { return "digitalocean" }

func apiErr(op string, resp *godo.Response, err error) error {
	if err == nil {
		return nil
	}
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return &cloud.APIError{Provider: "digitalocean", Op: op, Status: er.Response.StatusCode, Message: er.Message}
	}
	return fmt.Errorf("digitalocean: %s: %w", op, err)
}

// Create implements cloud.Provider.
func (p *Provider) Create(ctx context.Context, s cloud.Spec) (cloud.Instance, error) {
	req := &godo.DropletCreateRequest{
		Name: s.Name, Region: s.Region, Size: s.Size,
		Image:    godo.DropletCreateImage{Slug: s.Image},
		Tags:     s.Tags,
		UserData: s.UserData,
		SSHKeys:  []godo.DropletCreateSSHKey{},
	}
	if id, err := strconv.Atoi(s.Image); err == nil {
		req.Image = godo.DropletCreateImage{ID: id}
	}
	for _, k := range s.SSHKeys {
		if id, err := strconv.Atoi(k); err == nil {
			req.SSHKeys = append(req.SSHKeys, godo.DropletCreateSSHKey{ID: id})
		} else {
			req.SSHKeys = append(req.SSHKeys, godo.DropletCreateSSHKey{Fingerprint: k})
		}
	}
	var d *godo.Droplet
	err := cloud.Retry(ctx, p.bo, func() error {
		var resp *godo.Response
		var err error
		d, resp, err = p.c.Droplets.Create(ctx, req)
		return apiErr("create droplet "+s.Name, resp, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	if d == nil {
		return cloud.Instance{}, fmt.Errorf("digitalocean: create droplet %s: the API answered without a droplet", s.Name)
	}
	return instance(d), nil
}

// Get implements cloud.Provider.
func (p *Provider) Get(ctx context.Context, id string) (cloud.Instance, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("digitalocean: droplet id %q is not a number", id)
	}
	var d *godo.Droplet
	err = cloud.Retry(ctx, p.bo, func() error {
		var resp *godo.Response
		var err error
		d, resp, err = p.c.Droplets.Get(ctx, n)
		return apiErr("get droplet "+id, resp, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	if d == nil {
		return cloud.Instance{}, fmt.Errorf("digitalocean: get droplet %s: the API answered without a droplet", id)
	}
	return instance(d), nil
}

// List implements cloud.Provider.
func (p *Provider) List(ctx context.Context, tag string) ([]cloud.Instance, error) {
	var out []cloud.Instance
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for {
		var ds []godo.Droplet
		var resp *godo.Response
		err := cloud.Retry(ctx, p.bo, func() error {
			var err error
			if tag == "" {
				ds, resp, err = p.c.Droplets.List(ctx, opt)
			} else {
				ds, resp, err = p.c.Droplets.ListByTag(ctx, tag, opt)
			}
			return apiErr("list droplets", resp, err)
		})
		if err != nil {
			return nil, err
		}
		for i := range ds {
			out = append(out, instance(&ds[i]))
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() || len(ds) == 0 {
			break
		}
		opt.Page++
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
		return fmt.Errorf("digitalocean: droplet id %q is not a number", id)
	}
	err = cloud.Retry(ctx, p.bo, func() error {
		resp, err := p.c.Droplets.Delete(ctx, n)
		return apiErr("delete droplet "+id, resp, err)
	})
	if cloud.IsNotFound(err) {
		return nil
	}
	return err
}

// Resize implements cloud.Resizer the way DigitalOcean requires: power the
// droplet off, resize it (CPU, memory and disk: the disk cannot shrink
// afterwards, so the API refuses a later resize to a size with a smaller
// disk), power it on, each action waited for. When the resize is refused the
// droplet is powered on again before the API's error is returned.
func (p *Provider) Resize(ctx context.Context, id, size string) (cloud.Instance, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("digitalocean: droplet id %q is not a number", id)
	}
	in, err := p.Get(ctx, id)
	if err != nil {
		return in, err
	}
	if in.Status != cloud.StatusStopped {
		if err := p.action(ctx, n, "power off droplet "+id, func() (*godo.Action, *godo.Response, error) {
			return p.c.DropletActions.PowerOff(ctx, n)
		}); err != nil {
			return in, err
		}
	}
	rerr := p.action(ctx, n, "resize droplet "+id+" to "+size, func() (*godo.Action, *godo.Response, error) {
		return p.c.DropletActions.Resize(ctx, n, size, true)
	})
	if err := p.action(ctx, n, "power on droplet "+id, func() (*godo.Action, *godo.Response, error) {
		return p.c.DropletActions.PowerOn(ctx, n)
	}); err != nil {
		return in, errors.Join(rerr, err)
	}
	if rerr != nil {
		return in, rerr
	}
	return cloud.Poll(ctx, p.poll, func() (cloud.Instance, error) { return p.Get(ctx, id) },
		func(in cloud.Instance) bool { return in.Status == cloud.StatusRunning && in.Size == size })
}

// action starts a droplet action and waits until the API reports it
// completed.
func (p *Provider) action(ctx context.Context, droplet int, op string, start func() (*godo.Action, *godo.Response, error)) error {
	var a *godo.Action
	err := cloud.Retry(ctx, p.bo, func() error {
		var resp *godo.Response
		var err error
		a, resp, err = start()
		return apiErr(op, resp, err)
	})
	pause := cloud.PollStart(p.poll)
	for err == nil {
		switch {
		case a == nil:
			return fmt.Errorf("digitalocean: %s: the API answered without an action", op)
		case a.Status == godo.ActionCompleted:
			return nil
		case a.Status == "errored":
			return fmt.Errorf("digitalocean: %s: action %d errored; see the droplet's history in the control panel", op, a.ID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("digitalocean: %s: action %d is still %s: %w", op, a.ID, a.Status, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, p.poll)
		id := a.ID
		err = cloud.Retry(ctx, p.bo, func() error {
			var resp *godo.Response
			var err error
			a, resp, err = p.c.DropletActions.Get(ctx, droplet, id)
			return apiErr(op, resp, err)
		})
	}
	return err
}

func instance(d *godo.Droplet) cloud.Instance {
	in := cloud.Instance{ID: strconv.Itoa(d.ID), Name: d.Name, Size: d.SizeSlug, Tags: d.Tags}
	if d.Region != nil {
		in.Region = d.Region.Slug
	}
	if d.Image != nil {
		in.Image = d.Image.Slug
	}
	switch d.Status {
	case "new":
		in.Status = cloud.StatusPending
	case "active":
		in.Status = cloud.StatusRunning
	case "off":
		in.Status = cloud.StatusStopped
	default:
		in.Status = d.Status
	}
	in.PublicIPv4, _ = d.PublicIPv4()
	in.PrivateIPv4, _ = d.PrivateIPv4()
	return in
}
