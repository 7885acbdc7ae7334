package modules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// Cron manages one entry of a user's crontab or of a file in /etc/cron.d,
// found again by a "# drover: NAME" marker line above it.
type Cron struct{}

func (Cron) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "cron",
		Summary: "Manage one cron job in a user's crontab or in /etc/cron.d.",
		Doc: `Keeps one entry, identified by name: drover writes a "# drover: NAME" line
above it and finds the entry again by that line, so the schedule or the
command can change without leaving the old entry behind, and entries drover
does not manage are kept as they are.

A user's crontab is read with crontab -l -u and replaced as a whole with
crontab -u USER FILE (which needs root, or become). With cron_file the entry
goes into /etc/cron.d/NAME instead, written to a temporary file and renamed,
mode 0644; the file is removed when its last entry is.

job is written as it is: in cron, an unescaped % ends the command (the rest
becomes its standard input), so write \% for a literal one. env variables are
set and exported for this job only.`,
		Attributes: []contract.Attribute{
			{Name: "name", Type: cty.String, Required: true, Doc: "Identifies the entry (the marker line). One line."},
			stateAttr,
			{Name: "user", Type: cty.String, Default: cty.StringVal("root"), Doc: "Whose crontab holds the job; with cron_file, the user the job runs as."},
			{Name: "cron_file", Type: cty.String, Doc: "A file name in /etc/cron.d (letters, digits, `_`, `-`) to hold the job instead of the user's crontab."},
			{Name: "minute", Type: cty.String, Default: cty.StringVal("*"), Doc: "Minute field (0-59, lists, ranges, steps)."},
			{Name: "hour", Type: cty.String, Default: cty.StringVal("*"), Doc: "Hour field (0-23)."},
			{Name: "day", Type: cty.String, Default: cty.StringVal("*"), Doc: "Day of month field (1-31)."},
			{Name: "month", Type: cty.String, Default: cty.StringVal("*"), Doc: "Month field (1-12 or jan-dec)."},
			{Name: "weekday", Type: cty.String, Default: cty.StringVal("*"), Doc: "Day of week field (0-7 or sun-sat)."},
			{Name: "special", Type: cty.String, Doc: "Instead of the five fields: @reboot, @hourly, @daily, @weekly, @monthly, @yearly, @annually or @midnight."},
			{Name: "job", Type: cty.String, Doc: "The command, one line. Required when state = \"present\"."},
			{Name: "env", Type: cty.Map(cty.String), Doc: "Environment variables set for this job only."},
			{Name: "disabled", Type: cty.Bool, Default: cty.False, Doc: "Keep the entry commented out."},
		},
		Example: `cron "backup" {
  name    = "nightly backup"
  user    = "root"
  minute  = "15"
  hour    = "3"
  job     = "/usr/local/bin/backup --quiet"
  env     = { BACKUP_TARGET = "s3://backups/web" }
}`,
	}
}

var (
	cronFileName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	envName      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	cronSpecials = []string{"@reboot", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"}
)

type cronTask struct {
	name     string
	state    string
	user     string
	file     string // absolute path in /etc/cron.d, "" for the user's crontab
	entry    string // the crontab line
	disabled bool
}

func (Cron) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Cron{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &cronTask{name: a.str("name"), user: a.str("user"), disabled: a.boolean("disabled")}
	if t.state, err = a.state(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.name) == "" || hasNewline(t.name) || strings.ContainsRune(t.name, 0) {
		return nil, &contract.AttrError{Attr: "name", Msg: "must be one non-empty line"}
	}
	if t.user == "" {
		t.user = "root"
	}
	if err := checkAccountName("user", t.user); err != nil {
		return nil, err
	}
	if f := a.str("cron_file"); a.set("cron_file") {
		if !cronFileName.MatchString(f) {
			return nil, &contract.AttrError{Attr: "cron_file", Msg: fmt.Sprintf("%q is not a file name cron reads: use letters, digits, '_' and '-' only (cron skips names with dots)", f)}
		}
		t.file = "/etc/cron.d/" + f
	}
	fields := []string{}
	nonDefault := false
	for _, f := range []string{"minute", "hour", "day", "month", "weekday"} {
		v := a.str(f)
		if v == "" {
			v = "*"
		}
		if strings.ContainsAny(v, " \t\n\r\x00") {
			return nil, &contract.AttrError{Attr: f, Msg: fmt.Sprintf("%q must be one word (no spaces or line breaks)", v)}
		}
		nonDefault = nonDefault || v != "*"
		fields = append(fields, v)
	}
	sched := strings.Join(fields, " ")
	if sp := a.str("special"); a.set("special") {
		if !slices.Contains(cronSpecials, sp) {
			return nil, &contract.AttrError{Attr: "special", Msg: fmt.Sprintf("%q is not one of %s", sp, strings.Join(cronSpecials, ", "))}
		}
		if nonDefault {
			return nil, &contract.AttrError{Attr: "special", Msg: "set either special or minute/hour/day/month/weekday, not both"}
		}
		sched = sp
	}
	job := a.str("job")
	if t.state == "present" && strings.TrimSpace(job) == "" {
		return nil, &contract.AttrError{Attr: "job", Msg: "is required when state = \"present\""}
	}
	if hasNewline(job) || strings.ContainsRune(job, 0) {
		return nil, &contract.AttrError{Attr: "job", Msg: "must be one line: a crontab entry cannot span lines"}
	}
	env := a.strMap("env")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var cmd strings.Builder
	for _, k := range keys {
		if !envName.MatchString(k) {
			return nil, &contract.AttrError{Attr: "env", Msg: fmt.Sprintf("%q is not a valid variable name", k)}
		}
		v := env[k]
		if hasNewline(v) || strings.ContainsRune(v, 0) {
			return nil, &contract.AttrError{Attr: "env", Msg: fmt.Sprintf("the value of %s must be one line", k)}
		}
		// cron turns an unescaped % into a newline, even inside quotes.
		fmt.Fprintf(&cmd, "%s=%s; export %s; ", k, strings.ReplaceAll(shell.Quote(v), "%", `\%`), k)
	}
	cmd.WriteString(job)
	t.entry = sched + " "
	if t.file != "" {
		t.entry += t.user + " "
	}
	t.entry += cmd.String()
	if t.disabled {
		t.entry = "#" + t.entry
	}
	return t, nil
}

func (t *cronTask) marker() string { return "# drover: " + t.name }

func (t *cronTask) Provides() []contract.Resource {
	if t.file != "" {
		return []contract.Resource{{Kind: "path", Name: t.file}}
	}
	return nil
}

func (t *cronTask) Uses() []contract.Resource {
	if t.state == "absent" {
		return nil
	}
	return []contract.Resource{{Kind: "user", Name: t.user}}
}

func (t *cronTask) where() string {
	if t.file != "" {
		return t.file
	}
	return "crontab of " + t.user
}

func (t *cronTask) Check() string {
	if t.file != "" {
		return shFileBlob("cur", shell.Quote(t.file))
	}
	// A user that does not exist yet (a user task of the play creates it)
	// has an empty crontab.
	return shTools("crontab") + fmt.Sprintf(`if ! id %[1]s >/dev/null 2>&1; then echo nouser=1
elif command -v crontab >/dev/null 2>&1; then
if c=$(crontab -l -u %[1]s 2>&1); then
%[2]selse case "$c" in *"no crontab"*|*"No such file"*) ;; *) printf 'err=%%s\n' "$(printf %%s "$c" | tr '\n' ' ')";; esac
fi
fi
`, shell.Quote(t.user), shVarBlob("cur", "c"))
}

func (t *cronTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := "cron " + t.name
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if t.file == "" {
		if !st.has("tool.crontab") {
			return nil, fmt.Errorf("%s: crontab is not installed on the host (Debian: apt-get install cron; or use cron_file)", subject)
		}
		if e := st.vals["err"]; e != "" {
			return nil, fmt.Errorf("%s: crontab -l -u %s failed: %s (managing another user's crontab needs root: use become)", subject, t.user, e)
		}
	}
	lines := strings.Split(string(st.blobs["cur"]), "\n")
	found, current := false, ""
	for i, l := range lines {
		if l == t.marker() {
			found = true
			if i+1 < len(lines) {
				current = lines[i+1]
			}
			break
		}
	}
	p := &contract.Plan{}
	switch {
	case t.state == "absent" && !found:
		return p, nil
	case t.state == "absent":
		p.Changes = append(p.Changes, contract.Change{Action: contract.Delete, Subject: subject, Attrs: []contract.AttrChange{{Name: "in", Old: t.where()}, {Name: "entry", Old: current}}})
	case found && current == t.entry:
		return p, nil
	case found:
		p.Changes = append(p.Changes, contract.Change{Action: contract.Update, Subject: subject, Attrs: []contract.AttrChange{
			{Name: "entry", Old: current, New: t.entry}}})
	default:
		p.Changes = append(p.Changes, contract.Change{Action: contract.Create, Subject: subject, Attrs: []contract.AttrChange{
			{Name: "in", New: t.where()}, {Name: "entry", New: t.entry}}})
	}
	p.Steps = append(p.Steps, contract.Step{Script: t.applyScript()})
	return p, nil
}

// cronEditAwk rewrites a crontab: the entry after the marker line M is
// replaced by E (P=1) or removed with its marker (P=0); an entry not found is
// appended. Values come through the environment, which awk does not unescape.
const cronEditAwk = `awk 'BEGIN { m = ENVIRON["M"]; e = ENVIRON["E"]; p = ENVIRON["P"] == "1" }
skip { skip = 0; if (index($0, "# drover: ") != 1) next }
$0 == m { if (p && !done) { print m; print e; done = 1 }; skip = 1; next }
{ print }
END { if (p && !done) { print m; print e } }'`

// applyScript re-reads the crontab when it runs, so that entries changed
// since the check are kept, and installs the edited copy as a whole.
func (t *cronTask) applyScript() string {
	var b strings.Builder
	present := "0"
	if t.state == "present" {
		present = "1"
	}
	fmt.Fprintf(&b, "M=%s E=%s P=%s\nexport M E P\n", shell.Quote(t.marker()), shell.Quote(t.entry), present)
	if t.file != "" {
		return safeFS + b.String() + safeRewrite(t.file, cronEditAwk)
	}
	u := shell.Quote(t.user)
	fmt.Fprintf(&b, `if ! c=$(crontab -l -u %[1]s 2>&1); then
case "$c" in *"no crontab"*|*"No such file"*) c= ;; *) printf 'crontab -l -u %%s: %%s\n' %[1]s "$c" >&2; exit 1 ;; esac
fi
t=$(mktemp)
trap 'rm -f "$t"' EXIT
if [ -n "$c" ]; then printf '%%s\n' "$c"; fi | %[2]s > "$t"
crontab -u %[1]s "$t"
`, u, cronEditAwk)
	return b.String()
}
