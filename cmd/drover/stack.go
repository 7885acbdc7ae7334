package main

// drover stack: documentation of a stack from its source, and updating the
// commits the lock file pins git sources to. Loading playbooks that call
// stacks (and applying a stack without a playbook) is wired here too.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/stacksrc"
	"github.com/drover-cm/drover/modules"
)

// stackLoad is how a command's playbook arguments load their stacks: the
// options for config, and the lock file to save once loaded (nil when
// there is none to keep: a stack applied directly).
type stackLoad struct {
	opts config.LoadOptions
	lock *stacksrc.Lock
}

// stackLoading prepares the loading of paths: git sources are fetched into
// the cache and pinned by the lock file beside the playbook.
func stackLoading(p *hclparse.Parser, paths []string, allow []string, update bool) (*stackLoad, error) {
	f := &stacksrc.Fetcher{Update: update}
	sl := &stackLoad{opts: config.LoadOptions{Parser: p, Sources: f, AllowLocal: allow}}
	if len(paths) == 0 || strings.HasPrefix(paths[0], "git::") {
		return sl, nil
	}
	dir := paths[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	lock, err := stacksrc.ReadLock(dir)
	if err != nil {
		return nil, err
	}
	f.Lock, sl.lock = lock, lock
	return sl, nil
}

// directStack reports whether the arguments name a stack to apply without
// a playbook: a git source or a stack directory. --hosts is for those only.
func directStack(paths []string, f *playbookFlags) (string, bool, error) {
	if len(paths) == 1 && (strings.HasPrefix(paths[0], "git::") || config.IsStackDir(paths[0])) {
		return paths[0], true, nil
	}
	if f.hosts != "" {
		return "", false, usageErrorf("--hosts applies a stack (a directory of stack files, or a git:: source) without a playbook; a playbook's plays name their hosts (narrow them with --limit)")
	}
	return "", false, nil
}

// loadStackPlaybook loads a stack applied directly, as a playbook of one
// play over --hosts ("all" for validate and graph, which need no hosts).
func loadStackPlaybook(cmd *cobra.Command, sl *stackLoad, source string, f *playbookFlags) (*config.Playbook, hcl.Diagnostics, error) {
	hosts := f.hosts
	if hosts == "" {
		if cmd.Name() != "validate" && cmd.Name() != "graph" {
			return nil, nil, usageErrorf("%s is a stack, not a playbook: give --hosts PATTERN to say which hosts of the inventory it runs on", source)
		}
		hosts = "all"
	}
	st, diags := config.LoadStack(modules.Catalog(), sl.opts, source, f.allowLocal)
	if st == nil || diags.HasErrors() {
		return nil, diags, nil
	}
	return config.StackPlaybook(st, config.StackName(source), hosts), diags, nil
}

var stackCmd = &cobra.Command{
	Use:   "stack",
	Short: "Document stacks and update the commits their git sources are locked to",
	Long: `A stack is a directory of drover HCL (variables, locals, tasks, handlers,
nested stack calls, outputs) that a play calls with a stack "NAME" { source = ... }
block; see docs/stacks.md. A stack can also be applied without a playbook:
drover apply -i INV SOURCE --hosts PATTERN --var NAME=VALUE.`,
}

var stackDocCmd = &cobra.Command{
	Use:   "doc DIR|SOURCE",
	Short: "Print a stack's inputs and outputs",
	Long: `Print the inputs (type, default, description) and outputs of a stack, read
from its source: a directory, or a git source (git::URL//DIR?ref=REF), which is
fetched into the cache.`,
	Example: `  drover stack doc ./stacks/webapp
  drover stack doc 'git::https://example.org/stacks.git//webapp?ref=v1.2'`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		l := &loaded{ui: newUI(cmd), parser: hclparse.NewParser(), flags: &playbookFlags{}}
		opts := config.LoadOptions{Parser: l.parser, Sources: &stacksrc.Fetcher{}}
		st, diags := config.LoadStack(modules.Catalog(), opts, args[0], nil)
		if err := l.report(diags); err != nil {
			return err
		}
		writeStackDoc(l.ui.stdout, args[0], st)
		return nil
	},
}

var stackUpdateCmd = &cobra.Command{
	Use:   "update PLAYBOOK...",
	Short: "Resolve the refs of a playbook's git stack sources again and lock the new commits",
	Long: `Fetch every git stack source the playbook calls (nested ones too) at what its
ref points at now, and record those commits in drover.lock.hcl beside the
playbook. Without update, runs use the commits already locked.`,
	Example: `  drover stack update site.hcl`,
	Args:    cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		l := &loaded{ui: newUI(cmd), parser: hclparse.NewParser(), flags: &playbookFlags{}}
		sl, err := stackLoading(l.parser, args, nil, true)
		if err != nil {
			return err
		}
		before := sl.lock.Entries()
		_, diags := config.LoadFilesWith(sl.opts, modules.Catalog(), args...)
		if err := l.report(diags); err != nil {
			return err
		}
		if err := sl.lock.Save(); err != nil {
			return err
		}
		after := sl.lock.Entries()
		keys := make([]string, 0, len(after))
		for k := range after {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			old, now := before[k].Commit, after[k].Commit
			switch {
			case old == "":
				fmt.Fprintf(l.ui.stdout, "%s: locked at %s\n", k, short(now))
			case old != now:
				fmt.Fprintf(l.ui.stdout, "%s: %s → %s\n", k, short(old), short(now))
			default:
				fmt.Fprintf(l.ui.stdout, "%s: %s (unchanged)\n", k, short(now))
			}
		}
		if len(keys) == 0 {
			fmt.Fprintln(l.ui.stdout, "The playbook calls no git stack sources.")
		}
		return nil
	},
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// writeStackDoc prints a stack's inputs and outputs, in declaration order.
func writeStackDoc(w io.Writer, source string, st *config.Stack) {
	fmt.Fprintf(w, "stack %s\n", source)
	if st.Commit != "" {
		fmt.Fprintf(w, "  commit %s\n", st.Commit)
	}
	fmt.Fprintf(w, "\nInputs:\n")
	if len(st.VariableOrder) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, n := range st.VariableOrder {
		v := st.Variables[n]
		tags := []string{typeexpr.TypeString(v.Type)}
		if v.Default == cty.NilVal {
			tags = append(tags, "required")
		} else {
			tags = append(tags, "default "+valueText(v))
		}
		if v.Sensitive {
			tags = append(tags, "sensitive")
		}
		fmt.Fprintf(w, "  %s (%s)\n", n, strings.Join(tags, ", "))
		for _, l := range wrap(v.Description, 72) {
			if l != "" {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	fmt.Fprintf(w, "\nOutputs:\n")
	if len(st.OutputOrder) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, n := range st.OutputOrder {
		o := st.Outputs[n]
		fmt.Fprintf(w, "  %s", n)
		if o.Sensitive {
			fmt.Fprint(w, " (sensitive)")
		}
		fmt.Fprintln(w)
		for _, l := range wrap(o.Description, 72) {
			if l != "" {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	var tasks []string
	for _, t := range append(append([]*config.Task(nil), st.Unit.Tasks...), st.Unit.Handlers...) {
		tasks = append(tasks, t.LocalAddr())
	}
	if len(tasks) > 0 {
		fmt.Fprintf(w, "\nTasks: %s\n", strings.Join(tasks, ", "))
	}
	for i, c := range st.Unit.Calls {
		if i == 0 {
			fmt.Fprintf(w, "\nCalls:\n")
		}
		fmt.Fprintf(w, "  stack.%s (%s)\n", c.Name, c.Source)
	}
}

// valueText is a variable's default as HCL would write it; a sensitive
// one is not shown.
func valueText(v *config.Variable) string {
	if v.Sensitive {
		return "(sensitive)"
	}
	return strings.TrimSpace(string(hclwrite.TokensForValue(v.Default).Bytes()))
}

func init() {
	stackCmd.AddCommand(stackDocCmd, stackUpdateCmd)
	rootCmd.AddCommand(stackCmd)
}
