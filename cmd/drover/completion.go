package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/inventory"
	"github.com/drover-cm/drover/modules"
)

// Shell completion (cobra's `drover completion bash|zsh|fish|powershell`)
// completes subcommands and flags by itself; these add the values: module
// names for `drover modules`, and the inventory's hosts and groups for
// --limit and for host patterns once -i is on the command line. main calls
// it once every command and flag is defined.
func registerCompletions() {
	modulesCmd.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, m := range modules.All() {
			s := m.Spec()
			if strings.HasPrefix(s.Name, prefix) {
				out = append(out, s.Name+"\t"+s.Summary)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	_ = rootCmd.RegisterFlagCompletionFunc("limit", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return completeHosts(prefix), cobra.ShellCompDirectiveNoFileComp
	})
	// The commands whose first argument is a host pattern.
	for _, c := range []*cobra.Command{pingCmd, execCmd, factsCmd, inventoryListCmd, releasesCmd, rollbackCmd} {
		c.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveDefault
			}
			return completeHosts(prefix), cobra.ShellCompDirectiveNoFileComp
		}
	}
}

// completeHosts are the groups and hosts of the -i inventories that start
// with the last term of prefix (a pattern: "web:&pr" completes "prod"). It
// prints nothing on a broken inventory: completion must stay silent.
func completeHosts(prefix string) []string {
	if len(global.inventories) == 0 {
		return nil
	}
	// Cobra parses the command line twice when completing, so each -i is
	// seen twice.
	files := slices.Compact(slices.Clone(global.inventories))
	if len(files)%2 == 0 && slices.Equal(files[:len(files)/2], files[len(files)/2:]) {
		files = files[:len(files)/2]
	}
	inv, diags := inventory.Load(files, inventory.LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() || inv == nil {
		return nil
	}
	head, last := "", prefix
	if i := strings.LastIndexAny(prefix, ":,"); i >= 0 {
		head, last = prefix[:i+1], prefix[i+1:]
	}
	op := ""
	if strings.HasPrefix(last, "&") || strings.HasPrefix(last, "!") {
		op, last = last[:1], last[1:]
	}
	var out []string
	for _, g := range inv.Groups() {
		if strings.HasPrefix(g.Name, last) {
			out = append(out, head+op+g.Name+"\tgroup")
		}
	}
	for _, h := range inv.Hosts() {
		if strings.HasPrefix(h.Name, last) {
			out = append(out, head+op+h.Name+"\thost")
		}
	}
	return out
}
