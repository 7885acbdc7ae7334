package modules

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/initgen"
	"github.com/drover-cm/drover/modules/initsys"
)

// initServiceModule generates a service's init integration (modules/initgen)
// for the host's init system, writes it, creates the service's user, and
// drives the instances through modules/initsys, testing the service's
// configuration before every restart and reload it does.
type initServiceModule struct{}

var initServiceSpec = &contract.Spec{
	Name:       "init_service",
	NeedsFacts: true,
	Summary:    "Generate and manage a service's systemd unit, SysV or OpenRC script from one definition, with instances and a config test.",
	Doc: `Generates the init integration of a service for the host's init system
(host.facts.init_system, or init_system): a systemd unit (a template unit
NAME@.service when instances are listed, with hardening defaults), SysV LSB
init scripts (/etc/init.d/NAME-INSTANCE, start-stop-daemon where present, pid
files in /run, reading /etc/default/NAME-INSTANCE), or an OpenRC script with a
symlink NAME.INSTANCE per instance. Files are written to a temporary name and
renamed; systemctl daemon-reload runs only when the unit changed. The user is
created (a system account without login) when missing and create_user is
true. "drover initscript" prints the same files without connecting.

In command, config_test, reload, before_stop, environment values and
working_directory, ${instance} is the instance name (%i in the systemd unit).
Commands are run directly, not by a shell: write /bin/sh -c '...' for one.

The configuration test runs before every restart and reload drover does; when
it fails the service keeps running on its previous configuration and the task
fails with the test's output. It is installed with the service (systemd: an
executable UNIT.configtest beside the unit; the scripts' configtest action),
so a handler or service task that only names the service runs it too. The
generated files run it as well (ExecStartPre and ExecReload; in the scripts'
start, restart and reload), so a manual reload or script restart is refused
the same way (systemd: a manual restart stops the service and then refuses
to start it; reload is the safe operation).

state "started" restarts running instances whose unit or script changed (after
the test). "reloaded" and "restarted" are actions for handlers: they run every
time (with the test), "reloaded" restarting a service without reload. A file
or template task that changes the service's configuration notifies such a
handler (see docs/init-services.md). Instances removed from the list are not
cleaned up.`,
	Attributes: []contract.Attribute{
		{Name: "name", Type: cty.String, Doc: "The service name; unset: the task's label."},
		{Name: "instances", Type: cty.List(cty.String), Doc: "Instances run from this one definition (redis@cache, redis@sessions). Unset: a single service."},
		{Name: "command", Type: cty.String, Doc: "The service's command line, in the foreground (it must not daemonize); the program is an absolute path. Required, except in a handler with state \"reloaded\" or \"restarted\" that only acts on the instances another init_service task defines."},
		{Name: "description", Type: cty.String, Doc: "One line for the unit's Description and the script's header. Unset: the name."},
		{Name: "user", Type: cty.String, Doc: "The user the service runs as. Unset: root."},
		{Name: "group", Type: cty.String, Doc: "Its group (must exist). Unset: the user's primary group."},
		{Name: "create_user", Type: cty.Bool, Default: cty.True, Doc: "Create user as a system account without home or login when it does not exist."},
		{Name: "working_directory", Type: cty.String, Doc: "The directory the service runs in."},
		{Name: "config_test", Type: cty.String, Doc: "A command that checks the service's configuration and fails when it is broken; run before every start, restart and reload."},
		{Name: "reload", Type: cty.String, Doc: `How the service re-reads its configuration: "signal:HUP" (or USR1, USR2, ...) sent to its main process, or a command. Unset: it cannot reload.`},
		{Name: "before_stop", Type: cty.String, Doc: "A command run before the service is stopped (flush, save); a failure does not prevent the stop."},
		{Name: "environment", Type: cty.Map(cty.String), Doc: "Environment variables of the service."},
		{Name: "limits", Type: cty.Map(cty.String), Doc: `Resource limits: nofile and nproc (a number or "unlimited"), core and memlock (0 or "unlimited").`},
		{Name: "restart", Type: cty.String, Default: cty.StringVal("on-failure"), Doc: `systemd's Restart policy: "no", "on-failure" or "always". SysV and OpenRC scripts do not supervise.`},
		{Name: "after", Type: cty.List(cty.String), Doc: "systemd units the service starts after (network-online.target also gets Wants=); mapped to LSB facilities ($network, $time) and OpenRC dependencies (use net)."},
		{Name: "hardening", Type: cty.Bool, Default: cty.True, Doc: "systemd: add NoNewPrivileges=yes, PrivateTmp=yes, ProtectSystem=full."},
		{Name: "systemd_options", Type: cty.Map(cty.String), Doc: `Extra systemd [Service] settings, written as given ({ ProtectHome = "read-only" }); "" removes a hardening default.`},
		{Name: "state", Type: cty.String, Default: cty.StringVal("started"), Doc: `"started", "stopped", or the actions "restarted" and "reloaded" (for handlers).`},
		{Name: "enabled", Type: cty.Bool, Default: cty.True, Doc: "Whether the instances start at boot."},
		{Name: "init_system", Type: cty.String, Doc: `"systemd", "openrc" or "sysv", instead of the host's facts.`},
	},
	Example: `init_service "redis" {
  instances   = ["cache", "sessions"]
  command     = "/usr/bin/redis-server /etc/redis/${instance}.conf --supervised systemd"
  user        = "redis"
  config_test = "/usr/bin/redis-server /etc/redis/${instance}.conf --test-memory 0"
  reload      = "signal:HUP"
  environment = { LANG = "C.UTF-8" }
  limits      = { nofile = 65535 }
  after       = ["network-online.target"]
  before_stop = "/usr/bin/redis-cli -s /run/redis/${instance}.sock save"
}`,
}

func (initServiceModule) Spec() *contract.Spec { return initServiceSpec }

// TemplateVars: ${instance} reaches Configure as its own text.
func (initServiceModule) TemplateVars() []string { return []string{"instance"} }

// InitDefinition reads an init_service block's decoded values into a
// definition, as Configure does; `drover initscript` uses it. label is the
// task's label, the default name.
func InitDefinition(values cty.Value, label string) (initgen.Definition, error) {
	d, _, err := readInitDefinition(readAttrs(initServiceSpec, contract.Config{Values: values}), label)
	return d, err
}

func readInitDefinition(a *attrs, label string) (initgen.Definition, bool, error) {
	return readInitDef(a, label, false)
}

// readInitDef reads the definition; actionOnly accepts one without command
// (a handler acting on instances defined elsewhere).
func readInitDef(a *attrs, label string, actionOnly bool) (initgen.Definition, bool, error) {
	v := sysVals{a}
	d := initgen.Definition{
		Name:             label,
		Instances:        v.strs("instances"),
		Command:          v.str("command"),
		Description:      v.str("description"),
		User:             v.str("user"),
		Group:            v.str("group"),
		WorkingDirectory: v.str("working_directory"),
		ConfigTest:       v.str("config_test"),
		Reload:           v.str("reload"),
		BeforeStop:       v.str("before_stop"),
		Environment:      v.strMap("environment"),
		Limits:           v.strMap("limits"),
		Restart:          v.str("restart"),
		After:            v.strs("after"),
		Hardening:        v.boolean("hardening"),
		SystemdOptions:   v.strMap("systemd_options"),
	}
	if n := v.str("name"); n != "" {
		d.Name = n
	}
	if a.err != nil {
		return d, false, a.err
	}
	if actionOnly && d.Command == "" {
		d.Command = "/bin/true" // validated as a definition; never generated
		defer func() { d.Command = "" }()
	}
	if err := d.Validate(); err != nil {
		if fe, ok := err.(*initgen.FieldError); ok {
			return d, false, &contract.AttrError{Attr: fe.Field, Msg: fe.Msg}
		}
		return d, false, err
	}
	return d, a.anySensitive(), nil
}

func (initServiceModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(initServiceSpec, cfg)
	state := a.enum("state", "started", "stopped", "restarted", "reloaded")
	cmd, _ := a.str("command")
	actionOnly := cmd == "" && (state == "reloaded" || state == "restarted")
	if cmd == "" && !actionOnly && a.err == nil {
		return nil, &contract.AttrError{Attr: "command", Msg: "is required (only a handler with state = \"reloaded\" or \"restarted\" may leave it out, to act on instances another init_service task defines)"}
	}
	d, sensitive, err := readInitDef(a, cfg.Name, actionOnly)
	if err != nil {
		return nil, err
	}
	t := &initServiceTask{def: d, sensitive: sensitive, actionOnly: actionOnly}
	t.state = state
	t.enabled = a.boolean("enabled")
	t.createUser = a.boolean("create_user")
	sysName, set := a.str("init_system")
	if a.err != nil {
		return nil, a.err
	}
	if !set {
		if cfg.Facts == nil {
			return nil, &contract.AttrError{Attr: "init_system", Msg: "the host's facts were not gathered, so its init system is unknown; gather facts or set init_system"}
		}
		sysName = cfg.Facts.InitSystem
	}
	if t.sys, err = initsys.Lookup(sysName); err != nil {
		return nil, &contract.AttrError{Attr: "init_system", Msg: err.Error()}
	}
	t.services = d.Services(sysName)
	if actionOnly {
		return t, nil
	}
	if t.files, err = initgen.Generate(d, sysName); err != nil {
		return nil, &contract.AttrError{Attr: "init_system", Msg: err.Error()}
	}
	if t.createUser && d.User != "" && d.User != "root" {
		nologin := "/usr/sbin/nologin"
		if cfg.Facts != nil && cfg.Facts.OSFamily == "alpine" {
			nologin = "/sbin/nologin"
		}
		t.user = &userTask{name: d.User, state: "present", group: d.Group, system: true, home: "/nonexistent", shell: nologin}
	}
	return t, nil
}

type initServiceTask struct {
	def        initgen.Definition
	sys        initsys.System
	files      []initgen.File
	services   []string
	state      string
	enabled    bool
	createUser bool
	user       *userTask // nil: the user is not created
	sensitive  bool
	// actionOnly: a handler without command, acting on the instances only
	// (no files, no user, no enabling).
	actionOnly bool
}

func (t *initServiceTask) Provides() []contract.Resource {
	if t.actionOnly {
		return nil
	}
	var r []contract.Resource
	for _, f := range t.files {
		r = append(r, contract.Resource{Kind: "path", Name: f.Path})
	}
	if t.user != nil {
		r = append(r, contract.Resource{Kind: "user", Name: t.def.User})
	}
	for _, s := range t.services {
		r = append(r, contract.Resource{Kind: "service", Name: s})
		if t.sys.Name() == initgen.Systemd && len(t.def.Instances) > 0 {
			// A service task on an instance uses the unit's path: it is
			// the template's.
			r = append(r, contract.Resource{Kind: "path", Name: "/etc/systemd/system/" + s})
		}
	}
	return r
}

func (t *initServiceTask) Uses() []contract.Resource {
	var r []contract.Resource
	seen := map[string]bool{}
	for _, f := range t.files {
		if d := path.Dir(f.Path); !seen[d] {
			seen[d] = true
			r = append(r, contract.Resource{Kind: "path", Name: d})
		}
	}
	// The program: a task installing it runs first.
	if t.actionOnly {
		return nil
	}
	if w, err := shell.Split(strings.ReplaceAll(t.def.Command, initgen.Placeholder, "x")); err == nil && len(w) > 0 && path.IsAbs(w[0]) {
		r = append(r, contract.Resource{Kind: "path", Name: w[0]})
	}
	if t.user == nil && t.def.User != "" {
		r = append(r, contract.Resource{Kind: "user", Name: t.def.User})
	}
	if t.def.Group != "" {
		r = append(r, contract.Resource{Kind: "group", Name: t.def.Group})
	}
	return r
}

// Check prints, in the system modules' key=value format: what CheckRest
// prints, then each instance's status (svc.N.* lines of initsys's
// fragment, svc.N.exit).
func (t *initServiceTask) Check() string {
	var b strings.Builder
	b.WriteString(t.CheckRest())
	for i, s := range t.services {
		fmt.Fprintf(&b, "o=$( %s\n)\necho \"svc.%d.exit=$?\"\nprintf '%%s\\n' \"$o\" | sed 's/^/svc.%d./'\n", t.sys.Status(s), i, i)
	}
	return b.String()
}

// CheckShared: the instances' status is read with the host's service
// tasks' (one systemctl show for all of them with systemd; one fragment
// with OpenRC and SysV, see initsys.Group), so that a play with several
// init_service and service tasks reads the services' status once.
func (t *initServiceTask) CheckShared() (contract.CheckGroup, []string) {
	return initsys.Group(t.sys), t.services
}

// CheckRest prints each file's state (file.N=missing|other|link
// TARGET|file SHA256 MODE, and its content as a blob when small) and the
// user's (user.* lines of the user module's check).
func (t *initServiceTask) CheckRest() string {
	var b strings.Builder
	for i, f := range t.files {
		fmt.Fprintf(&b, "p=%s\n", shell.Quote(f.Path))
		fmt.Fprintf(&b, "if [ -L \"$p\" ]; then echo \"file.%[1]d=link $(readlink \"$p\")\"\n", i)
		fmt.Fprintf(&b, "elif [ -f \"$p\" ]; then h=$(sha256sum <\"$p\"); echo \"file.%[1]d=file ${h%%%% *} $(stat -c %%a \"$p\")\"\n", i)
		if !t.sensitive {
			b.WriteString("  " + shFileBlob("content."+strconv.Itoa(i), "\"$p\""))
		}
		fmt.Fprintf(&b, "elif [ -e \"$p\" ]; then echo file.%[1]d=other\nelse echo file.%[1]d=missing\nfi\n", i)
	}
	if t.user != nil {
		fmt.Fprintf(&b, "( %s ) | sed 's/^/user./'\n", t.user.Check())
	}
	return b.String()
}

// status is instance i's status: from the shared read when the batched
// read did it, else from the svc.N.* lines of Check.
func (t *initServiceTask) status(out contract.CheckOutput, st kv, i int) (initsys.Status, error) {
	if out.Shared != nil {
		if i >= len(out.Shared) {
			return initsys.Status{}, fmt.Errorf("the shared read has %d statuses for %d instances", len(out.Shared), len(t.services))
		}
		sh := out.Shared[i]
		ss, err := t.sys.ParseStatus(sh.Stdout, sh.ExitCode)
		if err != nil {
			if e := strings.TrimSpace(string(sh.Stderr)); e != "" {
				err = fmt.Errorf("%w: %s", err, e)
			}
		}
		return ss, err
	}
	code, _ := strconv.Atoi(st.vals["svc."+strconv.Itoa(i)+".exit"])
	return t.sys.ParseStatus(sub(st, "svc."+strconv.Itoa(i)+"."), code)
}

// sub returns the key=value lines of st whose key starts with prefix,
// without it (from the parsed values, so that no file content can add one).
func sub(st kv, prefix string) []byte {
	var b strings.Builder
	for _, k := range sortedKeys(st.vals) {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			b.WriteString(rest + "=" + st.vals[k] + "\n")
		}
	}
	return []byte(b.String())
}

func (t *initServiceTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := "init_service " + t.def.Name
	if out.ExitCode != 0 {
		return nil, checkFailed(subject, out)
	}
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	p := &contract.Plan{}

	if t.user != nil {
		if _, exists := st.vals["user.passwd"]; !exists {
			up, err := t.user.Diff(contract.CheckOutput{Stdout: sub(st, "user.")})
			if err != nil {
				return nil, fmt.Errorf("%s: creating its user: %w", subject, err)
			}
			p.Changes = append(p.Changes, up.Changes...)
			for _, st := range up.Steps {
				// Another task may have created it since the check.
				if st.Script != "" {
					// The safeFS library (the journal's) stays a prefix, for
					// the batch to define once.
					lib, rest := "", st.Script
					if strings.HasPrefix(rest, safeFS) {
						lib, rest = safeFS, rest[len(safeFS):]
					}
					st.Script = lib + "if ! id -u " + shell.Quote(t.def.User) + " >/dev/null 2>&1; then\n" + rest + "\nfi\n"
				}
				p.Steps = append(p.Steps, st)
			}
		}
	}

	changed := make([]bool, len(t.files))
	var fileSteps []contract.Step
	for i, f := range t.files {
		cur := st.vals["file."+strconv.Itoa(i)]
		ch, step, err := t.fileChange(f, cur, st.blobs["content."+strconv.Itoa(i)])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", subject, err)
		}
		if ch != nil {
			changed[i] = true
			p.Changes = append(p.Changes, *ch)
			fileSteps = append(fileSteps, step)
		}
	}
	// systemd: the unit is files[0]; its config-test helpers follow.
	if len(changed) > 0 && changed[0] && t.sys.DaemonReload() != "" {
		fileSteps = append(fileSteps, contract.Step{Script: t.sys.DaemonReload()})
	}

	// Instances restarted because their unit or script changed are tested
	// before anything is written: a broken configuration then leaves the old
	// definition in place, so the next run sees the change and tries again.
	var preSteps, svcSteps []contract.Step
	for i, svc := range t.services {
		ss, err := t.status(out, st, i)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the state of %s with %s: %w", subject, svc, t.sys.Name(), err)
		}
		ch, pre, steps := t.serviceChange(i, svc, ss, t.definitionChanged(i, changed))
		if ch != nil {
			p.Changes = append(p.Changes, *ch)
			preSteps = append(preSteps, pre...)
			svcSteps = append(svcSteps, steps...)
		}
	}
	p.Steps = append(p.Steps, preSteps...)
	p.Steps = append(p.Steps, fileSteps...)
	p.Steps = append(p.Steps, svcSteps...)
	return p, nil
}

// definitionChanged reports whether the file that defines instance i
// changed: the one unit (systemd), its script (SysV), the script or its
// link (OpenRC).
func (t *initServiceTask) definitionChanged(i int, changed []bool) bool {
	if len(changed) == 0 {
		return false
	}
	switch t.sys.Name() {
	case initgen.SysV:
		return changed[i]
	case initgen.OpenRC:
		return changed[0] || (i+1 < len(changed) && changed[i+1])
	}
	return changed[0]
}

func (t *initServiceTask) fileChange(f initgen.File, cur string, content []byte) (*contract.Change, contract.Step, error) {
	kind, rest, _ := strings.Cut(cur, " ")
	tmp := tempPath(f.Path)
	if f.Link != "" {
		switch kind {
		case "link":
			if rest == f.Link {
				return nil, contract.Step{}, nil
			}
		case "missing":
		default:
			return nil, contract.Step{}, fmt.Errorf("%s exists and is not a symbolic link; remove it so that drover can link it to %s", f.Path, f.Link)
		}
		ch := &contract.Change{Action: contract.Create, Subject: f.Path, Attrs: []contract.AttrChange{{Name: "link", Old: rest, New: f.Link}}}
		if kind == "link" {
			ch.Action = contract.Update
		}
		return ch, contract.Step{Script: safeFS + safeLink(f.Path, f.Link, "")}, nil
	}
	c := bytesContent(f.Content, t.sensitive)
	mode := uint32(f.Mode.Perm())
	ch := &contract.Change{Subject: f.Path, Sensitive: t.sensitive}
	switch kind {
	case "missing":
		ch.Action = contract.Create
		ch.Attrs = []contract.AttrChange{{Name: "mode", New: fmtMode(mode)}}
		if !t.sensitive {
			ch.Diff = unified("/dev/null", f.Path, "", string(f.Content))
		}
	case "file":
		sum, m, _ := strings.Cut(rest, " ")
		curMode, _ := strconv.ParseUint(m, 8, 32)
		if sum == c.SHA256 && uint32(curMode) == mode {
			return nil, contract.Step{}, nil
		}
		ch.Action = contract.Update
		if uint32(curMode) != mode {
			ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "mode", Old: fmtMode(uint32(curMode)), New: fmtMode(mode)})
		}
		if sum != c.SHA256 && !t.sensitive {
			if content != nil {
				ch.Diff = unified(f.Path, f.Path, string(content), string(f.Content))
			} else {
				ch.Attrs = append(ch.Attrs, contract.AttrChange{Name: "sha256", Old: shortSum(sum), New: shortSum(c.SHA256)})
			}
		}
	default:
		return nil, contract.Step{}, fmt.Errorf("%s exists and is not a regular file (%s); remove it so that drover can write the service's definition", f.Path, cur)
	}
	script := safeFS + removeOnExit(tmp) + safeInstall(tmp, f.Path, "0:0", mode)
	return ch, contract.Step{Uploads: []contract.Upload{{Path: tmp, Mode: 0o600, Open: c.Open, Size: c.Size}}, Script: script}, nil
}

// tested runs cmd only after the configuration test of instance i passed;
// otherwise it fails with the test's output, leaving the service as it is.
// A handler that names the service without repeating config_test runs the
// test installed with the service, so it is guarded all the same.
func (t *initServiceTask) tested(i int, svc, what, cmd string) string {
	instance := ""
	if len(t.def.Instances) > 0 {
		instance = t.def.Instances[i]
	}
	test := t.def.ConfigTestScript(instance)
	if test == "" && t.actionOnly {
		test = t.sys.ConfigTest(svc)
	}
	return guarded(svc, what, test, cmd)
}

// guarded runs cmd after test (a subshell; "" for none) succeeded, and
// otherwise fails with the test's output.
func guarded(svc, what, test, cmd string) string {
	if test == "" {
		return cmd
	}
	msg := fmt.Sprintf("%s: the configuration test failed, so it was not %s; it keeps running with its previous configuration. The test's output:", svc, what)
	return "if ! out=$( " + test + " 2>&1); then\n\tprintf '%s\\n' " + shell.Quote(msg) + " \"$out\" >&2\n\texit 1\nfi\n" + cmd
}

// serviceChange plans one instance: pre are configuration tests to run
// before any file is written, steps what follows them.
func (t *initServiceTask) serviceChange(i int, svc string, st initsys.Status, defChanged bool) (*contract.Change, []contract.Step, []contract.Step) {
	var attrs []contract.AttrChange
	var pre, steps []contract.Step
	action := contract.Update
	cur := st.Detail
	switch {
	case !st.Exists:
		cur = "not installed"
	case cur == "" && st.Active:
		cur = "started"
	case cur == "":
		cur = "stopped"
	}
	if !st.Static && !t.actionOnly && t.enabled != st.Enabled {
		attrs = append(attrs, contract.AttrChange{Name: "enabled", Old: strconv.FormatBool(st.Enabled), New: strconv.FormatBool(t.enabled)})
		if t.enabled {
			steps = append(steps, contract.Step{Script: t.sys.Enable(svc)})
		} else {
			steps = append(steps, contract.Step{Script: t.sys.Disable(svc)})
		}
	}
	restart := func(why string) {
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: why})
		steps = append(steps, contract.Step{Script: t.tested(i, svc, "restarted", t.sys.Restart(svc))})
	}
	switch {
	case (t.state == "started" || t.state == "restarted" || t.state == "reloaded") && !st.Active:
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "started"})
		steps = append(steps, contract.Step{Script: t.sys.Start(svc)})
	case t.state == "stopped" && st.Active:
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "stopped"})
		steps = append(steps, contract.Step{Script: t.sys.Stop(svc)})
	case t.state != "stopped" && defChanged:
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "restarted (definition changed)"})
		if test := t.tested(i, svc, "restarted", ""); test != "" {
			pre = append(pre, contract.Step{Script: test})
		}
		steps = append(steps, contract.Step{Script: t.sys.Restart(svc)})
	case t.state == "restarted":
		if len(attrs) == 0 && !defChanged {
			action = contract.Run
		}
		restart("restarted")
	case t.state == "reloaded" && t.def.Reload == "" && !t.actionOnly:
		if len(attrs) == 0 && !defChanged {
			action = contract.Run
		}
		restart("restarted (it cannot reload)")
	case t.state == "reloaded":
		if len(attrs) == 0 && !defChanged {
			action = contract.Run
		}
		attrs = append(attrs, contract.AttrChange{Name: "state", Old: cur, New: "reloaded"})
		steps = append(steps, contract.Step{Script: t.tested(i, svc, "reloaded", t.sys.Reload(svc))})
	}
	if len(attrs) == 0 {
		return nil, nil, nil
	}
	return &contract.Change{Action: action, Subject: "service " + svc, Attrs: attrs}, pre, steps
}
