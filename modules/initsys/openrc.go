package initsys

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
)

// OpenRC drives OpenRC (Alpine, Gentoo) through rc-service and rc-update.
// A service is enabled when it is in any runlevel (/etc/runlevels/*/NAME);
// Enable adds it to the default runlevel and Disable removes it from all.
type OpenRC struct{}

func (OpenRC) Name() string { return "openrc" }

func (o OpenRC) Status(name string) string {
	return o.status([]string{name}, func(int) string { return "" })
}

func (o OpenRC) statusAll(names []string) string {
	return o.status(names, func(i int) string { return "svc." + strconv.Itoa(i) + "." })
}

// status reads the services' state, each line prefixed with pre(i): two
// rc-service calls per service (existence, status) and one loop over the
// runlevels for all of them.
func (OpenRC) status(names []string, pre func(int) string) string {
	var b strings.Builder
	for i, n := range names {
		q := shell.Quote(n)
		b.WriteString(`if rc-service --exists ` + q + ` 2>/dev/null; then echo ` + pre(i) + `exists=yes; else echo ` + pre(i) + `exists=no; fi
rc-service ` + q + ` status >/dev/null 2>&1; echo "` + pre(i) + `status=$?"
`)
	}
	if len(names) == 1 {
		b.WriteString(`for d in /etc/runlevels/*/; do if [ -e "$d"` + shell.Quote(names[0]) + ` ]; then echo "runlevel=$d"; fi; done` + "\n")
		return b.String()
	}
	b.WriteString("for d in /etc/runlevels/*/; do\n")
	for i, n := range names {
		b.WriteString(`  if [ -e "$d"` + shell.Quote(n) + ` ]; then echo "` + pre(i) + `runlevel=$d"; fi` + "\n")
	}
	b.WriteString("done\n")
	return b.String()
}

func (OpenRC) ParseStatus(stdout []byte, exitCode int) (Status, error) {
	var st Status
	code := -1
	for _, l := range strings.Split(string(stdout), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch k {
		case "exists":
			st.Exists = v == "yes"
		case "status":
			code, _ = strconv.Atoi(v)
		case "runlevel":
			st.Enabled = true
			if st.Detail == "" {
				st.Detail = "in runlevel " + path.Base(v)
			}
		}
	}
	if code < 0 {
		return Status{}, fmt.Errorf("the OpenRC status check printed nothing (exit status %d)", exitCode)
	}
	if code == 127 {
		return Status{}, fmt.Errorf("rc-service is not installed on the host; is init_system right?")
	}
	st.Active = code == 0
	st.Detail = openrcStatus(code)
	return st, nil
}

// openrcStatus names the exit statuses of `rc-service NAME status`.
func openrcStatus(code int) string {
	switch code {
	case 0:
		return "started"
	case 3:
		return "stopped"
	case 32:
		return "crashed"
	}
	return "status " + strconv.Itoa(code)
}

func (OpenRC) Start(name string) string   { return shell.Join("rc-service", name, "start") }
func (OpenRC) Stop(name string) string    { return shell.Join("rc-service", name, "stop") }
func (OpenRC) Restart(name string) string { return shell.Join("rc-service", name, "restart") }
func (OpenRC) Reload(name string) string  { return shell.Join("rc-service", name, "reload") }
func (OpenRC) Enable(name string) string  { return shell.Join("rc-update", "add", name, "default") }

// Disable removes the service from each runlevel it is in, one rc-update
// each: rc-update --all delete fails (exit 1) whenever the service is
// not in every runlevel, after removing it from those it was in.
func (OpenRC) Disable(name string) string {
	q := shell.Quote(name)
	return `_r=0
for d in /etc/runlevels/*/; do
  if [ -e "$d"` + q + ` ]; then _l=${d%/}; rc-update delete ` + q + ` "${_l##*/}" || _r=1; fi
done
[ "$_r" = 0 ]`
}

func (OpenRC) DaemonReload() string { return "" }

// ConfigTest runs the generated script's configtest command.
func (OpenRC) ConfigTest(name string) string {
	return InstalledTest("/etc/init.d/"+name, shell.Join("rc-service", name, "configtest"))
}
