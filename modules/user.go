package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// User manages a local account with shadow-utils (useradd, usermod, userdel)
// or, where only busybox is there, adduser/deluser/addgroup/delgroup.
type User struct{}

func (User) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "user",
		Summary: "Create, change or remove a local user account and its SSH keys.",
		Doc: `Manages an account in /etc/passwd with useradd, usermod and userdel
(shadow-utils), or busybox adduser, deluser, addgroup and delgroup where those
are what the host has (Alpine without the shadow package). Busybox cannot
change an existing account's uid, primary group, shell, home or comment:
install shadow for that.

Attributes left unset are not managed: an existing account keeps its value.
The password is set from a crypt(3) hash with chpasswd -e, fed on standard
input so that the hash appears in no command line; it is never printed and
compared by digest only. ~/.ssh/authorized_keys is written to a temporary
file and renamed, owned by the user, mode 0600 in a 0700 ~/.ssh. The user
owns both and could point them anywhere: a symbolic link or hard link at
~/.ssh or authorized_keys is refused (plan and apply fail), never read.

Tasks that use the user (a file's owner) are ordered after this one; this
task is ordered after the tasks that create its groups.`,
		Attributes: []contract.Attribute{
			{Name: "name", Type: cty.String, Required: true, Doc: "Login name: letters, digits, `_`, `.`, `-`, starting with a letter or `_`, at most 32 characters."},
			stateAttr,
			{Name: "uid", Type: cty.Number, Doc: "Numeric user id. Unset: chosen by the system on creation, kept afterwards."},
			{Name: "group", Type: cty.String, Doc: "Primary group, which must exist. Unset: a group named after the user (created with it, or reused if it exists)."},
			{Name: "groups", Type: cty.List(cty.String), Doc: "Supplementary groups. Unset: not managed. See `append`."},
			{Name: "append", Type: cty.Bool, Default: cty.False, Doc: "true: add the user to `groups` and leave other memberships alone. false: `groups` is the exact list of supplementary groups."},
			{Name: "shell", Type: cty.String, Doc: "Login shell, e.g. /bin/bash or /usr/sbin/nologin."},
			{Name: "home", Type: cty.String, Doc: "Home directory (absolute). Changing it does not move the old one's content."},
			{Name: "create_home", Type: cty.Bool, Default: cty.True, Doc: "Create the home directory when creating the account."},
			{Name: "system", Type: cty.Bool, Default: cty.False, Doc: "Create a system account (uid from the system range). Only used when creating."},
			{Name: "comment", Type: cty.String, Doc: "GECOS field (full name). No `:` or line breaks."},
			{Name: "password_hash", Type: cty.String, Sensitive: true, Doc: "crypt(3) hash, e.g. from `mkpasswd -m sha-512`; `!` locks the password. Needs root to read /etc/shadow."},
			{Name: "authorized_keys", Type: cty.List(cty.String), Doc: "SSH public keys for ~/.ssh/authorized_keys, one per element. Unset: not managed."},
			{Name: "exclusive_keys", Type: cty.Bool, Default: cty.False, Doc: "true: authorized_keys holds exactly `authorized_keys`. false: the keys are added and other lines kept."},
			{Name: "remove_home", Type: cty.Bool, Default: cty.False, Doc: "With state = \"absent\": also delete the home directory and mail spool."},
		},
		Example: `user "app" {
  name            = "app"
  uid             = 990
  group           = "app"
  groups          = ["docker"]
  append          = true
  shell           = "/usr/sbin/nologin"
  home            = "/srv/app"
  system          = true
  authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7aQm2p3RlW8n7p1mJ2oXyWv0y0+9s5y3m0b8m5dTnL deploy@ci"]
}`,
	}
}

type userTask struct {
	name          string
	state         string
	uid           *int64
	group         string
	groups        []string // nil: not managed
	appendGroups  bool
	shell         string
	home          string
	createHome    bool
	system        bool
	comment       string
	commentSet    bool
	passwordHash  string
	passwordSet   bool
	keys          []string // nil: not managed
	exclusiveKeys bool
	removeHome    bool
}

func (User) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(User{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &userTask{
		name:          a.str("name"),
		group:         a.str("group"),
		groups:        a.strs("groups"),
		appendGroups:  a.boolean("append"),
		shell:         a.str("shell"),
		home:          a.str("home"),
		createHome:    !a.set("create_home") || a.boolean("create_home"),
		system:        a.boolean("system"),
		comment:       a.str("comment"),
		commentSet:    a.set("comment"),
		passwordHash:  a.str("password_hash"),
		passwordSet:   a.set("password_hash"),
		keys:          a.strs("authorized_keys"),
		exclusiveKeys: a.boolean("exclusive_keys"),
		removeHome:    a.boolean("remove_home"),
	}
	if a.a.err != nil { // a null list element
		return nil, a.a.err
	}
	if err := checkAccountName("name", t.name); err != nil {
		return nil, err
	}
	if t.state, err = a.state(); err != nil {
		return nil, err
	}
	uid, ok, err := a.integer("uid")
	if err != nil {
		return nil, err
	}
	if ok {
		if uid < 0 || uid > 1<<31-2 {
			return nil, &contract.AttrError{Attr: "uid", Msg: fmt.Sprintf("%d is out of range", uid)}
		}
		t.uid = &uid
	}
	if t.group != "" {
		if err := checkAccountName("group", t.group); err != nil {
			return nil, err
		}
	}
	for _, g := range t.groups {
		if err := checkAccountName("groups", g); err != nil {
			return nil, err
		}
	}
	if t.groups != nil {
		t.groups = sortedUnique(t.groups)
	}
	for _, f := range [][2]string{{"shell", t.shell}, {"home", t.home}, {"comment", t.comment}} {
		if strings.ContainsAny(f[1], ":\n\r\x00") {
			return nil, &contract.AttrError{Attr: f[0], Msg: "must not contain ':', a line break or a NUL byte (they would corrupt /etc/passwd)"}
		}
	}
	if t.home != "" && !path.IsAbs(t.home) {
		return nil, &contract.AttrError{Attr: "home", Msg: fmt.Sprintf("must be an absolute path, got %q", t.home)}
	}
	if t.shell != "" && !path.IsAbs(t.shell) {
		return nil, &contract.AttrError{Attr: "shell", Msg: fmt.Sprintf("must be an absolute path, got %q", t.shell)}
	}
	if t.passwordSet && strings.ContainsAny(t.passwordHash, ":\n\r\x00") {
		return nil, &contract.AttrError{Attr: "password_hash", Msg: "must be a crypt(3) hash: no ':', line breaks or NUL bytes"}
	}
	for i, k := range t.keys {
		k = strings.TrimSpace(k)
		if k == "" || hasNewline(k) || strings.ContainsRune(k, 0) {
			return nil, &contract.AttrError{Attr: "authorized_keys", Msg: fmt.Sprintf("element %d must be one non-empty line", i)}
		}
		t.keys[i] = k
	}
	return t, nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func (t *userTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "user", Name: t.name}}
}

func (t *userTask) Uses() []contract.Resource {
	var r []contract.Resource
	if t.state == "absent" {
		return nil
	}
	if t.group != "" {
		r = append(r, contract.Resource{Kind: "group", Name: t.group})
	}
	for _, g := range t.groups {
		r = append(r, contract.Resource{Kind: "group", Name: g})
	}
	if t.home != "" && path.Dir(t.home) != "/" {
		r = append(r, contract.Resource{Kind: "path", Name: path.Dir(t.home)})
	}
	return r
}

// Facts: the account's passwd entry and the tools, gathered with every
// other account task's on the host (contract.FactChecker).
func (t *userTask) Facts() []contract.Fact {
	return append(contract.Tools("useradd", "usermod", "userdel", "adduser", "deluser", "addgroup", "delgroup", "chpasswd"),
		contract.Fact{Kind: contract.FactPasswd, Key: t.name})
}

// CheckRest reads the account's groups, and what password_hash and
// authorized_keys compare against; it prints nothing when there is no such
// account.
func (t *userTask) CheckRest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%s\n", shell.Quote(t.name))
	keys := t.keys != nil && t.state == "present"
	if keys {
		// The home directory, for the keys' file.
		b.WriteString("if e=$(getent passwd \"$n\"); then\n")
	}
	// id -G lists the primary group first (GNU and busybox): one process
	// for both; it fails when there is no such account.
	b.WriteString("if g=$(id -Gn \"$n\" 2>/dev/null); then\n")
	b.WriteString("printf 'groups=%s\\nprimary=%s\\n' \"$g\" \"${g%% *}\"\n")
	if t.passwordSet && t.state == "present" {
		// Only a digest of the current hash leaves the host.
		b.WriteString("if [ -r /etc/shadow ]; then printf 'pwsum=%s\\n' \"$(awk -F: -v n=\"$n\" '$1==n{printf \"%s\", $2}' /etc/shadow | sha256sum | cut -d' ' -f1)\"; else echo pwsum=unreadable; fi\n")
	}
	if keys {
		// The user can swap ~/.ssh and authorized_keys for links at any
		// time: read them only through drover_cd and drover_read.
		b.WriteString("k=\"$(printf %s \"$e\" | cut -d: -f6)/.ssh\"\n")
		b.WriteString(`if [ -e "$k/authorized_keys" ] || [ -L "$k/authorized_keys" ] || [ -L "$k" ]; then
if v=$(drover_cd "$k" && drover_read authorized_keys && echo .); then
v=${v%.}
` + shVarBlob("keys", "v") + `else echo keys.refused=1; fi
fi
`)
		b.WriteString("fi\n")
	}
	b.WriteString("fi\n")
	if keys {
		return safeFS + b.String()
	}
	return b.String()
}

func (t *userTask) Check() string { return remote.FactScript(t.Facts()) + t.CheckRest() }

// passwdEntry is a parsed /etc/passwd line.
type passwdEntry struct {
	name, comment, home, shell string
	uid, gid                   int64
}

func parsePasswd(line string) (passwdEntry, error) {
	f := strings.Split(line, ":")
	if len(f) != 7 {
		return passwdEntry{}, fmt.Errorf("malformed passwd entry %q", line)
	}
	uid, err1 := strconv.ParseInt(f[2], 10, 64)
	gid, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return passwdEntry{}, fmt.Errorf("malformed uid or gid in passwd entry %q", line)
	}
	return passwdEntry{name: f[0], uid: uid, gid: gid, comment: f[4], home: f[5], shell: f[6]}, nil
}

func (t *userTask) diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := "user " + t.name
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	f := contract.FactsOf(out, contract.KV{Vals: st.vals})
	shadow := f.Tool("useradd")
	busybox := !shadow && f.Tool("adduser")
	line, exists := f.Passwd(t.name)
	p := &contract.Plan{}

	if t.state == "absent" {
		if !exists {
			return p, nil
		}
		var args []string
		switch {
		case f.Tool("userdel"):
			args = []string{"userdel"}
			if t.removeHome {
				args = append(args, "-r")
			}
		case f.Tool("deluser"):
			args = []string{"deluser"}
			if t.removeHome {
				args = append(args, "--remove-home")
			}
		default:
			return nil, fmt.Errorf("%s: neither userdel (shadow-utils) nor busybox deluser is installed on the host", subject)
		}
		var attrs []contract.AttrChange
		if t.removeHome {
			attrs = append(attrs, contract.AttrChange{Name: "remove_home", New: "true"})
		}
		p.Changes = append(p.Changes, contract.Change{Action: contract.Delete, Subject: subject, Attrs: attrs})
		p.Steps = append(p.Steps, contract.Step{Script: shell.Join(append(args, t.name)...)})
		return p, nil
	}

	if t.passwordSet && !f.Tool("chpasswd") {
		return nil, fmt.Errorf("%s: setting password_hash needs chpasswd on the host (shadow-utils or busybox)", subject)
	}
	var change contract.Change
	if !exists {
		change = contract.Change{Action: contract.Create, Subject: subject}
		step, attrs, err := t.createStep(shadow, busybox)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", subject, err)
		}
		change.Attrs = attrs
		p.Steps = append(p.Steps, step)
		if t.passwordSet {
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "password_hash", New: "(sensitive)"})
			p.Steps = append(p.Steps, t.passwordStep())
		}
		if t.keys != nil {
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "authorized_keys", New: countKeys(len(t.keys))})
			p.Steps = append(p.Steps, contract.Step{Script: t.keysScript()})
		}
		p.Changes = append(p.Changes, change)
		return p, nil
	}

	cur, err := parsePasswd(line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	change = contract.Change{Action: contract.Update, Subject: subject}
	var mod []string // usermod options
	if t.uid != nil && *t.uid != cur.uid {
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "uid", Old: strconv.FormatInt(cur.uid, 10), New: strconv.FormatInt(*t.uid, 10)})
		mod = append(mod, "-u", strconv.FormatInt(*t.uid, 10))
	}
	if t.group != "" && t.group != st.vals["primary"] {
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "group", Old: st.vals["primary"], New: t.group})
		mod = append(mod, "-g", t.group)
	}
	if t.shell != "" && t.shell != cur.shell {
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "shell", Old: cur.shell, New: t.shell})
		mod = append(mod, "-s", t.shell)
	}
	if t.home != "" && t.home != cur.home {
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "home", Old: cur.home, New: t.home})
		mod = append(mod, "-d", t.home)
	}
	if t.commentSet && t.comment != cur.comment {
		change.Attrs = append(change.Attrs, contract.AttrChange{Name: "comment", Old: cur.comment, New: t.comment})
		mod = append(mod, "-c", t.comment)
	}
	if len(mod) > 0 {
		if !f.Tool("usermod") {
			return nil, fmt.Errorf("%s: changing %s of an existing account needs usermod (shadow-utils; on Alpine: apk add shadow)", subject, attrNames(change.Attrs))
		}
		p.Steps = append(p.Steps, contract.Step{Script: shell.Join(append(append([]string{"usermod"}, mod...), t.name)...)})
	}
	if t.groups != nil {
		curGroups := supplementary(st.vals["groups"], st.vals["primary"])
		// The primary group is a membership already; listing it in groups
		// must not look like a change on every run.
		primary := t.group
		if primary == "" {
			primary = st.vals["primary"]
		}
		var add, del []string
		for _, g := range t.groups {
			if g != primary && !slices.Contains(curGroups, g) {
				add = append(add, g)
			}
		}
		if !t.appendGroups {
			for _, g := range curGroups {
				if g != primary && !slices.Contains(t.groups, g) {
					del = append(del, g)
				}
			}
		}
		if len(add)+len(del) > 0 {
			var delta []string
			for _, g := range add {
				delta = append(delta, "+"+g)
			}
			for _, g := range del {
				delta = append(delta, "-"+g)
			}
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "groups", New: strings.Join(delta, " ")})
			step, err := t.groupsStep(f, add, del)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", subject, err)
			}
			p.Steps = append(p.Steps, step)
		}
	}
	if t.passwordSet {
		sum := sha256.Sum256([]byte(t.passwordHash))
		switch st.vals["pwsum"] {
		case hex.EncodeToString(sum[:]):
		case "unreadable":
			return nil, fmt.Errorf("%s: cannot read /etc/shadow to compare password_hash; connect as root or use become", subject)
		default:
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "password_hash", Old: "(sensitive)", New: "(sensitive)"})
			p.Steps = append(p.Steps, t.passwordStep())
		}
	}
	if t.keys != nil {
		if st.has("keys.refused") {
			return nil, fmt.Errorf("%s: %s; drover will not read or replace it as root (the user could point it at any file): remove it, or make it a regular file the user owns, and run drover again", subject, strings.TrimSpace(string(out.Stderr)))
		}
		cur, exists := st.blobs["keys"]
		if old, upd := t.keysChange(string(cur), exists); upd != "" {
			change.Attrs = append(change.Attrs, contract.AttrChange{Name: "authorized_keys", Old: old, New: upd})
			p.Steps = append(p.Steps, contract.Step{Script: t.keysScript()})
		}
	}
	if len(change.Attrs) > 0 {
		p.Changes = append(p.Changes, change)
	}
	return p, nil
}

func attrNames(a []contract.AttrChange) string {
	n := make([]string, len(a))
	for i, c := range a {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

// supplementary returns the groups of `id -Gn` without the primary group.
func supplementary(all, primary string) []string {
	var out []string
	for _, g := range strings.Fields(all) {
		if g != primary {
			out = append(out, g)
		}
	}
	return sortedUnique(out)
}

// createStep builds the command that creates the account.
func (t *userTask) createStep(shadow, busybox bool) (contract.Step, []contract.AttrChange, error) {
	var attrs []contract.AttrChange
	var args []string
	if t.uid != nil {
		attrs = append(attrs, contract.AttrChange{Name: "uid", New: strconv.FormatInt(*t.uid, 10)})
	}
	if t.group != "" {
		attrs = append(attrs, contract.AttrChange{Name: "group", New: t.group})
	}
	if len(t.groups) > 0 {
		attrs = append(attrs, contract.AttrChange{Name: "groups", New: strings.Join(t.groups, ",")})
	}
	if t.shell != "" {
		attrs = append(attrs, contract.AttrChange{Name: "shell", New: t.shell})
	}
	if t.home != "" {
		attrs = append(attrs, contract.AttrChange{Name: "home", New: t.home})
	}
	if t.commentSet {
		attrs = append(attrs, contract.AttrChange{Name: "comment", New: t.comment})
	}
	if t.system {
		attrs = append(attrs, contract.AttrChange{Name: "system", New: "true"})
	}
	switch {
	case shadow:
		if t.uid != nil {
			args = append(args, "-u", strconv.FormatInt(*t.uid, 10))
		}
		if t.group != "" {
			args = append(args, "-g", t.group)
		}
		if len(t.groups) > 0 {
			args = append(args, "-G", strings.Join(t.groups, ","))
		}
		if t.shell != "" {
			args = append(args, "-s", t.shell)
		}
		if t.home != "" {
			args = append(args, "-d", t.home)
		}
		if t.createHome {
			args = append(args, "-m")
		} else {
			args = append(args, "-M")
		}
		if t.system {
			args = append(args, "-r")
		}
		if t.commentSet {
			args = append(args, "-c", t.comment)
		}
		args = append(args, t.name)
		script := shell.Join(append([]string{"useradd"}, args...)...)
		if t.group == "" {
			// useradd refuses to create the user's own group when a group of
			// that name exists already; then make it the primary group.
			script = fmt.Sprintf("if getent group %s >/dev/null 2>&1; then %s; else %s; fi",
				shell.Quote(t.name), shell.Join(append([]string{"useradd", "-g", t.name}, args...)...), script)
		}
		return contract.Step{Script: script}, attrs, nil
	case busybox:
		args = []string{"adduser", "-D"}
		if t.uid != nil {
			args = append(args, "-u", strconv.FormatInt(*t.uid, 10))
		}
		if t.group != "" {
			args = append(args, "-G", t.group)
		}
		if t.shell != "" {
			args = append(args, "-s", t.shell)
		}
		if t.home != "" {
			args = append(args, "-h", t.home)
		}
		if !t.createHome {
			args = append(args, "-H")
		}
		if t.system {
			args = append(args, "-S")
		}
		if t.commentSet {
			args = append(args, "-g", t.comment)
		}
		lines := []string{shell.Join(append(args, t.name)...)}
		for _, g := range t.groups {
			lines = append(lines, shell.Join("addgroup", t.name, g))
		}
		return contract.Step{Script: strings.Join(lines, "\n")}, attrs, nil
	}
	return contract.Step{}, nil, fmt.Errorf("neither useradd (shadow-utils) nor busybox adduser is installed on the host")
}

// groupsStep changes supplementary group memberships.
func (t *userTask) groupsStep(f *contract.FactSet, add, del []string) (contract.Step, error) {
	if f.Tool("usermod") {
		if t.appendGroups {
			return contract.Step{Script: shell.Join("usermod", "-a", "-G", strings.Join(add, ","), t.name)}, nil
		}
		return contract.Step{Script: shell.Join("usermod", "-G", strings.Join(t.groups, ","), t.name)}, nil
	}
	if !f.Tool("addgroup") || (len(del) > 0 && !f.Tool("delgroup")) {
		return contract.Step{}, fmt.Errorf("changing supplementary groups needs usermod or busybox addgroup/delgroup on the host")
	}
	var lines []string
	for _, g := range add {
		lines = append(lines, shell.Join("addgroup", t.name, g))
	}
	for _, g := range del {
		lines = append(lines, shell.Join("delgroup", t.name, g))
	}
	return contract.Step{Script: strings.Join(lines, "\n")}, nil
}

// passwordStep sets the password hash with chpasswd -e, fed on stdin so that
// the hash is in no command line (visible in ps) and no file.
func (t *userTask) passwordStep() contract.Step {
	name, hash := t.name, t.passwordHash
	return contract.Step{Func: func(ctx context.Context, conn transport.Conn) (transport.Result, error) {
		res, err := conn.Run(ctx, transport.Cmd{Command: "chpasswd -e", Stdin: strings.NewReader(name + ":" + hash + "\n")})
		return res, contract.StepFailure(0, res, err)
	}}
}
