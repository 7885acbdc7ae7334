package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
// When empty, the module version and VCS revision from the build info say
// it.
var version = ""

// versionString is drover's version: the -ldflags value, else the module
// version (a tagged `go install`), with the commit and whether the tree was
// modified when built from a checkout.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	v := version
	if v == "" && ok && info.Main.Version != "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if !ok {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %s%s)", rev, dirty)
	}
	return v + ", " + info.GoVersion
}

var versionCmd = &cobra.Command{
	Use:   "version",
	Short: "Print drover's version",
	Args:  cobra.NoArgs,
	Run: func(cmd *cobra.Command, _ []string) {
		fmt.Fprintln(cmd.OutOrStdout(), "drover", versionString())
	},
}

func init() {
	rootCmd.Version = versionString()
	rootCmd.SetVersionTemplate("drover {{.Version}}\n")
	rootCmd.AddCommand(versionCmd)
}
