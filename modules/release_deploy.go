package modules

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

type releaseTask struct {
	cfg   releaseConfig
	art   *artifact  // a pushed source; nil for git
	git   *gitSource // a source checked out on the target
	stamp string     // the time part of the id a new release gets
	who   string
}

// releaseCheck prints the state of an application directory: the target of
// current and every release with whether it is ready (built and complete).
func releaseCheck(app string) string {
	return "a=" + shell.Quote(app) + "\n" + releaseGuard + releaseCheckBody +
		"_dk=0; " + releaseStale(app, "_dk=$((_dk + 1))") + "echo \"stale $_dk\"\n"
}

// releaseStale is the shell loops that run action on each temporary entry
// a killed deploy left in app (transport's scheme): the upload and the
// scripts' new copies in .drover, the new current link beside current.
// Only drover writes there (releaseGuard), and the loops take only entries
// of the writing user, of an earlier run.
func releaseStale(app, action string) string {
	return transport.StaleTempsIn(app+"/.drover", action) + transport.StaleTemps(app, "current", action)
}

// releaseSweep is the step that removes what releaseStale finds, first in
// a deploy's plan (sweepStale for the release module).
func releaseSweep(plan *contract.Plan, app string, n int) *contract.Plan {
	if n == 0 {
		return plan
	}
	plan.Changes = append(plan.Changes, contract.Change{Action: contract.Delete,
		Subject: fmt.Sprintf("%d stale drover temporary file(s) of an earlier run in %s", n, app)})
	plan.Steps = append([]contract.Step{{Script: "a=" + shell.Quote(app) + "\n" + releaseGuard +
		"( drover_cd " + shell.Quote(app+"/.drover") + " && " + transport.StaleTempsIn("", `drover_rmstale "$_df"`) + ")\n" +
		"( drover_cd " + shell.Quote(app) + " && " + transport.StaleTemps("", "current", `drover_rmstale "$_df"`) + ")\n"}}, plan.Steps...)
	return plan
}

// releaseGuard (with the app directory in $a) fails unless nobody but root
// (or the user drover runs as) can change the app directory, the directories
// drover writes in it, and every directory above them: drover_owncd. The
// release module writes and removes a whole tree there as root by name
// (fixed temporary names in .drover, rm -rf of old releases), which is only
// safe where no other user can rename an entry and plant a link. An app
// directory another user owns is refused, not worked around: the module
// has no owner to act as, and the application's own writable paths belong
// under shared/ (whose entries may be its user's; seeding them goes through
// safeFS). Run at the state read and again before the writes of a deploy,
// a re-check and a rollback.
var releaseGuard = safeFS + `drover_app() {
	_fa=$a
	while [ -n "$_fa" ] && [ ! -e "$_fa" ] && [ ! -L "$_fa" ]; do _fa=${_fa%/*}; done
	for _fd in "${_fa:-/}" "$a/.drover" "$a/.drover/ready" "$a/releases" "$a/shared"; do
		[ -e "$_fd" ] || [ -L "$_fd" ] || continue
		( drover_owncd "$_fd" ) && continue
		echo "drover: the release module writes $a as root, so it, the directories drover keeps in it (.drover, releases, shared) and every directory above it may be changed by root (or $(id -un)) alone: give them to root and chmod go-w them; the application's writable paths belong under shared/, whose entries may be its user's" >&2
		return 1
	done
}
drover_app || exit 1
`

const releaseCheckBody = `[ -e "$a" ] || { echo missing; exit 0; }
if [ -L "$a/current" ]; then printf 'current %s\n' "$(readlink "$a/current")"
elif [ -e "$a/current" ]; then echo notlink
fi
for d in "$a"/releases/*; do
  [ -d "$d" ] || continue
  id=${d##*/}
  if [ -e "$a/.drover/ready/$id" ]; then echo "release $id ready"; else echo "release $id partial"; fi
done
if [ -f "$a/.drover/previous" ]; then printf 'previous %s\n' "$(cat "$a/.drover/previous")"; fi
if [ -f "$a/.drover/pending" ]; then printf 'pending %s\n' "$(cat "$a/.drover/pending")"; fi
`

func (t *releaseTask) Check() string {
	c := ""
	if t.git != nil {
		// The commit the ref names now (read-only; bounded in time). First:
		// the state part exits early when the app directory is missing.
		c = "u=" + shell.Quote(t.git.URL) + "\nref=" + shell.Quote(t.git.Ref) + "\n" + gitEnv + `if ! command -v git >/dev/null 2>&1; then echo 'giterr git is not installed on the host'
elif printf '%s\n' "$ref" | grep -Eq '^[0-9a-f]{40}$'; then printf 'gitref %s\n' "$ref"
elif out=$(cd / && timeout 60 git ls-remote -- "$u" "$ref" "refs/heads/$ref" "refs/tags/$ref" "refs/tags/$ref^{}" 2>&1); then
  printf '%s\n' "$out" | while read -r sha name; do printf 'gitls %s %s\n' "$sha" "$name"; done
else printf 'giterr %s\n' "$(printf '%s' "$out" | tail -n 1)"
fi
`
	}
	return c + releaseCheck(t.cfg.App)
}

// gitCommit picks the commit a ref resolves to from `git ls-remote` lines:
// an exact name, then a branch, then a tag (peeled when annotated).
func gitCommit(ref string, ls [][2]string) string {
	for _, want := range []string{ref, "refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref} {
		for _, l := range ls {
			if l[1] == want {
				return l[0]
			}
		}
	}
	return ""
}

// releaseState is what releaseCheck printed.
type releaseState struct {
	Missing  bool
	NotLink  bool
	Current  string // release id current points to; "" when none
	Previous string
	// Pending is the release whose switch action and health check were
	// started but have not passed (interrupted, or failed with no way back).
	Pending  string
	Stale    int            // temporary entries of killed runs (releaseStale)
	Releases []releaseEntry // sorted by id: oldest first
	// For git sources: the commit the ref names, or why it could not be read.
	GitRef string
	GitLs  [][2]string
	GitErr string
}

type releaseEntry struct {
	ID    string
	Ready bool
}

var releaseIDRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{12}$`)

func parseReleaseState(out contract.CheckOutput) (*releaseState, error) {
	if out.ExitCode != 0 {
		return nil, checkErr(out)
	}
	st := &releaseState{}
	for _, l := range strings.Split(string(out.Stdout), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "missing":
			st.Missing = true
		case "notlink":
			st.NotLink = true
		case "current":
			v = strings.TrimSuffix(v, "/")
			st.Current = v[strings.LastIndex(v, "/")+1:]
		case "previous":
			st.Previous = strings.TrimSpace(v)
		case "pending":
			st.Pending = strings.TrimSpace(v)
		case "stale":
			st.Stale, _ = strconv.Atoi(strings.TrimSpace(v))
		case "gitref":
			st.GitRef = strings.TrimSpace(v)
		case "gitls":
			sha, name, _ := strings.Cut(v, " ")
			st.GitLs = append(st.GitLs, [2]string{sha, name})
		case "giterr":
			st.GitErr = v
		case "release":
			id, state, _ := strings.Cut(v, " ")
			if releaseIDRE.MatchString(id) {
				st.Releases = append(st.Releases, releaseEntry{ID: id, Ready: state == "ready"})
			}
		}
	}
	return st, nil
}

func (st *releaseState) ready(id string) bool {
	for _, r := range st.Releases {
		if r.ID == id {
			return r.Ready
		}
	}
	return false
}

// releaseSum is the source checksum prefix in a release id.
func releaseSum(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

func (t *releaseTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	st, err := parseReleaseState(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.cfg.App, err)
	}
	p, err := t.diff(st)
	if err != nil {
		return nil, err
	}
	return releaseSweep(p, t.cfg.App, st.Stale), nil
}

func (t *releaseTask) diff(st *releaseState) (*contract.Plan, error) {
	if st.NotLink {
		return nil, fmt.Errorf("%s/current exists and is not a symbolic link; move it away so that drover can manage releases there", t.cfg.App)
	}
	full := ""
	if t.git != nil {
		full = st.GitRef
		if full == "" {
			full = gitCommit(t.git.Ref, st.GitLs)
		}
		switch {
		case st.GitErr != "":
			return nil, fmt.Errorf("%s: reading ref %s of %s on the host: %s", t.cfg.App, t.git.Ref, t.git.URL, st.GitErr)
		case !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(full):
			return nil, fmt.Errorf("%s: %s has no branch, tag or commit named %q", t.cfg.App, t.git.URL, t.git.Ref)
		}
	} else {
		full = t.art.sum
	}
	sum := full[:12]
	if st.Current != "" && releaseSum(st.Current) == sum && st.ready(st.Current) {
		if st.Pending == st.Current {
			return t.recheck(st), nil
		}
		return &contract.Plan{}, nil // this artifact is live already
	}
	target, fresh := t.stamp+"-"+sum, true
	for i := len(st.Releases) - 1; i >= 0; i-- {
		if r := st.Releases[i]; r.Ready && releaseSum(r.ID) == sum {
			target, fresh = r.ID, false
			break
		}
	}
	var changes []contract.Change
	if fresh {
		changes = append(changes, contract.Change{Action: contract.Create, Subject: t.cfg.App + "/releases/" + target,
			Attrs: []contract.AttrChange{{Name: "source", New: t.cfg.SourceLabel}, {Name: sumName(t.git), New: full}}})
	}
	cur := contract.Change{Action: contract.Update, Subject: t.cfg.App + "/current", Attrs: []contract.AttrChange{{Name: "release", Old: st.Current, New: target}}}
	if st.Current == "" {
		cur.Action = contract.Create
	}
	changes = append(changes, cur)
	if t.cfg.SwitchDesc != "" {
		changes = append(changes, contract.Change{Action: contract.Run, Subject: t.cfg.SwitchDesc})
	}
	d := &deploy{cfg: t.cfg, art: t.art, git: t.git, sum: full, id: target, fresh: fresh, who: t.who}
	return &contract.Plan{Changes: changes, Steps: []contract.Step{{Func: d.run}}}, nil
}

// recheck is the plan for a current release whose switch action or health
// check did not finish (the connection dropped, or the run was cancelled):
// run them again, and roll back to the previous release if they fail.
func (t *releaseTask) recheck(st *releaseState) *contract.Plan {
	what := "switch action and health check"
	switch {
	case t.cfg.SwitchDesc == "" && t.cfg.HealthDesc != "":
		what = "health check (" + t.cfg.HealthDesc + ")"
	case t.cfg.SwitchDesc != "" && t.cfg.HealthDesc == "":
		what = "switch action (" + t.cfg.SwitchDesc + ")"
	case t.cfg.SwitchDesc != "":
		what += " (" + t.cfg.SwitchDesc + "; " + t.cfg.HealthDesc + ")"
	}
	d := &deploy{cfg: t.cfg, id: st.Current, who: t.who}
	return &contract.Plan{
		Changes: []contract.Change{{Action: contract.Run, Subject: t.cfg.App + "/current", Attrs: []contract.AttrChange{
			{Name: "recheck", New: "release " + st.Current + ": " + what + " again; the last deploy was interrupted before it passed"},
		}}},
		Steps: []contract.Step{{Func: func(ctx context.Context, conn transport.Conn) (transport.Result, error) {
			return d.recheck(ctx, conn, st.Previous)
		}}},
	}
}

// recheck re-runs the switch action and health check of the current release
// d.id, rolling back to prev when they fail.
func (d *deploy) recheck(ctx context.Context, conn transport.Conn, prev string) (transport.Result, error) {
	sum := releaseSum(d.id)
	if err := prepareApp(ctx, conn, d.cfg); err != nil {
		return transport.Result{}, err
	}
	if err := goLive(ctx, conn, d.cfg.App); err != nil {
		if transport.Unreachable(err) || ctx.Err() != nil {
			return transport.Result{}, fmt.Errorf("release %s is current, but its switch action or health check did not finish again: %w", d.id, err)
		}
		rb := rollBack(ctx, conn, d.cfg.App, d.id, prev, err)
		record(ctx, conn, d.cfg.App, d.who, sum, d.id, "recheck", "rolled back: "+oneLine(rb.Error()))
		return transport.Result{}, rb
	}
	record(ctx, conn, d.cfg.App, d.who, sum, d.id, "recheck", "ok")
	return transport.Result{Stdout: []byte("release " + d.id + ": switch action and health check passed\n")}, nil
}

func sumName(g *gitSource) string {
	if g != nil {
		return "commit"
	}
	return "sha256"
}

func (t *releaseTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.cfg.App}}
}

func (t *releaseTask) Uses() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: parentDir(t.cfg.App)}}
}

func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "/"
}

// deploy is the work of one release task on one host.
type deploy struct {
	cfg   releaseConfig
	art   *artifact
	git   *gitSource
	sum   string // the source's sha256, or the git commit
	id    string
	fresh bool // upload and build a new release; otherwise switch to a kept one
	who   string
}

// ReleaseRolledBack is the error of a deploy or rollback whose release did
// not become healthy and that switched back.
type ReleaseRolledBack struct {
	Release  string // the release that failed
	Back     string // the release current points to again ("" when none)
	Cause    string // why it failed (the health check's message)
	Healthy  bool   // whether Back passed the health check again
	Restored bool   // whether current was switched back at all
}

func (e *ReleaseRolledBack) Error() string {
	switch {
	case !e.Restored:
		return fmt.Sprintf("release %s failed after the switch: %s; there is no previous release to roll back to", e.Release, e.Cause)
	case e.Healthy:
		return fmt.Sprintf("release %s failed after the switch: %s; rolled back to %s, which is healthy", e.Release, e.Cause, e.Back)
	}
	return fmt.Sprintf("release %s failed after the switch: %s; rolled back to %s, but its health check failed too", e.Release, e.Cause, e.Back)
}

func (d *deploy) run(ctx context.Context, conn transport.Conn) (transport.Result, error) {
	var log bytes.Buffer
	if err := prepareApp(ctx, conn, d.cfg); err != nil {
		return transport.Result{}, err
	}
	if d.fresh {
		if err := d.unpack(ctx, conn); err != nil {
			if transport.Unreachable(err) || ctx.Err() != nil {
				return transport.Result{}, err
			}
			record(ctx, conn, d.cfg.App, d.who, d.sum, d.id, "deploy", "failed before the switch: "+oneLine(err.Error()))
			return transport.Result{}, err
		}
		fmt.Fprintf(&log, "release %s unpacked and built\n", d.id)
	}
	prev, err := switchTo(ctx, conn, d.cfg.App, d.id)
	if err != nil {
		return transport.Result{}, err
	}
	fmt.Fprintf(&log, "current -> releases/%s (was %s)\n", d.id, orNone(prev))
	if err := goLive(ctx, conn, d.cfg.App); err != nil {
		if transport.Unreachable(err) || ctx.Err() != nil {
			// The host cannot be reached to roll back: current points to
			// the complete new release, still marked pending, so the next
			// plan runs the switch action and health check again.
			return transport.Result{Stdout: log.Bytes()}, fmt.Errorf("release %s is current, but its switch action or health check did not finish (the next run repeats them): %w", d.id, err)
		}
		rb := rollBack(ctx, conn, d.cfg.App, d.id, prev, err)
		record(ctx, conn, d.cfg.App, d.who, d.sum, d.id, "deploy", "rolled back: "+oneLine(rb.Error()))
		return transport.Result{Stdout: log.Bytes()}, rb
	}
	record(ctx, conn, d.cfg.App, d.who, d.sum, d.id, "deploy", "ok")
	out, err := prune(ctx, conn, d.cfg.App, d.cfg.Keep)
	log.WriteString(out)
	if err != nil {
		fmt.Fprintf(&log, "pruning old releases: %v\n", err)
	}
	return transport.Result{Stdout: log.Bytes()}, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// runRelease runs a script with set -e and turns a non-zero exit or a
// signal into a *StepError with the end of its stderr; a transport error is
// returned as it is.
func runRelease(ctx context.Context, conn transport.Conn, script string, stdin io.Reader) (transport.Result, error) {
	cmd := transport.Cmd{Command: "set -e\n" + script, Stdin: stdin}
	if len(cmd.Command) > remote.MaxInlineScript && stdin == nil {
		cmd = transport.Cmd{Command: "sh -s", Stdin: strings.NewReader(cmd.Command)}
	}
	res, err := conn.Run(ctx, cmd)
	if err != nil {
		return res, err
	}
	return res, contract.StepFailure(0, res, nil)
}

// prepareApp creates the directory layout and writes the switch and health
// scripts (for rollbacks) and the name pointer under /var/lib/drover.
func prepareApp(ctx context.Context, conn transport.Conn, c releaseConfig) error {
	a := shell.Quote(c.App)
	script := "a=" + a + "\n" + releaseGuard + "mkdir -p \"$a/releases\" \"$a/shared\" \"$a/.drover/ready\"\n"
	for _, f := range []struct{ name, body string }{{"switch.sh", c.SwitchCmd}, {"health.sh", c.HealthCmd}} {
		tmp := shell.Quote(tempPath(c.App + "/.drover/" + f.name))
		script += "printf '%s' " + shell.Quote(f.body) + " >" + tmp + "\nmv -f " + tmp + " \"$a/.drover/" + f.name + "\"\n"
	}
	// The name → path pointer lets `drover releases HOSTS NAME` find the app.
	script += "n=" + shell.Quote(c.Name) + `
if mkdir -p /var/lib/drover/releases 2>/dev/null; then
  l=/var/lib/drover/releases/$n
  if [ "$(readlink "$l" 2>/dev/null)" != "$a" ]; then ln -sfn "$a" "$l.tmp" && mv -fT "$l.tmp" "$l" || true; fi
fi
`
	if _, err := runRelease(ctx, conn, script, nil); err != nil {
		return fmt.Errorf("preparing %s: %w", c.App, err)
	}
	return nil
}

// unpack uploads the artifact, unpacks it into releases/<id>, links the
// shared paths and runs the build commands, then marks the release ready. On
// failure the release directory is removed; current is never touched.
func (d *deploy) unpack(ctx context.Context, conn transport.Conn) error {
	// In transport's scheme, so that Put writes it in place and the next
	// run's sweep (releaseStale) removes it when this one is killed.
	up := tempPath(d.cfg.App + "/.drover/upload.tar")
	var b strings.Builder
	fmt.Fprintf(&b, "a=%s\nid=%s\nu=%s\nr=\"$a/releases/$id\"\n", shell.Quote(d.cfg.App), shell.Quote(d.id), shell.Quote(up))
	b.WriteString(`trap 'st=$?; rm -f "$u"; if [ $st -ne 0 ]; then rm -rf "$r"; fi' EXIT
rm -rf "$r"
mkdir -p "$r"
`)
	if d.git != nil {
		// A bare mirror in .drover/repo.git, fetched each deploy; the
		// commit's tree is exported into the release (no .git in it).
		fmt.Fprintf(&b, "url=%s\nc=%s\n", shell.Quote(d.git.URL), shell.Quote(d.sum))
		b.WriteString(gitEnv)
		b.WriteString(`g="$a/.drover/repo.git"
[ -d "$g" ] || git init -q --bare "$g"
git --git-dir="$g" fetch -q --force --tags -- "$url" '+refs/heads/*:refs/heads/*' || { printf '%s\n' "fetching $url failed" >&2; exit 1; }
git --git-dir="$g" cat-file -e "$c^{commit}" 2>/dev/null || git --git-dir="$g" fetch -q -- "$url" "$c" || { printf '%s\n' "commit $c is not in $url" >&2; exit 1; }
git --git-dir="$g" archive --format=tar -o "$u" "$c"
tar -xf "$u" -C "$r"
`)
	} else {
		if err := conn.Put(ctx, up, bytes.NewReader(d.art.data), transport.PutOptions{Mode: 0o600}); err != nil {
			return fmt.Errorf("uploading the source to %s: %w", up, err)
		}
		z := ""
		if d.art.gz {
			z = "z"
		}
		b.WriteString(`tar -x` + z + `f "$u" -C "$r" || { printf '%s\n' "unpacking the source failed" >&2; exit 1; }
`)
	}
	if len(d.cfg.Shared) > 0 {
		b.WriteString(safeFS)
	}
	for _, s := range d.cfg.Shared {
		fmt.Fprintf(&b, "s=%s\n", shell.Quote(s))
		// A missing shared path is seeded in a private directory and renamed
		// into place: the directory it goes in may be the app user's.
		b.WriteString(`if [ ! -e "$a/shared/$s" ] && [ ! -L "$a/shared/$s" ]; then (
  drover_mkcd "$(dirname "$a/shared/$s")" && drover_stage "${s##*/}" || exit 1
  if [ -e "$r/$s" ]; then cp -a "$r/$s" f; else mkdir f; fi && mv -T f "../${s##*/}"; st=$?
  drover_unstage; exit $st
) fi
rm -rf "$r/$s"
mkdir -p "$(dirname "$r/$s")"
ln -s "$a/shared/$s" "$r/$s"
`)
	}
	for i, c := range d.cfg.Build {
		fmt.Fprintf(&b, "( cd \"$r\" && RELEASE_DIR=\"$r\" APP_DIR=\"$a\" SHARED_DIR=\"$a/shared\" sh -c %s </dev/null ) || { st=$?; printf '%%s\\n' %s >&2; exit $st; }\n",
			shell.Quote(c), shell.Quote(fmt.Sprintf("build step %d failed: %s", i+1, c)))
	}
	b.WriteString("touch \"$a/.drover/ready/$id\"\n")
	if _, err := runRelease(ctx, conn, b.String(), nil); err != nil {
		return fmt.Errorf("release %s not switched (current is unchanged): %w", d.id, err)
	}
	return nil
}

// switchTo points current at releases/<id> atomically: a new link under a
// temporary name renamed over current (rename(2)), so current never goes
// missing. It returns the release current pointed to before.
func switchTo(ctx context.Context, conn transport.Conn, app, id string) (string, error) {
	script := "a=" + shell.Quote(app) + "\nid=" + shell.Quote(id) + "\n" +
		"tp=" + shell.Quote(tempPath(app+"/.drover/pending")) + " tv=" + shell.Quote(tempPath(app+"/.drover/previous")) + " t=" + shell.Quote(tempPath(app+"/current")) + "\n" + releaseGuard + `[ -e "$a/.drover/ready/$id" ] || { printf '%s\n' "release $id is not ready (incomplete or failed)" >&2; exit 1; }
prev=
if [ -L "$a/current" ]; then prev=$(readlink "$a/current"); prev=${prev##*/}; fi
printf '%s\n' "$id" >"$tp"; mv -f "$tp" "$a/.drover/pending"
if [ "$prev" != "$id" ]; then
  if [ -n "$prev" ]; then printf '%s\n' "$prev" >"$tv"; mv -f "$tv" "$a/.drover/previous"; fi
  rm -f "$t"
  ln -s "releases/$id" "$t"
  mv -fT "$t" "$a/current"
fi
printf '%s\n' "$prev"
`
	res, err := runRelease(ctx, conn, script, nil)
	if err != nil {
		return "", fmt.Errorf("switching %s/current to %s: %w", app, id, err)
	}
	return strings.TrimSpace(string(res.Stdout)), nil
}

// goLive runs the app's switch action then its health check, in current.
// Once both passed it removes .drover/pending, which switchTo wrote before
// the switch: a release still pending was never seen healthy.
func goLive(ctx context.Context, conn transport.Conn, app string) error {
	a := shell.Quote(app)
	if _, err := runRelease(ctx, conn, "cd "+a+"/current\nsh "+a+"/.drover/switch.sh </dev/null", nil); err != nil {
		return fmt.Errorf("switch action failed: %w", err)
	}
	if _, err := runRelease(ctx, conn, "cd "+a+"/current\nsh "+a+"/.drover/health.sh </dev/null\nrm -f "+a+"/.drover/pending", nil); err != nil {
		return err
	}
	return nil
}

// rollBack switches from the failed release back to prev, marks the failed
// one not ready (so that deploying the same artifact tries again instead of
// calling it live), and re-runs the switch action and health check.
func rollBack(ctx context.Context, conn transport.Conn, app, failed, prev string, cause error) *ReleaseRolledBack {
	rb := &ReleaseRolledBack{Release: failed, Back: prev, Cause: oneLine(cause.Error())}
	unready := "rm -f " + shell.Quote(app+"/.drover/ready/"+failed)
	if prev == "" || prev == failed {
		_, _ = runRelease(ctx, conn, unready, nil)
		return rb
	}
	if _, err := switchTo(ctx, conn, app, prev); err != nil {
		rb.Cause += "; switching back failed: " + oneLine(err.Error())
		return rb
	}
	rb.Restored = true
	// The failed release is no one's previous release: forget it.
	p := shell.Quote(app + "/.drover/previous")
	_, _ = runRelease(ctx, conn, unready+"\nif [ \"$(cat "+p+" 2>/dev/null)\" = "+shell.Quote(failed)+" ]; then rm -f "+p+"; fi", nil)
	if err := goLive(ctx, conn, app); err == nil {
		rb.Healthy = true
	}
	return rb
}

// record appends a deploy record to app/.drover/deploys.log: tab-separated
// time (UTC), who, source sha256, release, action, result.
func record(ctx context.Context, conn transport.Conn, app, who, sum, id, action, result string) {
	clean := func(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(s) }
	script := "printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" " +
		shell.Join(clean(who), clean(sum), clean(id), clean(action), clean(result)) +
		" >>" + shell.Quote(app+"/.drover/deploys.log")
	_, _ = runRelease(ctx, conn, script, nil)
}

// prune removes the oldest releases beyond keep (ready ones), and failed or
// incomplete ones (a killed deploy's unpack directory: it says so), never
// the current or the previous release.
func prune(ctx context.Context, conn transport.Conn, app string, keep int) (string, error) {
	script := "a=" + shell.Quote(app) + fmt.Sprintf("\nkeep=%d\n", keep) + `cur=; prev=
if [ -L "$a/current" ]; then cur=$(readlink "$a/current"); cur=${cur##*/}; fi
[ -f "$a/.drover/previous" ] && prev=$(cat "$a/.drover/previous")
n=0
for id in $(ls -1 "$a/releases" | sort -r); do
  [ "$id" = "$cur" ] && { n=$((n + 1)); continue; }
  [ "$id" = "$prev" ] && { n=$((n + 1)); continue; }
  if [ -e "$a/.drover/ready/$id" ] && [ $n -lt $keep ]; then n=$((n + 1)); continue; fi
  [ -e "$a/.drover/ready/$id" ] || printf 'removed incomplete release %s (an interrupted or failed deploy)\n' "$id"
  rm -rf "$a/releases/$id"
  rm -f "$a/.drover/ready/$id"
done
`
	res, err := runRelease(ctx, conn, script, nil)
	return string(res.Stdout), err
}
