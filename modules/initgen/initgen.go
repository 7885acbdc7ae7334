// Package initgen generates the init-system integration of a service from one
// declaration: a systemd unit (a template unit for several instances), SysV
// LSB init scripts (one per instance) or an OpenRC script (with one symlink
// per instance). It is pure: Generate returns files, the init_service module
// writes them on hosts and `drover initscript` prints them.
//
// Commands are given as command lines split like a shell's simple command,
// without any expansion; the only substitution is ${instance}, replaced by
// the instance name (%i in a systemd template unit).
package initgen

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/initsys"
)

// Placeholder is the text that stands for the instance name in commands,
// the environment and the working directory.
const Placeholder = "${instance}"

// Init systems Generate knows, as facts name them.
const (
	Systemd = "systemd"
	SysV    = "sysv"
	OpenRC  = "openrc"
)

// Systems lists the init systems Generate supports.
var Systems = []string{OpenRC, Systemd, SysV}

// Definition is one service, as an init_service block declares it.
type Definition struct {
	// Name of the service: redis gives redis.service / redis@.service,
	// /etc/init.d/redis(-INSTANCE), /etc/init.d/redis(.INSTANCE).
	Name        string
	Description string
	// Instances run from the one definition; empty for a single service.
	Instances []string
	// Command runs the service in the foreground (it must not daemonize).
	Command          string
	User             string
	Group            string
	WorkingDirectory string
	// ConfigTest checks the service's configuration; it runs before every
	// start, restart and reload, and a failure refuses the operation.
	ConfigTest string
	// Reload is "signal:NAME" (sent to the main process) or a command; ""
	// when the service cannot reload.
	Reload string
	// BeforeStop runs before the service is stopped (flush, save).
	BeforeStop  string
	Environment map[string]string
	// Limits are resource limits: nofile, nproc, core, memlock.
	Limits map[string]string
	// Restart is systemd's policy: "no", "on-failure", "always".
	Restart string
	// After are units this one starts after (systemd names; mapped for
	// SysV and OpenRC dependencies).
	After []string
	// Hardening adds NoNewPrivileges, PrivateTmp and ProtectSystem=full to
	// systemd units.
	Hardening bool
	// SystemdOptions are extra [Service] settings; "" removes a default.
	SystemdOptions map[string]string
}

// File is one generated file.
type File struct {
	Path    string
	Content []byte      // nil for a symlink
	Mode    fs.FileMode // 0644 units, 0755 scripts
	Link    string      // symlink target, "" for a regular file
}

// FieldError is a problem with one field of a Definition; Field is the
// init_service attribute name.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$`)
	instanceRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	accountRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
	envKeyRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	optKeyRE   = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	unitRE     = regexp.MustCompile(`^[A-Za-z0-9_.@:-]+\.(service|target|socket|mount|path|timer|device|slice|scope|swap|automount)$`)
	limitValRE = regexp.MustCompile(`^([0-9]+|unlimited)$`)
)

// limitFlags maps a limit to its systemd setting and ulimit option.
var limitFlags = map[string]struct{ systemd, ulimit string }{
	"nofile":  {"LimitNOFILE", "-n"},
	"nproc":   {"LimitNPROC", ""}, // ulimit -u (bash) or -p (dash, busybox): see limitLines
	"core":    {"LimitCORE", "-c"},
	"memlock": {"LimitMEMLOCK", "-l"},
}

// Validate checks the definition; errors are *FieldError.
func (d *Definition) Validate() error {
	if !nameRE.MatchString(d.Name) {
		return fieldErr("name", "%q is not a usable service name: letters, digits, _ and -, not starting with -, at most 64 characters", d.Name)
	}
	seen := map[string]bool{}
	for _, in := range d.Instances {
		if !instanceRE.MatchString(in) {
			return fieldErr("instances", "%q is not a usable instance name: letters, digits, _ . and -, not starting with . or -", in)
		}
		if seen[in] {
			return fieldErr("instances", "%q is listed twice", in)
		}
		seen[in] = true
	}
	for _, f := range []struct{ field, v string }{{"user", d.User}, {"group", d.Group}} {
		if f.v != "" && !accountRE.MatchString(f.v) {
			return fieldErr(f.field, "%q is not a valid account name", f.v)
		}
	}
	if d.Group != "" && d.User == "" {
		return fieldErr("group", "set user too: the group applies to the service's user")
	}
	for _, c := range []struct{ field, v string }{{"command", d.Command}, {"config_test", d.ConfigTest}, {"before_stop", d.BeforeStop}, {"reload", d.reloadCommand()}} {
		if c.v == "" {
			if c.field == "command" {
				return fieldErr("command", "is required")
			}
			continue
		}
		if _, err := d.argv(c.field, c.v); err != nil {
			return err
		}
	}
	if w, _ := splitWords(strings.ReplaceAll(d.Command, Placeholder, "\x00")); len(w) > 0 && !strings.HasPrefix(w[0], "/") {
		return fieldErr("command", "the program must be an absolute path (%q): init scripts run with a minimal PATH", w[0])
	}
	if d.Reload != "" && strings.HasPrefix(d.Reload, "signal:") {
		if _, ok := signals[strings.TrimPrefix(d.Reload, "signal:")]; !ok {
			return fieldErr("reload", "unknown signal in %q: use one of %s", d.Reload, strings.Join(signalNames(), ", "))
		}
	}
	if d.WorkingDirectory != "" {
		if !strings.HasPrefix(d.WorkingDirectory, "/") || hasControl(d.WorkingDirectory) {
			return fieldErr("working_directory", "must be an absolute path without control characters")
		}
	}
	if hasControl(d.Description) {
		return fieldErr("description", "must be one line")
	}
	for k, v := range d.Environment {
		if !envKeyRE.MatchString(k) {
			return fieldErr("environment", "%q is not a valid variable name", k)
		}
		if hasControl(v) {
			return fieldErr("environment", "the value of %s must not contain line breaks or control characters", k)
		}
	}
	for k, v := range d.Limits {
		if _, ok := limitFlags[k]; !ok {
			return fieldErr("limits", "unknown limit %q: drover knows %s", k, strings.Join(sortedKeys(limitFlags), ", "))
		}
		if !limitValRE.MatchString(v) {
			return fieldErr("limits", "%s must be a whole number or \"unlimited\", not %q", k, v)
		}
		if (k == "core" || k == "memlock") && v != "0" && v != "unlimited" {
			return fieldErr("limits", "%s must be 0 or \"unlimited\" (its unit differs between systemd and ulimit)", k)
		}
	}
	switch d.Restart {
	case "", "no", "on-failure", "always":
	default:
		return fieldErr("restart", "must be \"no\", \"on-failure\" or \"always\", not %q", d.Restart)
	}
	for _, a := range d.After {
		if !unitRE.MatchString(a) {
			return fieldErr("after", "%q is not a systemd unit name such as network-online.target or postgresql.service", a)
		}
	}
	for k, v := range d.SystemdOptions {
		if !optKeyRE.MatchString(k) {
			return fieldErr("systemd_options", "%q is not a systemd setting name (like ProtectHome)", k)
		}
		if hasControl(v) {
			return fieldErr("systemd_options", "the value of %s must be one line", k)
		}
	}
	uses := strings.Contains(d.Command+d.ConfigTest+d.BeforeStop+d.Reload+d.WorkingDirectory, Placeholder)
	for _, v := range d.Environment {
		uses = uses || strings.Contains(v, Placeholder)
	}
	if uses && len(d.Instances) == 0 {
		return fieldErr("instances", "the definition uses ${instance} but no instances are listed")
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

func (d *Definition) reloadCommand() string {
	if strings.HasPrefix(d.Reload, "signal:") {
		return ""
	}
	return d.Reload
}

var signals = map[string]bool{"HUP": true, "USR1": true, "USR2": true, "INT": true, "QUIT": true, "TERM": true, "WINCH": true}

func signalNames() []string { return sortedKeys(signals) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// argv splits a command line; words holding the placeholder keep it as a
// NUL byte (never otherwise in a valid command).
func (d *Definition) argv(field, cmd string) ([]string, error) {
	if strings.ContainsRune(cmd, 0) {
		return nil, fieldErr(field, "must not contain a NUL byte")
	}
	w, err := splitWords(strings.ReplaceAll(cmd, Placeholder, "\x00"))
	if err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	if len(w) == 0 {
		return nil, fieldErr(field, "is empty")
	}
	for _, x := range w {
		if hasControl(strings.ReplaceAll(x, "\x00", "")) {
			return nil, fieldErr(field, "must not contain control characters")
		}
	}
	return w, nil
}

func (d *Definition) mustArgv(cmd string) []string {
	w, err := d.argv("", cmd)
	if err != nil {
		panic("initgen: unvalidated definition: " + err.Error())
	}
	return w
}

// Services returns the names the init system knows the service's instances
// by, in the order of Instances: redis@cache.service (systemd),
// redis-cache (SysV), redis.cache (OpenRC); the bare name when there are no
// instances (redis.service for systemd).
func (d *Definition) Services(system string) []string {
	if len(d.Instances) == 0 {
		if system == Systemd {
			return []string{d.Name + ".service"}
		}
		return []string{d.Name}
	}
	out := make([]string, len(d.Instances))
	for i, in := range d.Instances {
		switch system {
		case Systemd:
			out[i] = d.Name + "@" + in + ".service"
		case OpenRC:
			out[i] = d.Name + "." + in
		default:
			out[i] = d.Name + "-" + in
		}
	}
	return out
}

// Generate returns the files that integrate the service with system.
func Generate(d Definition, system string) ([]File, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	switch system {
	case Systemd:
		files := []File{d.systemdUnit()}
		for _, u := range d.Services(Systemd) {
			files = append(files, d.configTestHelper(u))
		}
		return files, nil
	case SysV:
		var files []File
		if len(d.Instances) == 0 {
			return []File{d.sysvScript("")}, nil
		}
		for _, in := range d.Instances {
			files = append(files, d.sysvScript(in))
		}
		return files, nil
	case OpenRC:
		files := []File{d.openrcScript()}
		for _, in := range d.Instances {
			files = append(files, File{Path: "/etc/init.d/" + d.Name + "." + in, Link: d.Name, Mode: 0o777})
		}
		return files, nil
	}
	return nil, fieldErr("init_system", "cannot generate for init system %q: drover generates for %s", system, strings.Join(Systems, ", "))
}

func (d *Definition) description() string {
	if d.Description != "" {
		return d.Description
	}
	return d.Name
}

// header is the first comment of every generated file.
func (d *Definition) header() string {
	return initsys.GeneratedMark + "\"" + d.Name + "\". Do not edit: changes are overwritten.\n"
}

// sysvAfter maps systemd unit names to LSB facilities / OpenRC services.
func lsbDeps(after []string) (facilities []string, needNet bool) {
	for _, a := range after {
		switch a {
		case "network-online.target", "network.target":
			needNet = true
			continue
		case "multi-user.target", "basic.target", "sysinit.target", "local-fs.target", "remote-fs.target":
			continue
		case "time-sync.target":
			facilities = append(facilities, "$time")
			continue
		case "nss-lookup.target":
			facilities = append(facilities, "$named")
			continue
		}
		if n, ok := strings.CutSuffix(a, ".service"); ok && !strings.Contains(n, "@") {
			facilities = append(facilities, n)
		}
	}
	return slices.Compact(facilities), needNet
}

// configTestHelper is the executable configuration test of systemd unit
// (an instance's, or the service's), installed beside the unit: systemd
// offers no action that tests before it stops a service, so drover and the
// operator run it before a restart. It runs the test as ConfigTestScript
// does and succeeds when the definition has none, so that a removed
// config_test replaces an old helper.
func (d *Definition) configTestHelper(unit string) File {
	instance, _ := strings.CutSuffix(strings.TrimPrefix(unit, d.Name+"@"), ".service")
	if len(d.Instances) == 0 {
		instance = ""
	}
	var b strings.Builder
	// Values are quoted literally on purpose (SC2089/SC2090).
	b.WriteString("#!/bin/sh\n" + d.header() + "# shellcheck disable=SC2089,SC2090\n")
	fmt.Fprintf(&b, "# The configuration test of %s: drover runs it before it restarts or\n# reloads the service; run it before a manual \"systemctl restart\".\n", unit)
	if t := d.ConfigTestScript(instance); t != "" {
		b.WriteString(t + "\n")
	} else {
		b.WriteString("# The init_service has no config_test.\nexit 0\n")
	}
	return File{Path: initsys.ConfigTestPath(unit), Content: []byte(b.String()), Mode: 0o755}
}

// ConfigTestScript returns a sh command that runs the configuration test of
// one instance ("" without instances) the way the generated files do, but
// from the definition rather than from what is installed on the host (so it
// can run before a changed unit or script is written): with the service's
// environment, as its user when runuser is there. It returns "" when the
// definition has no config test.
func (d *Definition) ConfigTestScript(instance string) string {
	if d.ConfigTest == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("(\n")
	for _, k := range sortedKeys(d.Environment) {
		fmt.Fprintf(&b, "%s=%s\nexport %s\n", k, shell.Quote(strings.ReplaceAll(d.Environment[k], Placeholder, instance)), k)
	}
	argv := d.mustArgv(d.ConfigTest)
	for i, w := range argv {
		argv[i] = strings.ReplaceAll(w, "\x00", instance)
	}
	fmt.Fprintf(&b, "set -- %s\n", shell.Join(argv...))
	if d.User != "" {
		fmt.Fprintf(&b, "if command -v runuser >/dev/null 2>&1; then exec runuser -u %s -- \"$@\"; fi\n", shell.Quote(d.User))
	}
	b.WriteString("exec \"$@\"\n)")
	return b.String()
}
