package initgen

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// ScriptPath is the SysV init script of one instance ("" for a service
// without instances).
func (d *Definition) ScriptPath(instance string) string {
	if instance == "" {
		return "/etc/init.d/" + d.Name
	}
	return "/etc/init.d/" + d.Name + "-" + instance
}

// PIDFile is where a SysV or OpenRC script keeps the pid of an instance.
func (d *Definition) PIDFile(system, instance string) string {
	switch {
	case instance == "":
		return "/run/" + d.Name + ".pid"
	case system == OpenRC:
		return "/run/" + d.Name + "." + instance + ".pid"
	}
	return "/run/" + d.Name + "-" + instance + ".pid"
}

// shFunc writes a sh function running argv (the placeholder is $v), or
// running ":" when cmd is "".
func (d *Definition) shFunc(b *strings.Builder, name, cmd, v string) {
	if cmd == "" {
		fmt.Fprintf(b, "%s() {\n\t:\n}\n\n", name)
		return
	}
	fmt.Fprintf(b, "%s() {\n\t# shellcheck disable=SC2016\n\t%s\n}\n\n", name, shWords(d.mustArgv(cmd), v))
}

// limitLines are ulimit commands for the limits, indented by ind.
func (d *Definition) limitLines(ind string) string {
	var b strings.Builder
	for _, k := range sortedKeys(d.Limits) {
		v := d.Limits[k]
		// POSIX specifies only ulimit -f; dash, bash and busybox all have these.
		if k == "nproc" {
			// bash calls it -u, dash and busybox -p.
			fmt.Fprintf(&b, "%s# shellcheck disable=SC3045\n%sulimit -u %s 2>/dev/null || ulimit -p %s\n", ind, ind, v, v)
			continue
		}
		fmt.Fprintf(&b, "%s# shellcheck disable=SC3045\n%sulimit %s %s\n", ind, ind, limitFlags[k].ulimit, v)
	}
	return b.String()
}

// envLines sets and exports the environment (the placeholder is $v).
func (d *Definition) envLines(v string) string {
	var b strings.Builder
	for _, k := range sortedKeys(d.Environment) {
		fmt.Fprintf(&b, "# shellcheck disable=SC2089,SC2090\nexport %s=%s\n", k, shValue(d.Environment[k], v))
	}
	return b.String()
}

func (d *Definition) sysvScript(instance string) File {
	name := d.Name
	desc := d.description()
	defaults := "/etc/default/" + d.Name
	if instance != "" {
		name += "-" + instance
		desc += " (" + instance + ")"
		defaults += "-" + instance
	}
	facilities, net := lsbDeps(d.After)
	deps := []string{"$remote_fs", "$syslog"}
	if net {
		deps = append(deps, "$network")
	}
	deps = append(deps, facilities...)

	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(d.header())
	b.WriteString("### BEGIN INIT INFO\n")
	fmt.Fprintf(&b, "# Provides:          %s\n", name)
	fmt.Fprintf(&b, "# Required-Start:    %s\n", strings.Join(deps, " "))
	fmt.Fprintf(&b, "# Required-Stop:     %s\n", strings.Join(deps, " "))
	b.WriteString("# Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n")
	fmt.Fprintf(&b, "# Short-Description: %s\n", strings.ReplaceAll(desc, "\n", " "))
	b.WriteString("### END INIT INFO\n\n")

	fmt.Fprintf(&b, "NAME=%s\n", shell.Quote(name))
	fmt.Fprintf(&b, "INSTANCE=%s\nexport INSTANCE\n", shell.Quote(instance))
	fmt.Fprintf(&b, "PIDFILE=%s\n", shell.Quote(d.PIDFile(SysV, instance)))
	chuid := d.User
	if d.User != "" && d.Group != "" {
		chuid += ":" + d.Group
	}
	fmt.Fprintf(&b, "DAEMON_USER=%s\n", shell.Quote(chuid))
	fmt.Fprintf(&b, "DAEMON_DIR=%s\n", shValue(d.WorkingDirectory, "INSTANCE"))
	b.WriteString("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport PATH\n")
	b.WriteString(d.envLines("INSTANCE"))
	fmt.Fprintf(&b, "\n# Local settings: variables set here are exported to the service.\nif [ -r %[1]s ]; then\n\tset -a\n\t# shellcheck disable=SC1090,SC1091\n\t. %[1]s\n\tset +a\nfi\n\n", shell.Quote(defaults))

	d.shFunc(&b, "config_test", d.ConfigTest, "INSTANCE")
	d.shFunc(&b, "before_stop", d.BeforeStop, "INSTANCE")
	if d.Reload != "" && !strings.HasPrefix(d.Reload, "signal:") {
		d.shFunc(&b, "reload_command", d.Reload, "INSTANCE")
	}

	b.WriteString(`# is_running returns the LSB status: 0 running, 1 dead with a pid file, 3 stopped.
is_running() {
	[ -f "$PIDFILE" ] || return 3
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 3
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
}

# checked runs the configuration test; on failure it prints its output and
# what was not done ($1), and fails.
checked() {
	if ! out=$(config_test 2>&1); then
		printf '%s\n' "$NAME: configuration test failed; $1" "$out" >&2
		return 1
	fi
}

do_start() {
	if is_running; then
		echo "$NAME is already running"
		return 0
	fi
	checked "not starting" || return 1
`)
	b.WriteString(d.limitLines("\t"))
	fmt.Fprintf(&b, "\t# shellcheck disable=SC2016\n\tset -- %s\n", shWords(d.mustArgv(d.Command), "INSTANCE"))
	b.WriteString(`	prog=$1
	shift
	if command -v start-stop-daemon >/dev/null 2>&1; then
		set -- --startas "$prog" -- "$@"
		if [ -n "$DAEMON_DIR" ]; then set -- --chdir "$DAEMON_DIR" "$@"; fi
		if [ -n "$DAEMON_USER" ]; then set -- --chuid "$DAEMON_USER" "$@"; fi
		start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" "$@"
	else
		if [ -n "$DAEMON_DIR" ]; then cd "$DAEMON_DIR" || return 1; fi
		if [ -n "$DAEMON_USER" ] && [ "$(id -u)" = 0 ]; then
			# shellcheck disable=SC2016
			su -s /bin/sh -c 'exec "$0" "$@"' "${DAEMON_USER%%:*}" "$prog" "$@" </dev/null >/dev/null 2>&1 &
		else
			"$prog" "$@" </dev/null >/dev/null 2>&1 &
		fi
		echo $! >"$PIDFILE"
	fi
}

do_stop() {
	if ! is_running; then
		rm -f "$PIDFILE"
		echo "$NAME is not running"
		return 0
	fi
	before_stop || echo "$NAME: the before_stop command failed; stopping anyway" >&2
	if command -v start-stop-daemon >/dev/null 2>&1; then
		start-stop-daemon --stop --quiet --oknodo --retry TERM/10/KILL/5 --pidfile "$PIDFILE" --remove-pidfile || return 1
	else
		pid=$(cat "$PIDFILE")
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null; do
			i=$((i + 1))
			if [ "$i" -gt 10 ]; then
				kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 1
		done
	fi
	rm -f "$PIDFILE"
}

do_restart() {
	if is_running; then
		checked "not restarting; $NAME keeps running with its previous configuration" || return 1
	fi
	do_stop && do_start
}

`)
	b.WriteString("do_reload() {\n")
	switch {
	case d.Reload == "":
		b.WriteString("\techo \"$NAME cannot reload (the init_service has no reload); use restart\" >&2\n\treturn 3\n")
	default:
		b.WriteString("\tif ! is_running; then\n\t\techo \"$NAME is not running\" >&2\n\t\treturn 7\n\tfi\n")
		b.WriteString("\tchecked \"not reloading; $NAME keeps running with its previous configuration\" || return 1\n")
		if sig, ok := strings.CutPrefix(d.Reload, "signal:"); ok {
			fmt.Fprintf(&b, "\tkill -%s \"$(cat \"$PIDFILE\")\"\n", sig)
		} else {
			b.WriteString("\treload_command\n")
		}
	}
	b.WriteString("}\n\n")
	forceReload := "do_reload"
	if d.Reload == "" {
		forceReload = "do_restart"
	}
	fmt.Fprintf(&b, `case "$1" in
start) do_start ;;
stop) do_stop ;;
restart) do_restart ;;
reload) do_reload ;;
force-reload) %s ;;
configtest) config_test ;;
status)
	is_running
	rc=$?
	case $rc in
	0) echo "$NAME is running (pid $(cat "$PIDFILE"))" ;;
	1) echo "$NAME is not running, but its pid file $PIDFILE exists" ;;
	*) echo "$NAME is not running" ;;
	esac
	exit "$rc"
	;;
*)
	echo "Usage: $0 {start|stop|status|restart|reload|force-reload|configtest}" >&2
	exit 3
	;;
esac
`, forceReload)
	return File{Path: d.ScriptPath(instance), Content: []byte(b.String()), Mode: 0o755}
}
