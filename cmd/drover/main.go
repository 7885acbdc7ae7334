// Command drover is the CLI: flags, wiring and exit codes only. Everything a
// test of the engine needs lives in engine/, inventory/ and modules/.
//
// Each subcommand lives in its own file and adds itself to the root command
// in an init function.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/fanout"
	"github.com/drover-cm/drover/engine/report"
)

// Exit codes, in one place (documented in docs/cli.md).
const (
	exitOK          = 0
	exitError       = 1 // a host failed or was unreachable, or bad input
	exitChanges     = 2 // plan --detailed-exitcode: there are changes
	exitUsage       = 64
	exitInterrupted = 130 // SIGINT/SIGTERM: 128 + SIGINT, as shells report it
)

// exitError carries an exit code out of a command without printing again.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// globalOptions are flags shared by every command that reaches hosts.
type globalOptions struct {
	inventories       []string
	limit             string
	shard             string
	forks             int
	jsonOut           bool
	noColor           bool
	knownHosts        string
	acceptNewHostKeys bool
	askBecomePass     bool
	verbose           bool
	// The flags overriding inventory connection settings (--user, --become,
	// ...) come from the inventory's field table: registerConnectionFlags.
}

var global globalOptions

var rootCmd = &cobra.Command{
	Use:   "drover",
	Short: "Agentless, push-mode configuration management over SSH",
	Long: `drover reads an inventory and HCL playbooks, works out the desired state of
each host, and pushes idempotent changes over SSH. Targets need only a POSIX shell.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() {
	// A bad flag is a usage error (64), not a failed run (1).
	rootCmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	pf := rootCmd.PersistentFlags()
	pf.StringArrayVarP(&global.inventories, "inventory", "i", nil, "inventory file (HCL, Ansible INI or YAML); repeatable")
	pf.StringVarP(&global.limit, "limit", "l", "", "further limit the selected hosts to this pattern")
	pf.StringVar(&global.shard, "shard", "", "run only slice K/N of the selected hosts (by a hash of the name; see docs/speed.md)")
	pf.IntVarP(&global.forks, "forks", "f", 0, fmt.Sprintf("hosts to work on at once (default: all selected, up to %d)", fanout.DefaultForks))
	pf.BoolVar(&global.jsonOut, "json", false, "print one JSON object per event instead of text")
	pf.BoolVar(&global.noColor, "no-color", false, "disable colour (also NO_COLOR=1, or when not a terminal)")
	pf.BoolVarP(&global.verbose, "verbose", "v", false, "text output: show what every task printed (stdout and stderr), not only failed ones")
	pf.StringVar(&global.knownHosts, "known-hosts", "", "use only this known_hosts file")
	pf.BoolVar(&global.acceptNewHostKeys, "accept-new-host-keys", false, "trust and record keys of hosts not yet in known_hosts (a changed key is always refused)")
	pf.BoolVarP(&global.askBecomePass, "ask-become-pass", "K", false, "ask for the sudo password once")
	registerConnectionFlags(rootCmd)
}

func main() {
	plainArgs(rootCmd)
	registerCompletions()
	rootCmd.SetArgs(terraformFlags(os.Args[1:]))
	err := rootCmd.Execute()
	if msg := errorMessage(err); msg != "" {
		// An error may quote a host: masked and escaped like all output.
		fmt.Fprintln(os.Stderr, "drover:", report.Clean(outputMasker, msg))
	}
	os.Exit(exitCode(err))
}

// terraformFlags lets `plan -out FILE` and `-out=FILE` be written as
// Terraform users do: flags with a single dash are shorthands to cobra, and
// no command has an -o shorthand, so the rewrite takes nothing away.
func terraformFlags(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if a == "-out" || strings.HasPrefix(a, "-out=") {
			out[i] = "-" + a
		}
	}
	return out
}

// usageErrorf is an error in how drover was called: exit status 64.
func usageErrorf(format string, args ...any) error {
	return &exitCodeError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps what a command returned to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	// cobra's own errors about the command line (unknown command, wrong
	// number of arguments) are usage errors too.
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, prefix) {
			return exitUsage
		}
	}
	return exitError
}

// errorMessage is what main prints for err: nothing when there is no error
// or when the command already reported it.
func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	var ec *exitCodeError
	if errors.As(err, &ec) && ec.err == nil {
		return ""
	}
	return err.Error()
}
