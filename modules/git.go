package modules

import (
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Git keeps a checkout of a repository at a branch, tag or commit.
type Git struct{}

func (Git) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "git",
		Summary: "Clone a git repository and keep it at a branch, tag or commit.",
		Doc: `Clones repo into dest (into a temporary directory beside it first, renamed
when complete) and keeps dest checked out at ref. A branch is checked out as
a local branch at the remote's tip; a tag or commit as a detached HEAD.

The check reads dest's HEAD and whether tracked files were changed, and asks
the remote (git ls-remote) which commit ref names. With a deploy_key the
remote cannot be asked before the key is on the host: then a branch or tag is
fetched on every run and reported as a run (>), while a full commit id is
compared locally. Local changes to tracked files stop the task unless force
is true, which discards them; untracked files are kept.

deploy_key is a private key on the controller, uploaded for the duration of
the operation to a 0600 temporary file, used through GIT_SSH_COMMAND and
removed afterwards, also when the operation fails. The host must know the git
server's host key (known_hosts) unless accept_new_hostkey is true. git must be
installed on the host.

A dest that exists and is owned by another user than the one drover runs git
as (root, usually) is refused: its repository configuration (hooks,
core.fsmonitor, core.sshCommand, ...) would run with drover's privileges, so
drover never tells git to trust it (safe.directory). Hooks and the fsmonitor
are off in every git command drover runs, and only the file, git, http,
https and ssh transports are allowed (no ext:: or fd:: remote helpers).`,
		Attributes: []contract.Attribute{
			{Name: "repo", Type: cty.String, Required: true, Doc: "Repository URL (https://, ssh://, git@host:path, file://)."},
			{Name: "dest", Type: cty.String, Required: true, Doc: "Absolute path of the working tree."},
			{Name: "ref", Type: cty.String, Default: cty.StringVal("HEAD"), Doc: "Branch, tag or full commit id. HEAD: the remote's default branch."},
			{Name: "deploy_key", Type: cty.String, Sensitive: true, Doc: "Path of an SSH private key on the controller (relative to the playbook) to fetch with."},
			{Name: "accept_new_hostkey", Type: cty.Bool, Default: cty.False, Doc: "With deploy_key: accept an unknown git server host key (never a changed one)."},
			{Name: "depth", Type: cty.Number, Doc: "Shallow clone with this many commits. Unset: full history."},
			{Name: "force", Type: cty.Bool, Default: cty.False, Doc: "Discard local changes to tracked files instead of failing."},
		},
		Example: `git "app" {
  repo       = "git@github.com:example/app.git"
  dest       = "/srv/app"
  ref        = "v1.4.2"
  deploy_key = "keys/app_deploy"
  depth      = 1
}`,
	}
}

// gitEnv keeps git from running code that repository configuration names.
// drover never sets safe.directory: git then refuses a repository another
// user owns ("dubious ownership"), whose .git/config could name commands
// (core.fsmonitor, core.sshCommand, remote.*.uploadpack, hooks) that would
// run with drover's privileges. What remains is the configuration of
// repositories the user running git owns; in those, hooks and the fsmonitor
// are switched off too (command-scope config overrides the repository's),
// and only the transports a repo URL may name are allowed, so that neither
// ext:: nor a url.*.insteadOf rewrite can reach a command-running helper.
const gitEnv = `GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0=false GIT_CONFIG_KEY_1=core.hooksPath GIT_CONFIG_VALUE_1=/dev/null
GIT_ALLOW_PROTOCOL=file:git:http:https:ssh GIT_TERMINAL_PROMPT=0 GIT_PAGER=cat PAGER=cat
export GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0 GIT_CONFIG_KEY_1 GIT_CONFIG_VALUE_1 GIT_ALLOW_PROTOCOL GIT_TERMINAL_PROMPT GIT_PAGER PAGER
unset GIT_DIR GIT_WORK_TREE GIT_CONFIG GIT_CONFIG_PARAMETERS
`

// gitURLError says why a repository URL is refused, or returns "". A
// "transport::address" URL runs the remote helper git-remote-<transport>;
// ext:: and fd:: hand the address to a shell or a file descriptor. Both the
// git module and release's git:: sources go through here.
func gitURLError(u string) string {
	switch {
	case u == "" || hasNewline(u) || strings.ContainsRune(u, 0) || strings.HasPrefix(u, "-"):
		return fmt.Sprintf("%q is not a repository URL", u)
	case gitHelperURL.MatchString(u):
		return fmt.Sprintf("%q names a git remote helper (transport::address); helpers such as ext:: and fd:: run arbitrary commands and are refused: use an https://, ssh://, git:// or file:// URL, or host:path", u)
	}
	return ""
}

var gitHelperURL = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)

// gitKeySuffix names the deploy key's temporary file on the host
// (transport's run id and random part); tests replace it for stable output.
var gitKeySuffix = func() (string, error) { return transport.TempSuffix(), nil }

// gitKeyBeside is the path the deploy key's temporary names are beside.
const gitKeyBeside = "/tmp/drover-git-key"

var commitID = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

type gitTask struct {
	repo, dest, ref string
	key             []byte // deploy key content, nil when none
	keyPath         string // remote temporary path of the key
	acceptNew       bool
	depth           int64
	force           bool
}

func (Git) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Git{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &gitTask{repo: a.str("repo"), dest: a.str("dest"), ref: a.str("ref"), force: a.boolean("force"), acceptNew: a.boolean("accept_new_hostkey")}
	if msg := gitURLError(t.repo); msg != "" {
		return nil, &contract.AttrError{Attr: "repo", Msg: msg}
	}
	if !path.IsAbs(t.dest) || path.Clean(t.dest) == "/" || hasNewline(t.dest) {
		return nil, &contract.AttrError{Attr: "dest", Msg: fmt.Sprintf("must be an absolute path other than /, got %q", t.dest)}
	}
	t.dest = path.Clean(t.dest)
	if t.ref == "" {
		t.ref = "HEAD"
	}
	if strings.HasPrefix(t.ref, "-") || strings.ContainsAny(t.ref, " \t\n\r~^:?*[\\") || strings.Contains(t.ref, "..") {
		return nil, &contract.AttrError{Attr: "ref", Msg: fmt.Sprintf("%q is not a branch, tag or commit name", t.ref)}
	}
	depth, ok, err := a.integer("depth")
	if err != nil {
		return nil, err
	}
	if ok {
		if depth < 1 {
			return nil, &contract.AttrError{Attr: "depth", Msg: "must be at least 1"}
		}
		t.depth = depth
	}
	if k := a.str("deploy_key"); k != "" {
		if k, err = LocalPath(cfg, k); err != nil {
			return nil, &contract.AttrError{Attr: "deploy_key", Msg: err.Error()}
		}
		if t.key, err = os.ReadFile(k); err != nil {
			return nil, &contract.AttrError{Attr: "deploy_key", Msg: fmt.Sprintf("cannot read the key on the controller: %v", err)}
		}
		suffix, err := gitKeySuffix()
		if err != nil {
			return nil, fmt.Errorf("deploy key: %w", err)
		}
		// In /tmp (sticky: nobody else can rename or replace it) and in the
		// one temporary-name scheme, so a run killed before its trap
		// removed the key has it swept by the next (gitKeyBeside).
		t.keyPath = transport.TempNameWith(gitKeyBeside, suffix)
	}
	return t, nil
}

func (t *gitTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.dest}}
}
func (t *gitTask) Uses() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: path.Dir(t.dest)}}
}

func (t *gitTask) isCommit() bool { return commitID.MatchString(t.ref) }

func (t *gitTask) Check() string {
	var b strings.Builder
	b.WriteString(shTools("git"))
	fmt.Fprintf(&b, "d=%s\n", shell.Quote(t.dest))
	b.WriteString(gitEnv)
	// Only local reads below: no system config either, and no discovery of a
	// repository above dest.
	b.WriteString("GIT_CONFIG_NOSYSTEM=1 GIT_CEILING_DIRECTORIES=$(dirname \"$d\")\nexport GIT_CONFIG_NOSYSTEM GIT_CEILING_DIRECTORIES\n")
	// A repository someone else owns is not read with git at all (see gitEnv):
	// say whose it is, and Diff refuses.
	b.WriteString(`if [ -f "$d/.git" ]; then echo gitfile=1
elif [ -e "$d/.git" ] && { [ ! -O "$d" ] || [ ! -O "$d/.git" ] || { [ -e "$d/.git/config" ] && [ ! -O "$d/.git/config" ]; }; }; then
printf 'foreign=%s\n' "$(ls -ld "$d" "$d/.git" "$d/.git/config" 2>/dev/null | awk '{print $3}' | sort -u | tr '\n' ' ')"
elif [ -e "$d/.git" ] && command -v git >/dev/null 2>&1; then
echo repo=1
printf 'head=%s\n' "$(git -C "$d" rev-parse -q --verify HEAD 2>/dev/null)"
printf 'origin=%s\n' "$(git -C "$d" config --get remote.origin.url 2>/dev/null | head -n 1)"
printf 'branch=%s\n' "$(git -C "$d" symbolic-ref -q --short HEAD 2>/dev/null)"
if [ -n "$(git -C "$d" status --porcelain --untracked-files=no 2>/dev/null | head -c 1)" ]; then echo dirty=1; fi
`)
	if t.isCommit() {
		fmt.Fprintf(&b, "if git -C \"$d\" cat-file -e %s 2>/dev/null; then echo have=1; fi\n", shell.Quote(t.ref+"^{commit}"))
	}
	b.WriteString("elif [ -e \"$d\" ]; then if [ -n \"$(ls -A \"$d\" 2>/dev/null | head -c 1)\" ]; then echo dest=nonempty; else echo dest=empty; fi\nfi\nunset GIT_CONFIG_NOSYSTEM\n")
	if !t.isCommit() && t.key == nil {
		// Ask the remote what ref names now. Read-only; fails quietly when the
		// remote needs credentials the host does not have.
		fmt.Fprintf(&b, "if command -v git >/dev/null 2>&1; then r=$(cd / && GIT_SSH_COMMAND='ssh -o BatchMode=yes' git ls-remote -- %s %s 2>&1); printf 'lsrc=%%s\\n' \"$?\"; %sfi\n",
			shell.Quote(t.repo), shell.Quote(t.ref), shVarBlob("ls", "r"))
	}
	// A killed run's clone directory (beside dest) and deploy key.
	b.WriteString(staleCheck("stale", t.dest))
	if t.key != nil {
		b.WriteString(staleCheck("stalekey", gitKeyBeside))
	}
	return b.String()
}

// remoteCommit picks the commit ref names from ls-remote output: a branch,
// else a peeled tag, else a tag, else an exact match (HEAD).
func (t *gitTask) remoteCommit(ls string) string {
	found := map[string]string{}
	for _, l := range strings.Split(ls, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			found[f[1]] = f[0]
		}
	}
	for _, name := range []string{"refs/heads/" + t.ref, "refs/tags/" + t.ref + "^{}", "refs/tags/" + t.ref, t.ref} {
		if c, ok := found[name]; ok {
			return c
		}
	}
	return ""
}

func (t *gitTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	p, err := t.diff(out)
	if err != nil {
		return nil, err
	}
	st, _ := parseKV(out.Stdout)
	n, _ := strconv.Atoi(st.vals["stale"])
	k, _ := strconv.Atoi(st.vals["stalekey"])
	return sweepStale(sweepStale(p, t.dest, n), gitKeyBeside, k), nil
}

func (t *gitTask) diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := t.dest
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if !st.has("tool.git") {
		return nil, fmt.Errorf("%s: git is not installed on the host (Debian: apt-get install git)", subject)
	}
	if f, ok := st.vals["foreign"]; ok {
		return nil, fmt.Errorf("%s is owned by %s, not by the user drover runs git as: its repository configuration (hooks, core.fsmonitor, core.sshCommand) would run with drover's privileges, so drover does not work in it. Run the task as its owner (connect as that user, without become), give the tree to the user drover runs as (chown -R), or remove it and let drover clone it", t.dest, strings.TrimSpace(f))
	}
	if st.has("gitfile") {
		return nil, fmt.Errorf("%s/.git is a file (a linked worktree or a submodule): drover manages only a plain clone; remove %s or choose another dest", t.dest, t.dest)
	}
	want := ""
	switch {
	case t.isCommit():
		want = t.ref
	case t.key == nil:
		if st.vals["lsrc"] != "0" {
			return nil, fmt.Errorf("%s: cannot read %s from %s: %s", subject, t.ref, t.repo, strings.TrimSpace(string(st.blobs["ls"])))
		}
		if want = t.remoteCommit(string(st.blobs["ls"])); want == "" {
			return nil, fmt.Errorf("%s: %s has no branch or tag %q", subject, t.repo, t.ref)
		}
	}
	p := &contract.Plan{}
	if !st.has("repo") {
		if st.vals["dest"] == "nonempty" {
			return nil, fmt.Errorf("%s exists, is not empty and is not a git repository; remove it or choose another dest", t.dest)
		}
		attrs := []contract.AttrChange{{Name: "repo", New: t.repo}, {Name: "ref", New: t.ref}}
		if want != "" && want != t.ref {
			attrs = append(attrs, contract.AttrChange{Name: "commit", New: shortSum(want)})
		}
		p.Changes = append(p.Changes, contract.Change{Action: contract.Create, Subject: subject, Attrs: attrs})
		p.Steps = append(p.Steps, t.step(true, t.refKind(st)))
		return p, nil
	}
	head := st.vals["head"]
	var attrs []contract.AttrChange
	if origin := st.vals["origin"]; origin != t.repo {
		attrs = append(attrs, contract.AttrChange{Name: "repo", Old: origin, New: t.repo})
	}
	switch {
	case want == "":
		// A deploy key hides the remote until apply: fetch and see.
		p.Changes = append(p.Changes, contract.Change{Action: contract.Run, Subject: subject, Attrs: append(attrs,
			contract.AttrChange{Name: "fetch", Old: shortSum(head), New: t.ref + " (the remote is read with the deploy key when applying)"})})
	case head != want || (attrs != nil) || (t.refKind(st) == "branch" && st.vals["branch"] != t.ref):
		attrs = append(attrs, contract.AttrChange{Name: "commit", Old: shortSum(head), New: shortSum(want) + " (" + t.ref + ")"})
		p.Changes = append(p.Changes, contract.Change{Action: contract.Update, Subject: subject, Attrs: attrs})
	default:
		return p, nil
	}
	if st.has("dirty") && !t.force {
		return nil, fmt.Errorf("%s has local changes to tracked files; commit or discard them, or set force = true to discard them", t.dest)
	}
	p.Steps = append(p.Steps, t.step(false, t.refKind(st)))
	return p, nil
}

// refKind says what ref names: "commit", "head", "branch", "tag", or
// "unknown" when the remote could not be asked (deploy key).
func (t *gitTask) refKind(st kv) string {
	ls := "\n" + string(st.blobs["ls"])
	switch {
	case t.isCommit():
		return "commit"
	case t.ref == "HEAD":
		return "head"
	case strings.Contains(ls, "\trefs/heads/"+t.ref+"\n"):
		return "branch"
	case strings.Contains(ls, "\trefs/tags/"+t.ref+"\n"):
		return "tag"
	}
	return "unknown"
}

// step clones (fresh) or fetches and checks out ref. The git operations are
// the same in both cases: a fresh clone is an empty repository with origin
// set, built beside dest and renamed into place once checked out.
func (t *gitTask) step(fresh bool, kind string) contract.Step {
	var b strings.Builder
	fmt.Fprintf(&b, "r=%s\nref=%s\nd=%s\n", shell.Quote(t.repo), shell.Quote(t.ref), shell.Quote(t.dest))
	clean := []string{}
	st := contract.Step{}
	if t.key != nil {
		key := t.key
		st.Uploads = []contract.Upload{{Path: t.keyPath, Mode: 0o600, Size: int64(len(key)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(string(key))), nil
		}}}
		clean = append(clean, `rm -f "$k"`)
		fmt.Fprintf(&b, "k=%s\n", shell.Quote(t.keyPath))
		hk := ""
		if t.acceptNew {
			hk = " -o StrictHostKeyChecking=accept-new"
		}
		fmt.Fprintf(&b, "GIT_SSH_COMMAND=\"ssh -i $k -o IdentitiesOnly=yes -o BatchMode=yes%s\"\nexport GIT_SSH_COMMAND\n", hk)
	}
	b.WriteString(gitEnv)
	if fresh {
		// The clone is built in safeFS's private directory in dest's
		// directory and named only relative to it: dest's directory may be
		// another user's, who could swap a work directory named by path
		// for a link and have root chmod it and git init through it.
		b.WriteString(shRequireDir(path.Dir(t.dest)))
		fmt.Fprintf(&b, "%sdrover_cd %s\ndrover_stage %s\nmkdir x\nchmod 755 x\nw=x\n", safeFS, shell.Quote(path.Dir(t.dest)), shell.Quote(path.Base(t.dest)))
		clean = append(clean, "drover_unstage")
	} else {
		b.WriteString("w=\"$d\"\n")
	}
	if len(clean) > 0 {
		fmt.Fprintf(&b, "trap '%s' EXIT\n", strings.Join(clean, "; "))
	}
	if fresh {
		b.WriteString("git init -q \"$w\"\ngit -C \"$w\" remote add origin \"$r\"\n")
	} else {
		b.WriteString("git -C \"$w\" remote set-url origin \"$r\"\n")
	}
	depth := ""
	if t.depth > 0 {
		depth = " --depth=" + strconv.FormatInt(t.depth, 10)
	}
	force := ""
	if t.force {
		force = " -f"
		if !fresh {
			b.WriteString("git -C \"$w\" reset -q --hard\n")
		}
	}
	const (
		head   = "git -C \"$w\" fetch -q%[1]s origin HEAD\ngit -C \"$w\" -c advice.detachedHead=false checkout -q%[2]s --detach FETCH_HEAD\n"
		branch = "git -C \"$w\" fetch -q%[1]s origin \"+refs/heads/$ref:refs/remotes/origin/$ref\"\ngit -C \"$w\" checkout -q%[2]s -B \"$ref\" \"refs/remotes/origin/$ref\"\n"
		tag    = "git -C \"$w\" fetch -q%[1]s origin \"+refs/tags/$ref:refs/tags/$ref\"\ngit -C \"$w\" -c advice.detachedHead=false checkout -q%[2]s --detach \"refs/tags/$ref^{commit}\"\n"
		commit = `if ! git -C "$w" cat-file -e "$ref^{commit}" 2>/dev/null; then
git -C "$w" fetch -q%[1]s origin "$ref" 2>/dev/null || git -C "$w" fetch -q%[1]s --tags origin '+refs/heads/*:refs/remotes/origin/*'
fi
git -C "$w" -c advice.detachedHead=false checkout -q%[2]s --detach "$ref"
`
		// Behind a deploy key the check could not ask the remote; whether ref
		// is a branch or a tag, the branch fetch tells.
		unknown = `if git -C "$w" ls-remote --exit-code -q --heads origin "$ref" >/dev/null; then
` + branch + "else\n" + tag + "fi\n"
	)
	tmpl := map[string]string{"head": head, "branch": branch, "tag": tag, "commit": commit, "unknown": unknown}[kind]
	fmt.Fprintf(&b, tmpl, depth, force)
	if fresh {
		fmt.Fprintf(&b, "b=%s\nif [ -d \"../$b\" ]; then rmdir -- \"../$b\"; fi\nmv -T x \"../$b\"\n", shell.Quote(path.Base(t.dest)))
	}
	st.Script = b.String()
	return st
}
