package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
)

var releasesCmd = &cobra.Command{
	Use:   "releases -i FILE PATTERN APP",
	Short: "List the releases of an application on every selected host",
	Long: `List the releases a release task deployed, per host: every release directory
(oldest first), the current one marked with *, the previous one with -, failed or
incomplete ones marked (failed), and the last deploy records (time, who, source
checksum, release, action, result) read from APP/.drover/deploys.log.

APP is the release task's name (release "app" {...}: app) or the application's
absolute path. The hosts are the source of truth: nothing is kept on the
controller. Exit status: 0 if every host answered, 1 otherwise.`,
	Example: `  drover releases -i hosts.hcl web app
  drover releases -i hosts.hcl web /srv/app`,
	Args: cobra.ExactArgs(2),
	RunE: runReleases,
}

func init() {
	rootCmd.AddCommand(releasesCmd)
}

func runReleases(cmd *cobra.Command, args []string) error {
	pattern, app := args[0], args[1]
	admin, err := releaseAdmin()
	if err != nil {
		return err
	}
	s, err := openSession(cmd, pattern, "releases", app)
	if err != nil {
		return err
	}
	s.readEach("releases", "releases "+app, func(ctx context.Context, conn transport.Conn) (string, any, error) {
		rs, err := admin.ListReleases(ctx, conn, app)
		if err != nil {
			return "", nil, err
		}
		return formatReleases(rs), rs, nil
	})
	return s.finish()
}

// formatReleases is the human listing of one host's releases.
func formatReleases(rs *contract.Releases) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", rs.App)
	if len(rs.Releases) == 0 {
		b.WriteString("  no releases\n")
	}
	for _, r := range rs.Releases {
		mark := " "
		switch {
		case r.Current:
			mark = "*"
		case r.ID == rs.Previous:
			mark = "-"
		}
		state := ""
		switch {
		case !r.Ready:
			state = "  (failed or incomplete)"
		case r.ID == rs.Pending:
			state = "  (switch action or health check not passed: the next deploy repeats them)"
		}
		fmt.Fprintf(&b, "%s %s%s\n", mark, r.ID, state)
	}
	if rs.Current == "" {
		b.WriteString("  current: none\n")
	}
	if n := len(rs.Records); n > 0 {
		b.WriteString("last deploys:\n")
		for _, d := range rs.Records[max(0, n-5):] {
			src := d.Source
			if len(src) > 12 {
				src = src[:12]
			}
			fmt.Fprintf(&b, "  %s  %-8s %s  %s  %s  %s\n", d.Time, d.Action, d.Release, src, d.Who, d.Result)
		}
	}
	return b.String()
}

// releaseAdmin is the release module's administration of the releases its
// tasks deployed.
func releaseAdmin() (contract.ReleaseAdmin, error) {
	if m, ok := modules.Catalog().Lookup("release"); ok {
		if a, ok := m.(contract.ReleaseAdmin); ok {
			return a, nil
		}
	}
	return nil, fmt.Errorf("this build of drover has no release module; rebuild it from a full source tree")
}
