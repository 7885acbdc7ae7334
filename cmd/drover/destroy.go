package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/engine/provision"
	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/inventory"
)

// cloudProviders is how commands reach the cloud APIs; tests replace it.
var cloudProviders = provision.SDKProviders

// provisionOptions are the apply options for provisioning; tests replace
// Reach to point created instances at fleet hosts.
var provisionOptions = func(knownHosts string) provision.ApplyOptions {
	return provision.ApplyOptions{TrustKey: provision.KnownHostsTrust(knownHosts)}
}

// userKnownHosts is the file new host keys are written to: --known-hosts,
// else OpenSSH's ~/.ssh/known_hosts.
func userKnownHosts() string {
	if global.knownHosts != "" {
		return global.knownHosts
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".ssh/known_hosts"
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// provisionOut is where provisioning reports: stderr when stdout is JSON.
func (s *playbookSession) provisionOut() io.Writer {
	if global.jsonOut {
		return s.ui.stderr
	}
	return s.ui.stdout
}

// provision runs the playbook's provision blocks before the plays: plan
// prints what would change; apply creates and waits for the instances and
// adds them to the inventory in their groups, so that the plays select them.
// changes reports whether instances are to be created or destroyed.
func (s *playbookSession) provision(ctx context.Context, apply bool) (changes bool, err error) {
	if len(s.pb.Provisions) == 0 {
		return false, nil
	}
	vars, locals, diags := run.Globals(s.pb, s.inputs)
	if diags.HasErrors() {
		return false, s.report(diags)
	}
	rs, diags := provision.Evaluate(s.pb, vars, locals)
	if diags.HasErrors() {
		return false, s.report(diags)
	}
	out := s.provisionOut()
	providers := cloudProviders()
	plan, err := provision.MakePlan(ctx, rs, providers)
	if err != nil {
		return false, &exitCodeError{code: exitError, err: err}
	}
	for _, l := range plan.Describe() {
		fmt.Fprintln(out, l)
	}
	opts := provisionOptions(userKnownHosts())
	n := plan.Counts()
	// A resize that apply does not make (a provider without one) is no change.
	s.instances = report.PlanSummary{Create: n[provision.Create], Delete: n[provision.Destroy]}
	for _, c := range plan.Changes {
		if c.Action == provision.Resize && plan.Resizable(c.Resource) {
			s.instances.Update++
		}
	}
	if !apply {
		// The plays are planned against the instances that exist already.
		if err := s.addProvisioned(plan.Existing(opts)); err != nil {
			return true, err
		}
		return plan.Changed(), nil
	}
	res, err := provision.Apply(ctx, plan, opts)
	for _, in := range res.Created {
		fmt.Fprintf(out, "  created %s (id %s)\n", in.Name, in.ID)
	}
	for _, in := range res.Resized {
		fmt.Fprintf(out, "  resized %s (id %s) to %s\n", in.Name, in.ID, in.Size)
	}
	for _, in := range res.Destroyed {
		fmt.Fprintf(out, "  destroyed %s (id %s)\n", in.Name, in.ID)
	}
	for _, h := range res.Hosts {
		fmt.Fprintf(out, "  ready %s at %s:%d (%s)\n", h.Instance.Name, h.Address, h.Port, h.Keys)
	}
	if aerr := s.addProvisioned(res.Hosts); aerr != nil {
		return true, aerr
	}
	if err != nil {
		if n := len(res.Created); n > 0 {
			seen := map[string]bool{}
			var list []string
			for _, in := range res.Created {
				for _, t := range in.Tags {
					if cloud.IsOwnerTag(t) && !seen[t] {
						seen[t] = true
						list = append(list, t)
					}
				}
			}
			fmt.Fprintf(out, "  %s created before the failure (listed above) keep their ownership tag %s: the next apply finds them instead of creating them again\n",
				plural(n, "1 instance", fmt.Sprintf("%d instances", n)), strings.Join(list, ", "))
		}
		return true, &exitCodeError{code: exitError, err: err}
	}
	return len(res.Created)+len(res.Resized)+len(res.Destroyed) > 0, nil
}

// addProvisioned adds provisioned hosts to the inventory, in their groups.
func (s *playbookSession) addProvisioned(hosts []provision.Host) error {
	for _, h := range hosts {
		ih := &inventory.Host{Name: h.Instance.Name, Address: h.Address, Port: h.Port, User: h.Resource.SSHUser,
			Source: h.Resource.Block.DeclRange.String()}
		if old, ok := s.inv.Host(ih.Name); ok {
			if old.Address != ih.Address || old.Port != ih.Port {
				return &exitCodeError{code: exitError, err: fmt.Errorf("provisioned host %s (%s) has the name of the inventory's host at %s (%s): rename one of them", ih.Name, ih.Address, old.Source, old.Address)}
			}
			continue
		}
		if err := s.inv.AddHost(ih, h.Resource.Groups...); err != nil {
			return &exitCodeError{code: exitError, err: err}
		}
		s.width = max(s.width, len(ih.Name))
	}
	return nil
}

var (
	destroyFlags playbookFlags
	destroyYes   bool
)

var destroyCmd = &cobra.Command{
	Use:   "destroy PLAYBOOK...",
	Short: "Delete the cloud instances the playbook's provision blocks own",
	Long: `List, for every provision block of the playbook, the instances that carry its
ownership tag (drover:<stack>:<name>), and delete them with --yes. Nothing
without the tag is ever touched: there is no state file, the tag is the
record of what drover created.

Without --yes, destroy only lists what it would delete.`,
	Example: `  drover destroy site.hcl
  drover destroy site.hcl --yes`,
	Args: cobra.MinimumNArgs(1),
	RunE: runDestroy,
}

func init() {
	destroyFlags.register(destroyCmd)
	destroyCmd.Flags().BoolVar(&destroyYes, "yes", false, "delete without asking")
	rootCmd.AddCommand(destroyCmd)
}

func runDestroy(cmd *cobra.Command, args []string) error {
	l, err := loadPlaybook(cmd, &destroyFlags, args)
	if err != nil {
		return err
	}
	if len(l.pb.Provisions) == 0 {
		return &exitCodeError{code: exitError, err: errors.New("the playbook has no provision blocks: nothing to destroy")}
	}
	vars, locals, diags := run.Globals(l.pb, l.inputs)
	if diags.HasErrors() {
		return l.report(diags)
	}
	rs, diags := provision.Evaluate(l.pb, vars, locals)
	if diags.HasErrors() {
		return l.report(diags)
	}
	ctx := cmd.Context()
	providers := cloudProviders()
	if !destroyYes {
		for _, r := range rs {
			p, err := providers(ctx, r)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			found, err := p.List(ctx, r.Owner)
			if err != nil {
				return &exitCodeError{code: exitError, err: err}
			}
			fmt.Fprintf(l.ui.stdout, "provision %s (%s, tag %s)\n", r.Addr(), r.Provider, r.Owner)
			for _, in := range found {
				fmt.Fprintf(l.ui.stdout, "  - destroy %s (id %s, %s)\n", in.Name, in.ID, in.Address())
			}
			if len(found) == 0 {
				fmt.Fprintln(l.ui.stdout, "  nothing to destroy")
			}
		}
		fmt.Fprintln(l.ui.stdout, "\nRun again with --yes to delete them.")
		return nil
	}
	gone, err := provision.DestroyAll(ctx, rs, providers)
	for _, in := range gone {
		fmt.Fprintf(l.ui.stdout, "destroyed %s (id %s)\n", in.Name, in.ID)
	}
	fmt.Fprintf(l.ui.stdout, "%d destroyed\n", len(gone))
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	return nil
}
