package contract

import (
	"context"

	"github.com/drover-cm/drover/engine/transport"
)

// ReleaseAdmin is implemented by the release module: the administration of
// what its tasks deployed, for `drover releases` and `drover rollback`.
type ReleaseAdmin interface {
	// ListReleases reads the releases of app (a release task's name or its
	// absolute path) on a host.
	ListReleases(ctx context.Context, conn transport.Conn, app string) (*Releases, error)
	// Rollback switches app back to release to, or when to is "" to the
	// newest ready release older than the current one, and records who did
	// it on the host. It returns the releases switched from and to; from ==
	// target means app was already there.
	Rollback(ctx context.Context, conn transport.Conn, app, to string) (from, target string, err error)
}

// Releases is what a host holds for one application (drover releases).
type Releases struct {
	App      string // the application directory
	Current  string // release id current points to, "" when none
	Previous string // release current pointed to before the last switch
	// Pending is the release switched to whose switch action and health
	// check have not passed (interrupted): the next deploy re-checks it.
	Pending  string
	Releases []ReleaseInfo
	// Records are the last lines of .drover/deploys.log, oldest first.
	Records []DeployRecord
}

// ReleaseInfo is one release directory.
type ReleaseInfo struct {
	ID      string
	Ready   bool // built completely and not marked failed
	Current bool
}

// DeployRecord is one line of .drover/deploys.log.
type DeployRecord struct {
	Time, Who, Source, Release, Action, Result string
}
