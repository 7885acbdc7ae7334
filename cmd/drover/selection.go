package main

import (
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/modules"
)

// selectFlags are --tags, --skip-tags, --start-at and --target, which run
// only part of a playbook (see run.Selection).
type selectFlags struct {
	tags, skipTags []string
	startAt        string
	targets        []string
}

var (
	planSelect  selectFlags
	applySelect selectFlags
)

// set reports whether any selection flag was given.
func (f *selectFlags) set() bool {
	return len(f.tags)+len(f.skipTags)+len(f.targets) > 0 || f.startAt != ""
}

func (f *selectFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.tags, "tags", nil, "run only the tasks with one of these tags (comma-separated, repeatable; tasks tagged always too)")
	fl.StringSliceVar(&f.skipTags, "skip-tags", nil, "leave out the tasks with one of these tags (comma-separated, repeatable)")
	fl.StringVar(&f.startAt, "start-at", "", "skip the tasks before this task address (such as template.site) in each host's order, and the plays before its play")
	fl.StringArrayVar(&f.targets, "target", nil, "run only this task address and what it depends on (repeatable); the rest of the playbook is not looked at")
	_ = cmd.RegisterFlagCompletionFunc("tags", completeTags)
	_ = cmd.RegisterFlagCompletionFunc("skip-tags", completeTags)
	_ = cmd.RegisterFlagCompletionFunc("start-at", completeTaskAddrs)
	_ = cmd.RegisterFlagCompletionFunc("target", completeTaskAddrs)
}

// apply checks the selection against the session's playbook, prints its
// warnings and makes the run use it.
func (f *selectFlags) apply(s *playbookSession) error {
	sel := &run.Selection{Tags: f.tags, SkipTags: f.skipTags, StartAt: f.startAt, Targets: f.targets}
	warnings, err := run.CheckSelection(s.pb, sel)
	for _, w := range warnings {
		s.ui.warnf("%s", w)
	}
	if err != nil {
		return &exitCodeError{code: exitError, err: err}
	}
	if len(f.targets) > 0 {
		// Terraform's -target warning: the plan is partial by request.
		s.ui.warnf("--target: only the targeted tasks and what they depend on are planned; the rest of the playbook is not looked at and may not match what it says")
	}
	s.sel = sel
	return nil
}

// completionPlaybook loads the playbook named on the command line being
// completed, or nil: completion stays silent on a broken playbook.
func completionPlaybook(args []string) *config.Playbook {
	if len(args) == 0 {
		return nil
	}
	pb, diags := config.LoadFiles(hclparse.NewParser(), modules.Catalog(), args...)
	if diags.HasErrors() {
		return nil
	}
	return pb
}

// completeTags completes the last of comma-separated tags.
func completeTags(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	pb := completionPlaybook(args)
	if pb == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	head, last := "", prefix
	if i := strings.LastIndexByte(prefix, ','); i >= 0 {
		head, last = prefix[:i+1], prefix[i+1:]
	}
	var out []string
	for _, tag := range append(pb.Tags(), config.TagAlways, config.TagNever) {
		if strings.HasPrefix(tag, last) {
			out = append(out, head+tag)
		}
	}
	return slices.Compact(out), cobra.ShellCompDirectiveNoFileComp
}

// completeTaskAddrs completes task addresses.
func completeTaskAddrs(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	pb := completionPlaybook(args)
	if pb == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, pl := range pb.Plays {
		for _, t := range pl.Tasks {
			if a := t.Addr(); strings.HasPrefix(a, prefix) && !slices.Contains(out, a) {
				out = append(out, a+"\tplay "+pl.Name)
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
