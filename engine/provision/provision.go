package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/cloud/ec2"
	"github.com/drover-cm/drover/cloud/linode"
)

// Providers returns the API client for a resource.
type Providers func(ctx context.Context, r *Resource) (cloud.Provider, error)

// SDKProviders builds clients with the official SDKs, credentials from the
// environment (LINODE_TOKEN, DIGITALOCEAN_TOKEN, the AWS default chain) and
// the resource's endpoint. Clients are shared between resources of the same
// provider and endpoint.
func SDKProviders() Providers {
	var mu sync.Mutex
	cache := map[string]cloud.Provider{}
	return func(ctx context.Context, r *Resource) (cloud.Provider, error) {
		key := r.Provider + "\x00" + r.Endpoint + "\x00" + r.Region
		mu.Lock()
		defer mu.Unlock()
		if p := cache[key]; p != nil {
			return p, nil
		}
		var p cloud.Provider
		var err error
		switch r.Provider {
		case "digitalocean":
			p, err = digitalocean.New(digitalocean.Config{BaseURL: r.Endpoint})
		case "linode":
			p, err = linode.New(linode.Config{BaseURL: r.Endpoint})
		case "ec2":
			p, err = ec2.New(ctx, ec2.Config{BaseURL: r.Endpoint, Region: r.Region})
		default:
			err = fmt.Errorf("unknown provider %q", r.Provider)
		}
		if err != nil {
			return nil, err
		}
		cache[key] = p
		return p, nil
	}
}

// Action is what a plan does with one instance.
type Action string

// Actions.
const (
	Create Action = "create"
	Keep   Action = "keep" // exists as wanted
	// Resize: exists with another size. Applied when the provider is a
	// cloud.Resizer, otherwise only reported.
	Resize  Action = "resize"
	Destroy Action = "destroy"
)

// Change is one instance's line of a plan.
type Change struct {
	Action   Action
	Resource *Resource
	Spec     cloud.Spec     // wanted (Create, Keep, Resize)
	Instance cloud.Instance // found (Keep, Resize, Destroy)
}

// Plan is what apply would do.
type Plan struct {
	Resources []*Resource
	Changes   []Change
	providers map[*Resource]cloud.Provider
}

// Counts returns how many changes have each action.
func (p *Plan) Counts() map[Action]int {
	out := map[Action]int{}
	for _, c := range p.Changes {
		out[c.Action]++
	}
	return out
}

// Changed reports whether apply would create, resize or destroy anything.
func (p *Plan) Changed() bool {
	for _, c := range p.Changes {
		if c.Action == Create || c.Action == Destroy || c.Action == Resize && p.Resizable(c.Resource) {
			return true
		}
	}
	return false
}

// Resizable reports whether apply resizes the resource's instances in
// place (its provider implements cloud.Resizer).
func (p *Plan) Resizable(r *Resource) bool {
	_, ok := p.providers[r].(cloud.Resizer)
	return ok
}

// resizeSteps says what a resize does to an instance, per provider.
var resizeSteps = map[string]string{
	"digitalocean": "power off → resize CPU, memory and disk → power on; the disk cannot shrink back",
	"linode":       "resize: migrates to a host with room, reboots",
	"ec2":          "stop → change the instance type → start; a public IP without an Elastic IP changes",
}

// MakePlan lists what each resource owns (by its ownership tag) and compares
// it with what it wants, by instance name.
func MakePlan(ctx context.Context, resources []*Resource, providers Providers) (*Plan, error) {
	plan := &Plan{Resources: resources, providers: map[*Resource]cloud.Provider{}}
	for _, r := range resources {
		p, err := providers(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Addr(), err)
		}
		plan.providers[r] = p
		found, err := p.List(ctx, r.Owner)
		if err != nil {
			return nil, fmt.Errorf("%s: listing instances tagged %s: %w", r.Addr(), r.Owner, err)
		}
		byName := map[string]cloud.Instance{}
		var extra []cloud.Instance
		for _, in := range found {
			if _, dup := byName[in.Name]; dup || !wanted(r, in.Name) {
				extra = append(extra, in) // a duplicate, or beyond count
				continue
			}
			byName[in.Name] = in
		}
		for _, s := range r.Specs {
			in, ok := byName[s.Name]
			switch {
			case !ok:
				plan.Changes = append(plan.Changes, Change{Action: Create, Resource: r, Spec: s})
			case in.Size != "" && in.Size != s.Size:
				plan.Changes = append(plan.Changes, Change{Action: Resize, Resource: r, Spec: s, Instance: in})
			default:
				plan.Changes = append(plan.Changes, Change{Action: Keep, Resource: r, Spec: s, Instance: in})
			}
		}
		for _, in := range extra {
			plan.Changes = append(plan.Changes, Change{Action: Destroy, Resource: r, Instance: in})
		}
	}
	return plan, nil
}

func wanted(r *Resource, name string) bool {
	for _, s := range r.Specs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Host is an instance handed to the plays.
type Host struct {
	Resource *Resource
	Instance cloud.Instance
	Address  string
	Port     int
	// Created is true for instances this run created: only their host keys
	// are trusted on first use.
	Created bool
	// Keys says where the host key that the plays will check comes from.
	Keys KeySource
}

// KeySource is where a host's SSH host key comes from.
type KeySource string

// Key sources.
const (
	// KeysFromProvider: the provider's API reported the host keys
	// (cloud.HostKeyReader), the host presented one of them, and they were
	// pinned in known_hosts.
	KeysFromProvider KeySource = "host key from the provider's API"
	// KeysFirstUse: the host was created in this run and the provider
	// reports no keys: the key it presented was trusted and recorded.
	KeysFirstUse KeySource = "host key trusted on first use"
	// KeysKnownHosts: an existing host whose key the plays check against
	// known_hosts as for any host.
	KeysKnownHosts KeySource = "host key from known_hosts"
)

// Result is what apply did, also when it failed part way: instances created
// before the failure are listed (they carry the ownership tag, so the next
// apply finds them instead of creating them again).
type Result struct {
	Hosts     []Host
	Created   []cloud.Instance
	Resized   []cloud.Instance // as they are after the resize
	Destroyed []cloud.Instance
	Errors    []error
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Timeout bounds the wait for one instance to run and answer SSH;
	// zero is 10 minutes.
	Timeout time.Duration
	// Poll is the pause between state reads; zero is 5 s.
	Poll time.Duration
	// Reach returns the address and port to connect to for an instance;
	// nil is its public (else private) IPv4 and the resource's ssh_port.
	Reach func(r *Resource, in cloud.Instance) (string, int)
	// WaitSSH waits until addr:port answers SSH, and returns the host key
	// it presents (see WaitSSH). Nil is WaitSSH.
	WaitSSH func(ctx context.Context, addr string, port int) (HostKey, error)
	// HostKeyWait bounds how long the host keys of a created instance are
	// polled for when the provider is a cloud.HostKeyReader (they appear
	// some time after boot); zero is 5 minutes. When none appear, the key
	// is trusted on first use.
	HostKeyWait time.Duration
	// VerifyKeys connects to addr:port accepting only keys, and fails with
	// an error wrapping ErrHostKeyMismatch when the host presents another
	// key. Nil is VerifyHostKeys.
	VerifyKeys func(ctx context.Context, addr string, port int, keys []HostKey) error
	// TrustKey records host keys (for example in known_hosts): the key of
	// an instance this run created (trusted on first use), or the keys a
	// provider reported and the host proved it holds. Nil records nothing.
	TrustKey func(h Host, keys []HostKey) error
}

func (o ApplyOptions) reach() func(r *Resource, in cloud.Instance) (string, int) {
	if o.Reach != nil {
		return o.Reach
	}
	return func(r *Resource, in cloud.Instance) (string, int) { return in.Address(), r.SSHPort }
}

// Existing returns the instances the plan keeps or resizes that run with an
// address, as hosts (keys from known_hosts), so that a plan of the plays
// that configure them can read their state. Nothing is waited for.
func (p *Plan) Existing(o ApplyOptions) []Host {
	reach := o.reach()
	var out []Host
	for _, c := range p.Changes {
		if (c.Action != Keep && c.Action != Resize) || c.Instance.Status != cloud.StatusRunning || c.Instance.Address() == "" {
			continue
		}
		addr, port := reach(c.Resource, c.Instance)
		out = append(out, Host{Resource: c.Resource, Instance: c.Instance, Address: addr, Port: port, Keys: KeysKnownHosts})
	}
	return out
}

// Apply creates what the plan creates and destroys what it destroys, then
// waits for every wanted instance: running with an address, then SSH.
func Apply(ctx context.Context, plan *Plan, o ApplyOptions) (*Result, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 5 * time.Second
	}
	if o.WaitSSH == nil {
		o.WaitSSH = WaitSSH
	}
	if o.VerifyKeys == nil {
		o.VerifyKeys = VerifyHostKeys
	}
	if o.HostKeyWait == 0 {
		o.HostKeyWait = 5 * time.Minute
	}
	o.Reach = o.reach()
	res := &Result{}
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		res.Errors = append(res.Errors, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	hosts := make([]*Host, len(plan.Changes))
	// The instances of a block are resized one at a time, each waited for
	// before the next, so that a block of servers is never all down.
	resizing := map[*Resource]*sync.Mutex{}
	for _, r := range plan.Resources {
		resizing[r] = &sync.Mutex{}
	}
	for i, c := range plan.Changes {
		p := plan.providers[c.Resource]
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch c.Action {
			case Destroy:
				if err := p.Delete(ctx, c.Instance.ID); err != nil {
					fail(fmt.Errorf("%s: destroying %s (%s): %w", c.Resource.Addr(), c.Instance.Name, c.Instance.ID, err))
					return
				}
				mu.Lock()
				res.Destroyed = append(res.Destroyed, c.Instance)
				mu.Unlock()
				return
			case Create:
				in, err := p.Create(ctx, c.Spec)
				if err != nil {
					fail(fmt.Errorf("%s (%s): creating %s: %w", c.Resource.Addr(), c.Resource.Block.DeclRange, c.Spec.Name, err))
					return
				}
				mu.Lock()
				res.Created = append(res.Created, in)
				mu.Unlock()
				c.Instance = in
			case Resize:
				rz, ok := p.(cloud.Resizer)
				if !ok {
					break // reported by the plan, not applied
				}
				one := resizing[c.Resource]
				one.Lock()
				defer one.Unlock() // after the wait below
				rctx, cancel := context.WithTimeout(ctx, o.Timeout)
				in, err := rz.Resize(rctx, c.Instance.ID, c.Spec.Size)
				cancel()
				if err != nil {
					fail(fmt.Errorf("%s (%s): resizing %s (%s) from %s to %s: %w", c.Resource.Addr(), c.Resource.Block.DeclRange, c.Spec.Name, c.Instance.ID, c.Instance.Size, c.Spec.Size, err))
					return
				}
				mu.Lock()
				res.Resized = append(res.Resized, in)
				mu.Unlock()
				c.Instance = in
			}
			h, err := wait(ctx, p, c, o)
			if err != nil {
				fail(fmt.Errorf("%s: %s: %w", c.Resource.Addr(), c.Spec.Name, err))
				return
			}
			hosts[i] = h
		}()
	}
	wg.Wait()
	for _, h := range hosts {
		if h != nil {
			res.Hosts = append(res.Hosts, *h)
		}
	}
	sortInstances(res.Created)
	sortInstances(res.Resized)
	sortInstances(res.Destroyed)
	if len(res.Errors) > 0 {
		return res, errors.Join(res.Errors...)
	}
	return res, nil
}

func sortInstances(l []cloud.Instance) {
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
}

// wait polls the instance until it runs with an address, then waits for SSH
// and settles its host key (see hostKeys).
func wait(ctx context.Context, p cloud.Provider, c Change, o ApplyOptions) (*Host, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	in := c.Instance
	// Poll often at first (many clouds are quick), then every o.Poll.
	pause := min(250*time.Millisecond, o.Poll)
	for in.Status != cloud.StatusRunning || in.Address() == "" {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("instance %s is %s after %s; it stays tagged %s, and the next apply waits for it again", in.ID, in.Status, o.Timeout, c.Resource.Owner)
		case <-time.After(pause):
		}
		pause = min(pause*2, o.Poll)
		var err error
		if in, err = p.Get(ctx, c.Instance.ID); err != nil {
			return nil, err
		}
		if in.Status == cloud.StatusStopped {
			return nil, fmt.Errorf("instance %s is stopped: start it, or destroy it and apply again", in.ID)
		}
	}
	addr, port := o.Reach(c.Resource, in)
	h := &Host{Resource: c.Resource, Instance: in, Address: addr, Port: port, Created: c.Action == Create}
	key, err := o.WaitSSH(ctx, addr, port)
	if err != nil {
		return nil, fmt.Errorf("waiting for SSH on %s:%d: %w", addr, port, err)
	}
	if err := hostKeys(ctx, p, h, key, o); err != nil {
		return nil, err
	}
	return h, nil
}

// hostKeys settles where the host's key comes from. A provider that
// reports host keys (cloud.HostKeyReader) is asked, and polled for a while
// for an instance created now: the host must then present one of those keys
// (else it is refused and nothing is recorded), and they are pinned. When
// the provider reports none, the key presented by an instance created now
// is trusted on first use; an existing instance's key is left to
// known_hosts.
func hostKeys(ctx context.Context, p cloud.Provider, h *Host, presented HostKey, o ApplyOptions) error {
	var offered []HostKey
	if kr, ok := p.(cloud.HostKeyReader); ok {
		var err error
		if offered, err = readKeys(ctx, kr, h, o); err != nil {
			return err
		}
	}
	var trust []HostKey
	switch {
	case len(offered) > 0:
		if err := o.VerifyKeys(ctx, h.Address, h.Port, offered); err != nil {
			return fmt.Errorf("instance %s (%s) at %s:%d: %w; nothing was written to known_hosts: check the instance's console before trusting it", h.Instance.Name, h.Instance.ID, h.Address, h.Port, err)
		}
		h.Keys, trust = KeysFromProvider, offered
	case h.Created:
		h.Keys, trust = KeysFirstUse, []HostKey{presented}
	default:
		h.Keys = KeysKnownHosts
	}
	if trust != nil && o.TrustKey != nil {
		if err := o.TrustKey(*h, trust); err != nil {
			return fmt.Errorf("recording the host key: %w", err)
		}
	}
	return nil
}

// readKeys asks the provider for the instance's host keys: once for an
// existing instance, for up to o.HostKeyWait for one created now.
func readKeys(ctx context.Context, kr cloud.HostKeyReader, h *Host, o ApplyOptions) ([]HostKey, error) {
	deadline := time.Now().Add(o.HostKeyWait)
	pause := min(250*time.Millisecond, o.Poll)
	for {
		lines, err := kr.HostKeys(ctx, h.Instance.ID)
		if err != nil {
			return nil, fmt.Errorf("reading the host keys of instance %s from the provider: %w", h.Instance.ID, err)
		}
		if len(lines) > 0 {
			return parseKeys(lines)
		}
		if !h.Created || time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the host keys of instance %s: %w", h.Instance.ID, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, o.Poll)
	}
}

// DestroyAll deletes every instance the resources own (found by ownership
// tag), and nothing else.
func DestroyAll(ctx context.Context, resources []*Resource, providers Providers) ([]cloud.Instance, error) {
	var done []cloud.Instance
	var errs []error
	for _, r := range resources {
		p, err := providers(ctx, r)
		if err != nil {
			return done, fmt.Errorf("%s: %w", r.Addr(), err)
		}
		found, err := p.List(ctx, r.Owner)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: listing instances tagged %s: %w", r.Addr(), r.Owner, err))
			continue
		}
		for _, in := range found {
			if !in.HasTag(r.Owner) { // never trust a filter with a deletion
				continue
			}
			if err := p.Delete(ctx, in.ID); err != nil {
				errs = append(errs, fmt.Errorf("%s: destroying %s (%s): %w", r.Addr(), in.Name, in.ID, err))
				continue
			}
			done = append(done, in)
		}
	}
	return done, errors.Join(errs...)
}

// Describe is the plan as lines for people ("+ create 2 droplets: web-1, web-2").
func (p *Plan) Describe() []string {
	var out []string
	for _, r := range p.Resources {
		noun := map[string]string{"digitalocean": "droplet", "linode": "linode", "ec2": "instance"}[r.Provider]
		var create, keep, destroy []string
		var resize []string
		for _, c := range p.Changes {
			if c.Resource != r {
				continue
			}
			switch c.Action {
			case Create:
				create = append(create, c.Spec.Name)
			case Keep:
				keep = append(keep, c.Spec.Name)
			case Resize:
				how := "not applied: resize it in the provider's console, or destroy it and apply"
				if p.Resizable(r) {
					how = resizeSteps[r.Provider]
				}
				resize = append(resize, fmt.Sprintf("~ resize %s: %s → %s (%s)", c.Spec.Name, c.Instance.Size, c.Spec.Size, how))
			case Destroy:
				destroy = append(destroy, fmt.Sprintf("%s (%s)", c.Instance.Name, c.Instance.ID))
			}
		}
		out = append(out, fmt.Sprintf("provision %s (%s, tag %s)", r.Addr(), r.Provider, r.Owner))
		if len(create) > 0 {
			out = append(out, fmt.Sprintf("  + create %s: %s", plural(len(create), noun), strings.Join(create, ", ")))
		}
		for _, s := range resize {
			out = append(out, "  "+s)
		}
		if len(destroy) > 0 {
			out = append(out, fmt.Sprintf("  - destroy %s: %s", plural(len(destroy), noun), strings.Join(destroy, ", ")))
		}
		if len(keep) > 0 {
			verb := "exist"
			if len(keep) == 1 {
				verb = "exists"
			}
			out = append(out, fmt.Sprintf("  = %s %s: %s", plural(len(keep), noun), verb, strings.Join(keep, ", ")))
		}
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
