package initgen

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// openrcScript is /etc/init.d/NAME; instances are symlinks NAME.INSTANCE to
// it, and the script reads its instance from its own name (RC_SVCNAME).
func (d *Definition) openrcScript() File {
	multi := len(d.Instances) > 0
	var b strings.Builder
	b.WriteString("#!/sbin/openrc-run\n")
	// openrc-run reads the variables that look unused to shellcheck.
	b.WriteString("# shellcheck shell=sh disable=SC2034\n")
	b.WriteString(d.header())
	if multi {
		b.WriteString("# Instances are symlinks to this script: " + d.Name + ".INSTANCE.\n")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "description=%s\n", shell.Quote(d.description()))
	if multi {
		b.WriteString("instance=${RC_SVCNAME#*.}\nif [ \"$instance\" = \"$RC_SVCNAME\" ]; then instance=; fi\n")
	} else {
		b.WriteString("instance=\n")
	}
	b.WriteString("pidfile=\"/run/${RC_SVCNAME}.pid\"\n")
	chuid := d.User
	if d.User != "" && d.Group != "" {
		chuid += ":" + d.Group
	}
	fmt.Fprintf(&b, "daemon_user=%s\n", shell.Quote(chuid))
	fmt.Fprintf(&b, "daemon_dir=%s\n", shValue(d.WorkingDirectory, "instance"))
	b.WriteString("extra_commands=\"configtest\"\n")
	if d.Reload != "" {
		b.WriteString("extra_started_commands=\"reload\"\n")
	}
	b.WriteString(d.envLines("instance"))
	b.WriteString("\n")

	facilities, net := lsbDeps(d.After)
	b.WriteString("depend() {\n")
	if net {
		// use, not need: Debian's OpenRC has no net service (its
		// networking is an LSB script) and need would refuse to start.
		b.WriteString("\tuse net\n")
	}
	var after []string
	for _, f := range facilities {
		if !strings.HasPrefix(f, "$") {
			after = append(after, f)
		}
	}
	if len(after) > 0 {
		fmt.Fprintf(&b, "\tafter %s\n", strings.Join(after, " "))
	}
	b.WriteString("\tuse logger\n}\n\n")

	d.shFunc(&b, "config_test", d.ConfigTest, "instance")
	d.shFunc(&b, "before_stop", d.BeforeStop, "instance")
	if d.Reload != "" && !strings.HasPrefix(d.Reload, "signal:") {
		d.shFunc(&b, "reload_command", d.Reload, "instance")
	}

	b.WriteString(`configtest() {
	ebegin "Checking the configuration of $RC_SVCNAME"
	config_test
	eend $? "the configuration test of $RC_SVCNAME failed"
}

start_pre() {
`)
	if multi {
		fmt.Fprintf(&b, "\tif [ -z \"$instance\" ]; then\n\t\teerror \"$RC_SVCNAME is the template of the instances: use %s.INSTANCE (a symlink to it)\"\n\t\treturn 1\n\tfi\n", d.Name)
	}
	b.WriteString("\tconfigtest\n}\n\nstart() {\n\tebegin \"Starting $RC_SVCNAME\"\n")
	b.WriteString(d.limitLines("\t"))
	fmt.Fprintf(&b, "\t# shellcheck disable=SC2016\n\tset -- %s\n", shWords(d.mustArgv(d.Command), "instance"))
	b.WriteString(`	prog=$1
	shift
	set -- --exec "$prog" -- "$@"
	if [ -n "$daemon_dir" ]; then set -- --chdir "$daemon_dir" "$@"; fi
	if [ -n "$daemon_user" ]; then
		# OpenRC's start-stop-daemon (Alpine, Gentoo) changes the user with
		# --user; dpkg's (Debian's OpenRC) only matches on it: --chuid.
		if start-stop-daemon --version 2>/dev/null | grep -q OpenRC; then
			set -- --user "$daemon_user" "$@"
		else
			set -- --chuid "$daemon_user" "$@"
		fi
	fi
	start-stop-daemon --start --background --make-pidfile --pidfile "$pidfile" "$@"
	eend $?
}

stop_pre() {
	# A restart with a broken configuration keeps the running service.
	if [ "$RC_CMD" = restart ]; then
		configtest || return 1
	fi
	before_stop || ewarn "the before_stop command of $RC_SVCNAME failed; stopping anyway"
}

stop() {
	ebegin "Stopping $RC_SVCNAME"
	start-stop-daemon --stop --pidfile "$pidfile" --retry TERM/10/KILL/5
	eend $?
}
`)
	if d.Reload != "" {
		b.WriteString("\nreload() {\n\tconfigtest || return 1\n\tebegin \"Reloading $RC_SVCNAME\"\n")
		if sig, ok := strings.CutPrefix(d.Reload, "signal:"); ok {
			// dpkg's start-stop-daemon signals only with --stop (and
			// without --retry it does not wait); OpenRC's with --signal.
			fmt.Fprintf(&b, "\tif start-stop-daemon --version 2>/dev/null | grep -q OpenRC; then\n\t\tstart-stop-daemon --signal %[1]s --pidfile \"$pidfile\"\n\telse\n\t\tstart-stop-daemon --stop --signal %[1]s --quiet --pidfile \"$pidfile\"\n\tfi\n", sig)
		} else {
			b.WriteString("\treload_command\n")
		}
		b.WriteString("\teend $?\n}\n")
	}
	return File{Path: "/etc/init.d/" + d.Name, Content: []byte(b.String()), Mode: 0o755}
}
