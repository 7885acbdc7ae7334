package modules

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// The release administration's values, under the names this package uses.
type (
	Releases     = contract.Releases
	ReleaseInfo  = contract.ReleaseInfo
	DeployRecord = contract.DeployRecord
)

// ListReleases and Rollback serve contract.ReleaseAdmin for the CLI; a
// rollback from it is recorded as done by this user on this machine.
func (releaseModule) ListReleases(ctx context.Context, conn transport.Conn, app string) (*Releases, error) {
	return ListReleases(ctx, conn, app)
}

func (releaseModule) Rollback(ctx context.Context, conn transport.Conn, app, to string) (from, target string, err error) {
	return Rollback(ctx, conn, app, to, whoAmI())
}

// ResolveApp returns the shell expression of an application directory: app
// itself when it is an absolute path, else the path the release task named
// app registered under /var/lib/drover/releases.
func resolveApp(app string) (string, error) {
	if strings.HasPrefix(app, "/") {
		if msg := checkAbsPath(app); msg != "" {
			return "", fmt.Errorf("%q: %s", app, msg)
		}
		return "a=" + shell.Quote(app) + "\n", nil
	}
	if !releaseNameRE.MatchString(app) {
		return "", fmt.Errorf("%q is neither a release name (the task's label) nor an absolute path", app)
	}
	l := shell.Quote("/var/lib/drover/releases/" + app)
	return "a=$(readlink " + l + ") || { printf '%s\\n' " + shell.Quote("no release named "+app+" was deployed to this host (give its path instead?)") + " >&2; exit 1; }\n", nil
}

// ListReleases reads the releases of app (a release task's name or its
// absolute path) on a host.
func ListReleases(ctx context.Context, conn transport.Conn, app string) (*Releases, error) {
	pre, err := resolveApp(app)
	if err != nil {
		return nil, err
	}
	script := pre + `printf 'app %s\n' "$a"
[ -d "$a/releases" ] || { printf '%s\n' "$a holds no releases" >&2; exit 1; }
( ` + releaseCheckBody + ` )
echo log
tail -n 20 "$a/.drover/deploys.log" 2>/dev/null || true
`
	res, err := runRelease(ctx, conn, script, nil)
	if err != nil {
		return nil, err
	}
	out := string(res.Stdout)
	head, logPart, _ := strings.Cut(out, "\nlog\n")
	first, rest, _ := strings.Cut(head, "\n")
	st, err := parseReleaseState(contract.CheckOutput{Stdout: []byte(rest)})
	if err != nil {
		return nil, err
	}
	rs := &Releases{App: strings.TrimPrefix(first, "app "), Current: st.Current, Previous: st.Previous, Pending: st.Pending}
	sort.Slice(st.Releases, func(i, j int) bool { return st.Releases[i].ID < st.Releases[j].ID })
	for _, r := range st.Releases {
		rs.Releases = append(rs.Releases, ReleaseInfo{ID: r.ID, Ready: r.Ready, Current: r.ID == st.Current})
	}
	for _, l := range strings.Split(logPart, "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 6 {
			rs.Records = append(rs.Records, DeployRecord{Time: f[0], Who: f[1], Source: f[2], Release: f[3], Action: f[4], Result: f[5]})
		}
	}
	return rs, nil
}

// Rollback switches app back to release to, or when to is "" to the newest
// ready release older than the current one, with the app's switch action and
// health check (as the last deploy wrote them). If the health check fails it
// switches forward again and returns a *ReleaseRolledBack. It returns the
// release switched from and to.
func Rollback(ctx context.Context, conn transport.Conn, app, to, who string) (from, target string, err error) {
	rs, err := ListReleases(ctx, conn, app)
	if err != nil {
		return "", "", err
	}
	from = rs.Current
	if to == "" {
		for i := len(rs.Releases) - 1; i >= 0; i-- {
			r := rs.Releases[i]
			if r.Ready && r.ID < from {
				to = r.ID
				break
			}
		}
		if to == "" {
			return from, "", fmt.Errorf("%s: no ready release older than the current one (%s) to roll back to", rs.App, orNone(from))
		}
	} else {
		found := false
		for _, r := range rs.Releases {
			if r.ID == to {
				found = true
				if !r.Ready {
					return from, to, fmt.Errorf("%s: release %s is incomplete or failed; pick a ready one (drover releases)", rs.App, to)
				}
			}
		}
		if !found {
			return from, to, fmt.Errorf("%s: no release %s on this host (drover releases lists them)", rs.App, to)
		}
	}
	if to == from {
		return from, to, nil
	}
	if _, err := switchTo(ctx, conn, rs.App, to); err != nil {
		return from, to, err
	}
	sum := releaseSum(to)
	if err := goLive(ctx, conn, rs.App); err != nil {
		rb := rollBack(ctx, conn, rs.App, to, from, err)
		// The target was a good release once: keep it ready.
		_, _ = runRelease(ctx, conn, "touch "+shell.Quote(rs.App+"/.drover/ready/"+to), nil)
		record(ctx, conn, rs.App, who, sum, to, "rollback", "failed, switched back: "+oneLine(rb.Error()))
		return from, to, rb
	}
	record(ctx, conn, rs.App, who, sum, to, "rollback", "ok (from "+orNone(from)+")")
	return from, to, nil
}
