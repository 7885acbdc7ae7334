package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// argWords say in plain words what each positional argument of a command's
// Use line is.
var argWords = map[string]string{
	"PLAYBOOK": "a playbook file",
	"RUNBOOK":  "a runbook file",
	"PATTERN":  "a host pattern",
	"APP":      "an application name",
	"COMMAND":  "a command",
	"NAME":     "a name",
	"TASK":     "a task",
	"SHELL":    "a shell name",
}

// plainArgs wraps the argument checks of cmd and its subcommands so that
// cobra's "requires at least 1 arg(s), only received 0" becomes plain words:
// "apply needs a playbook file: drover apply -i INVENTORY PLAYBOOK".
// Checks that already say what is wrong (usage errors) are kept.
func plainArgs(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		plainArgs(c)
	}
	check := cmd.Args
	if check == nil {
		return
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		err := check(c, args)
		if err == nil || !isCobraArgsError(err) {
			return err
		}
		return usageErrorf("%s", argsMessage(c, len(args)))
	}
}

func isCobraArgsError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"requires at least", "requires at most", "accepts ", "accepts between"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// argsMessage says what c needs, given n arguments: the first missing
// positional argument of its Use line, or that there are too many.
func argsMessage(c *cobra.Command, n int) string {
	use := strings.ReplaceAll(c.Use, "...", "")
	var positional []string
	words := strings.Fields(use)[1:]
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-i": // -i FILE, -i INVENTORY
			i++
		case strings.HasPrefix(w, "-") || strings.HasPrefix(w, "["):
		case w == strings.ToUpper(w):
			positional = append(positional, w)
		}
	}
	line := strings.TrimSuffix(c.CommandPath(), " "+c.Name()) + " " + use
	if n < len(positional) {
		what := argWords[positional[n]]
		if what == "" {
			what = strings.ToLower(positional[n])
		}
		return fmt.Sprintf("%s needs %s: %s", c.Name(), what, line)
	}
	return fmt.Sprintf("%s: too many arguments (%d): %s", c.Name(), n, line)
}
