package initsys

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// SysV drives LSB init scripts in /etc/init.d. The script's `status` action
// tells whether it runs (exit 0: running; LSB); it is enabled when a start
// link S??NAME exists in /etc/rc2.d to /etc/rc5.d. Enabling and disabling use
// update-rc.d (Debian), else chkconfig (Red Hat), else manage the links
// directly.
type SysV struct{}

func (SysV) Name() string { return "sysv" }

func script(name string) string { return shell.Quote("/etc/init.d/" + name) }

func (SysV) Status(name string) string {
	return sysvStatus(name, "") + `for f in /etc/rc[2345].d/S[0-9][0-9]` + shell.Quote(name) + `; do if [ -e "$f" ]; then echo enabled=yes; break; fi; done
`
}

// sysvStatus runs the script's status action, its lines prefixed with pre.
func sysvStatus(name, pre string) string {
	s := script(name)
	return `if [ -x ` + s + ` ]; then echo ` + pre + `exists=yes; ` + s + ` status >/dev/null 2>&1; echo "` + pre + `status=$?"; else echo ` + pre + `exists=no; fi
`
}

// statusAll runs each script's status action, then one loop over the start
// links of runlevels 2 to 5 finds the enabled ones.
func (SysV) statusAll(names []string) string {
	var b strings.Builder
	for i, n := range names {
		b.WriteString(sysvStatus(n, "svc."+strconv.Itoa(i)+"."))
	}
	b.WriteString("for f in /etc/rc[2345].d/S[0-9][0-9]*; do\n  [ -e \"$f\" ] || continue\n  case ${f##*/} in\n")
	for i, n := range names {
		fmt.Fprintf(&b, "  S[0-9][0-9]%s) echo svc.%d.enabled=yes;;\n", shell.Quote(n), i)
	}
	b.WriteString("  esac\ndone\n")
	return b.String()
}

func (SysV) ParseStatus(stdout []byte, exitCode int) (Status, error) {
	m := kvLines(stdout)
	if m["exists"] == "" {
		return Status{}, fmt.Errorf("the init script status check printed nothing (exit status %d)", exitCode)
	}
	st := Status{Exists: m["exists"] == "yes", Enabled: m["enabled"] == "yes"}
	if !st.Exists {
		st.Detail = "no init script"
		return st, nil
	}
	code, err := strconv.Atoi(m["status"])
	if err != nil {
		return Status{}, fmt.Errorf("malformed init script status %q", m["status"])
	}
	st.Active = code == 0
	st.Detail = lsbStatus(code)
	return st, nil
}

// lsbStatus names the exit statuses of an LSB init script's status action.
func lsbStatus(code int) string {
	switch code {
	case 0:
		return "running"
	case 1:
		return "dead, pid file exists"
	case 2:
		return "dead, lock file exists"
	case 3:
		return "not running"
	}
	return "status " + strconv.Itoa(code)
}

func (SysV) Start(name string) string   { return script(name) + " start" }
func (SysV) Stop(name string) string    { return script(name) + " stop" }
func (SysV) Restart(name string) string { return script(name) + " restart" }
func (SysV) Reload(name string) string  { return script(name) + " reload" }

func (SysV) Enable(name string) string {
	n := shell.Quote(name)
	return strings.Join([]string{
		`if command -v update-rc.d >/dev/null 2>&1; then`,
		`  update-rc.d ` + n + ` defaults && update-rc.d ` + n + ` enable`,
		`elif command -v chkconfig >/dev/null 2>&1; then`,
		`  chkconfig --add ` + n + ` && chkconfig ` + n + ` on`,
		`else`,
		`  for l in 2 3 4 5; do mkdir -p /etc/rc$l.d && rm -f /etc/rc$l.d/K[0-9][0-9]` + n + ` && ln -sf ../init.d/` + n + ` /etc/rc$l.d/S20` + n + `; done`,
		`  for l in 0 1 6; do mkdir -p /etc/rc$l.d && ln -sf ../init.d/` + n + ` /etc/rc$l.d/K80` + n + `; done`,
		`fi`,
	}, "\n")
}

func (SysV) Disable(name string) string {
	n := shell.Quote(name)
	return strings.Join([]string{
		`if command -v update-rc.d >/dev/null 2>&1; then`,
		`  update-rc.d ` + n + ` disable`,
		`elif command -v chkconfig >/dev/null 2>&1; then`,
		`  chkconfig ` + n + ` off`,
		`else`,
		`  for l in 2 3 4 5; do rm -f /etc/rc$l.d/S[0-9][0-9]` + n + ` && ln -sf ../init.d/` + n + ` /etc/rc$l.d/K80` + n + `; done`,
		`fi`,
	}, "\n")
}

func (SysV) DaemonReload() string { return "" }

// ConfigTest runs the generated script's configtest action.
func (SysV) ConfigTest(name string) string {
	return InstalledTest("/etc/init.d/"+name, `"$f" configtest`)
}
