package initgen

import (
	"fmt"
	"slices"
	"strings"
)

// hardening are the [Service] defaults Hardening adds; SystemdOptions may
// override each or remove it with "".
var hardening = [][2]string{
	{"NoNewPrivileges", "yes"},
	{"PrivateTmp", "yes"},
	{"ProtectSystem", "full"},
}

// UnitPath is where the unit of the service is written.
func (d *Definition) UnitPath() string {
	if len(d.Instances) > 0 {
		return "/etc/systemd/system/" + d.Name + "@.service"
	}
	return "/etc/systemd/system/" + d.Name + ".service"
}

func (d *Definition) systemdUnit() File {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	b.WriteString(d.header())
	b.WriteString("[Unit]\n")
	desc := unitEscape(d.description())
	if len(d.Instances) > 0 {
		desc += " (%i)"
	}
	line("Description", desc)
	if len(d.After) > 0 {
		line("After", strings.Join(d.After, " "))
		if slices.Contains(d.After, "network-online.target") {
			// After= alone does not pull the target in.
			line("Wants", "network-online.target")
		}
	}

	b.WriteString("\n[Service]\n")
	line("Type", "simple")
	if d.User != "" {
		line("User", d.User)
		if d.Group != "" {
			line("Group", d.Group)
		}
	}
	if d.WorkingDirectory != "" {
		line("WorkingDirectory", unitEscape(strings.ReplaceAll(d.WorkingDirectory, Placeholder, "\x00")))
	}
	for _, k := range sortedKeys(d.Environment) {
		line("Environment", unitQuoted(k+"="+d.Environment[k]))
	}
	if len(d.Instances) > 0 {
		line("EnvironmentFile", "-/etc/default/"+d.Name+"-%i")
	} else {
		line("EnvironmentFile", "-/etc/default/"+d.Name)
	}
	for _, k := range sortedKeys(d.Limits) {
		v := d.Limits[k]
		if v == "unlimited" {
			v = "infinity"
		}
		line(limitFlags[k].systemd, v)
	}
	if d.ConfigTest != "" {
		// A start (and so a restart) with a broken configuration fails
		// before the new process runs.
		line("ExecStartPre", unitExec(d.mustArgv(d.ConfigTest)))
	}
	line("ExecStart", unitExec(d.mustArgv(d.Command)))
	if d.Reload != "" {
		if d.ConfigTest != "" {
			// ExecReload commands run in order and stop at the first
			// failure: a broken configuration is never signalled.
			line("ExecReload", unitExec(d.mustArgv(d.ConfigTest)))
		}
		if sig, ok := strings.CutPrefix(d.Reload, "signal:"); ok {
			line("ExecReload", "/bin/kill -"+sig+" $MAINPID")
		} else {
			line("ExecReload", unitExec(d.mustArgv(d.Reload)))
		}
	}
	if d.BeforeStop != "" {
		// Runs first on stop; systemd then signals what is left.
		line("ExecStop", unitExec(d.mustArgv(d.BeforeStop)))
	}
	restart := d.Restart
	if restart == "" {
		restart = "on-failure"
	}
	line("Restart", restart)
	if restart != "no" {
		line("RestartSec", "2")
	}
	opts := map[string]string{}
	var order []string
	if d.Hardening {
		for _, kv := range hardening {
			opts[kv[0]] = kv[1]
			order = append(order, kv[0])
		}
	}
	for _, k := range sortedKeys(d.SystemdOptions) {
		if _, ok := opts[k]; !ok {
			order = append(order, k)
		}
		opts[k] = d.SystemdOptions[k]
	}
	for _, k := range order {
		if opts[k] != "" {
			line(k, opts[k])
		}
	}

	b.WriteString("\n[Install]\n")
	line("WantedBy", "multi-user.target")
	return File{Path: d.UnitPath(), Content: []byte(b.String()), Mode: 0o644}
}
