package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/cloud/ec2"
	"github.com/drover-cm/drover/cloud/linode"
	"github.com/drover-cm/drover/inventory"
)

// Dynamic inventory: `inventory list --from digitalocean --tag role:web`
// lists the cloud's instances carrying the tag as hosts, in a group named
// after the provider, beside the -i inventories (which are optional then).
var invCloud struct {
	from, tag, endpoint, region string
}

func init() {
	fl := inventoryListCmd.Flags()
	fl.StringVar(&invCloud.from, "from", "", "also list the instances of a cloud: digitalocean, linode or ec2 (credentials from DIGITALOCEAN_TOKEN, LINODE_TOKEN, the AWS default chain)")
	fl.StringVar(&invCloud.tag, "tag", "", "with --from: only instances with this tag (EC2: key=value, or a key)")
	fl.StringVar(&invCloud.endpoint, "endpoint", "", "with --from: the API base URL (for API-compatible clouds and tests)")
	fl.StringVar(&invCloud.region, "region", "", "with --from ec2: the region (default: the AWS configuration's)")
}

// newCloudProvider returns the client for a provider name.
func newCloudProvider(ctx context.Context, name, endpoint, region string) (cloud.Provider, error) {
	switch name {
	case "digitalocean":
		return digitalocean.New(digitalocean.Config{BaseURL: endpoint})
	case "linode":
		return linode.New(linode.Config{BaseURL: endpoint})
	case "ec2", "aws":
		return ec2.New(ctx, ec2.Config{BaseURL: endpoint, Region: region})
	}
	return nil, usageErrorf("--from %q: use digitalocean, linode or ec2", name)
}

// loadInventoryAndCloud is loadInventory plus, with --from, the cloud's
// instances as hosts (see invCloud).
func loadInventoryAndCloud(cmd *cobra.Command, u *ui) (*inventory.Inventory, error) {
	if invCloud.from == "" {
		return loadInventory(u)
	}
	var inv *inventory.Inventory
	if len(global.inventories) > 0 {
		var err error
		if inv, err = loadInventory(u); err != nil {
			return nil, err
		}
	} else {
		inv, _ = inventory.Load(nil, inventory.LoadOptions{})
	}
	src := inventory.Source{Provider: invCloud.from, Tag: invCloud.tag, Endpoint: invCloud.endpoint, Region: invCloud.region}
	if err := addCloudHosts(cmd.Context(), u, inv, src); err != nil {
		return nil, err
	}
	return inv, nil
}

// addSourceHosts adds the hosts of the inventory's source blocks.
func addSourceHosts(u *ui, inv *inventory.Inventory) error {
	for _, src := range inv.Sources() {
		if err := addCloudHosts(context.Background(), u, inv, src); err != nil {
			return err
		}
	}
	return nil
}

// addCloudHosts lists the source's instances and adds each as a host in the
// source's groups and a group named after the provider.
func addCloudHosts(ctx context.Context, u *ui, inv *inventory.Inventory, src inventory.Source) error {
	where := ""
	if src.DeclRange.Filename != "" {
		where = fmt.Sprintf(" (source block at %s)", src.DeclRange)
	}
	p, err := newCloudProvider(ctx, src.Provider, src.Endpoint, src.Region)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%w%s", err, where)}
	}
	found, err := p.List(ctx, src.Tag)
	if err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("%w%s", err, where)}
	}
	for _, in := range found {
		if in.Address() == "" {
			u.warnf("%s instance %s (%s) has no address yet; left out", p.Name(), in.Name, in.ID)
			continue
		}
		h := &inventory.Host{Name: in.Name, Address: in.Address(), User: src.User, Port: src.Port,
			Source: fmt.Sprintf("%s instance %s", p.Name(), in.ID)}
		if err := inv.AddHost(h, append([]string{p.Name()}, src.Groups...)...); err != nil {
			return &exitCodeError{code: exitError, err: fmt.Errorf("%w%s", err, where)}
		}
	}
	return nil
}
