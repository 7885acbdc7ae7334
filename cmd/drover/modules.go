package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

var modulesCmd = &cobra.Command{
	Use:   "modules [NAME]",
	Short: "List the task modules, or document one",
	Long: `Without NAME, list every module with a one-line summary. With NAME, print the
module's documentation: what it does, each attribute with its type, whether it
is required or its default, the outputs later tasks can use, and an example.
Everything shown is generated from the module's own specification.`,
	Example: `  drover modules
  drover modules template
  drover modules --all`,
	Args: cobra.MaximumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		out := cmd.OutOrStdout()
		if len(args) == 0 && modulesAll {
			for i, m := range modules.All() {
				if i > 0 {
					fmt.Fprintln(out, "\n"+strings.Repeat("─", 72)+"\n")
				}
				writeModuleDoc(out, m.Spec())
			}
			return nil
		}
		if len(args) == 0 {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, m := range modules.All() {
				s := m.Spec()
				fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Summary)
			}
			tw.Flush()
			fmt.Fprintln(out, "\nRun `drover modules NAME` for a module's attributes and an example.")
			return nil
		}
		m, ok := modules.Lookup(args[0])
		if !ok {
			var names []string
			for _, m := range modules.All() {
				names = append(names, m.Spec().Name)
			}
			msg := fmt.Sprintf("no module named %q", args[0])
			if s := config.Suggest(args[0], names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return usageErrorf("%s (run `drover modules` for the list)", msg)
		}
		writeModuleDoc(out, m.Spec())
		return nil
	},
}

var modulesAll bool

func init() {
	modulesCmd.Flags().BoolVar(&modulesAll, "all", false, "document every module in full")
	rootCmd.AddCommand(modulesCmd)
}

// writeModuleDoc renders a module's Spec as text.
func writeModuleDoc(w io.Writer, s *contract.Spec) {
	fmt.Fprintf(w, "%s — %s\n", s.Name, s.Summary)
	if s.ReadOnly {
		fmt.Fprintln(w, "(read-only: never changes a host)")
	}
	if s.Doc != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(s.Doc))
	}
	writeAttrs := func(title string, attrs []contract.Attribute, outputs bool) {
		if len(attrs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, a := range attrs {
			var tags []string
			tags = append(tags, typeexpr.TypeString(a.Type))
			switch {
			case outputs:
			case a.Required:
				tags = append(tags, "required")
			case a.Default != cty.NilVal && !a.Default.IsNull():
				tags = append(tags, "default "+string(hclwrite.TokensForValue(a.Default).Bytes()))
			default:
				tags = append(tags, "optional")
			}
			if a.Sensitive {
				tags = append(tags, "sensitive")
			}
			fmt.Fprintf(w, "  %s (%s)\n", a.Name, strings.Join(tags, ", "))
			if a.Doc != "" {
				for _, l := range wrap(a.Doc, 72) {
					fmt.Fprintf(w, "      %s\n", l)
				}
			}
		}
	}
	writeAttrs("Attributes", s.Attributes, false)
	writeAttrs("Outputs (known after the task ran)", s.Outputs, true)
	fmt.Fprintln(w, "\nMeta-arguments (every task): when, for_each, count, depends_on, notify, sensitive, become, become_user, run_once, delegate_to.")
	if s.Example != "" {
		fmt.Fprintf(w, "\nExample:\n")
		for _, l := range strings.Split(strings.TrimRight(s.Example, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

func wrap(text string, width int) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		lines = append(lines, line)
	}
	return lines
}
