package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/config"
)

var (
	graphFlags playbookFlags
	graphPlay  string
)

var graphCmd = &cobra.Command{
	Use:   "graph PLAYBOOK...",
	Short: "Print the task dependency graph of each play in Graphviz DOT",
	Long: `Print each play's task graph in Graphviz DOT: an edge runs from a task to a
task that depends on it, labelled with why (a reference, depends_on). Edges
that modules infer on a host (a file inside a directory another task manages)
depend on the host's values and are added at plan and apply time; they are
not shown here. No inventory or connection is needed.`,
	Example: `  drover graph site.hcl | dot -Tsvg > site.svg
  drover graph site.hcl --play web`,
	Args: cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		l, err := loadPlaybook(cmd, &graphFlags, args)
		if err != nil {
			return err
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

func init() {
	graphFlags.register(graphCmd)
	graphCmd.Flags().StringVar(&graphPlay, "play", "", "print only the play with this name")
	rootCmd.AddCommand(graphCmd)
}
