package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/inventory"
)

var (
	graphFlags playbookFlags
	graphPlay  string
	graphHost  string
)

var graphCmd = &cobra.Command{
	Use:   "graph PLAYBOOK...",
	Short: "Print the task dependency graph of each play in Graphviz DOT",
	Long: `Print each play's task graph in Graphviz DOT: an edge runs from a task to a
task that depends on it, labelled with why (a reference, depends_on). Edges
that modules infer on a host (a file inside a directory another task manages)
depend on the host's values: give --host NAME (with -i) to see them as apply
would walk that host. No connection is made.`,
	Example: `  drover graph site.hcl | dot -Tsvg > site.svg
  drover graph site.hcl --play web
  drover graph -i hosts.hcl site.hcl --host web1`,
	Args: cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		l, err := loadPlaybook(cmd, &graphFlags, args)
		if err != nil {
			return err
		}
		if graphHost != "" {
			return hostGraphs(l)
		}
		found := false
		for _, pl := range l.pb.Plays {
			if graphPlay != "" && pl.Name != graphPlay {
				continue
			}
			found = true
			g, diags := config.PlayGraph(pl)
			if err := l.report(diags); err != nil {
				return err
			}
			fmt.Fprintf(l.ui.stdout, "// play %q\n", pl.Name)
			if err := g.Dot(l.ui.stdout, func(t *config.Task) string { return t.Addr() }); err != nil {
				return err
			}
		}
		if !found {
			return usageErrorf("no play named %q in the playbook", graphPlay)
		}
		return nil
	},
}

// hostGraphs prints the graphs of one inventory host, with inferred edges.
func hostGraphs(l *loaded) error {
	inv, err := loadInventory(l.ui)
	if err != nil {
		return err
	}
	h, ok := inv.Host(graphHost)
	if !ok {
		return usageErrorf("no host %q in the inventory; see `drover inventory list`", graphHost)
	}
	opts := run.Options{
		Playbook: l.pb,
		Inputs:   l.inputs,
		Hosts:    func(pattern string) ([]*inventory.Host, error) { return inv.SelectLimit(pattern, global.limit) },
		Masker:   l.ui.masker,
	}
	graphs, diags := run.HostGraphs(opts, h)
	if err := l.report(diags); err != nil {
		return err
	}
	found := false
	for _, pg := range graphs {
		if graphPlay != "" && pg.Play.Name != graphPlay {
			continue
		}
		found = true
		fmt.Fprintf(l.ui.stdout, "// play %q on host %q\n", pg.Play.Name, h.Name)
		// Without the edges implied by others: every ancestor directory
		// is an inferred edge, which is noise in a picture.
		g, err := pg.Graph.TransitiveReduction()
		if err != nil {
			return err
		}
		if err := g.Dot(l.ui.stdout, func(t *config.Task) string { return t.Addr() }); err != nil {
			return err
		}
	}
	if !found {
		return usageErrorf("no play selects host %q", graphHost)
	}
	return nil
}

func init() {
	graphFlags.register(graphCmd)
	graphCmd.Flags().StringVar(&graphPlay, "play", "", "print only the play with this name")
	graphCmd.Flags().StringVar(&graphHost, "host", "", "show the graph on this inventory host (needs -i): with the edges modules infer from its values")
	rootCmd.AddCommand(graphCmd)
}
