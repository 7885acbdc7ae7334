package modules

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

func TestCronDiff(t *testing.T) {
	crontab := "tool.crontab=/usr/bin/crontab\n"
	mine := "# mine\n5 * * * * /usr/bin/true\n"
	backup := "# drover: backup\n15 3 * * * /usr/local/bin/backup\n"
	env := cty.MapVal(map[string]cty.Value{"B": cty.StringVal("100%"), "A": cty.StringVal(hostileText)})
	runSysDiff(t, Cron{}, "cron", []sysCase{
		{name: "create-empty-crontab", values: obj("name", "backup", "minute", "15", "hour", "3", "job", "/usr/local/bin/backup"), out: crontab},
		{name: "create-beside-others", values: obj("name", "backup", "minute", "15", "hour", "3", "job", "/usr/local/bin/backup"),
			out: crontab + blob("cur", mine)},
		{name: "in-sync", values: obj("name", "backup", "minute", "15", "hour", "3", "job", "/usr/local/bin/backup"),
			out: crontab + blob("cur", mine+backup)},
		{name: "update-schedule", values: obj("name", "backup", "special", "@daily", "job", "/usr/local/bin/backup"),
			out: crontab + blob("cur", mine+backup)},
		{name: "disable", values: obj("name", "backup", "minute", "15", "hour", "3", "job", "/usr/local/bin/backup", "disabled", true),
			out: crontab + blob("cur", backup)},
		{name: "hostile", values: obj("name", hostileText, "user", "deploy", "job", `echo "$(date +\%F)" > '/tmp/a b'; x`, "env", env),
			out: crontab + blob("cur", mine)},
		{name: "absent", values: obj("name", "backup", "state", "absent"), out: crontab + blob("cur", mine+backup)},
		{name: "absent-already", values: obj("name", "backup", "state", "absent"), out: crontab + blob("cur", mine)},
		{name: "user-created-by-the-play", values: obj("name", "backup", "user", "newuser", "job", "x"), out: crontab + "nouser=1\n"},
		{name: "no-crontab-command", values: obj("name", "backup", "job", "x"), out: ""},
		{name: "crontab-l-fails", values: obj("name", "backup", "user", "alice", "job", "x"),
			out: crontab + "err=must be privileged to use -u \n"},
		{name: "cron-file-create", values: obj("name", "rotate", "cron_file", "drover-logs", "user", "www-data", "minute", "*/10", "job", "/usr/sbin/logrotate /etc/lr.conf"),
			out: ""},
		{name: "cron-file-in-sync", values: obj("name", "rotate", "cron_file", "drover-logs", "user", "www-data", "minute", "*/10", "job", "/usr/sbin/logrotate /etc/lr.conf"),
			out: blob("cur", "# drover: rotate\n*/10 * * * * www-data /usr/sbin/logrotate /etc/lr.conf\n")},
		{name: "cron-file-absent", values: obj("name", "rotate", "cron_file", "drover-logs", "state", "absent"),
			out: blob("cur", "# drover: rotate\n*/10 * * * * www-data /usr/sbin/logrotate /etc/lr.conf\n")},
	})
}

func TestCronConfigureErrors(t *testing.T) {
	runSysConfigErrors(t, Cron{}, []sysConfigCase{
		{"no job", obj("name", "x"), "job: is required"},
		{"job with newline", obj("name", "x", "job", "a\n* * * * * root evil"), "one line"},
		{"name with newline", obj("name", "x\n* * * * * evil", "job", "a"), "name: must be one non-empty line"},
		{"empty name", obj("name", " ", "job", "a"), "name"},
		{"special and fields", obj("name", "x", "special", "@daily", "hour", "3", "job", "a"), "not both"},
		{"bad special", obj("name", "x", "special", "@sometimes", "job", "a"), "not one of"},
		{"field with space", obj("name", "x", "minute", "1 2", "job", "a"), "one word"},
		{"field with newline", obj("name", "x", "hour", "1\n", "job", "a"), "one word"},
		{"cron_file with dot", obj("name", "x", "cron_file", "my.cron", "job", "a"), "skips names with dots"},
		{"cron_file with slash", obj("name", "x", "cron_file", "../passwd", "job", "a"), "cron_file"},
		{"bad env name", obj("name", "x", "job", "a", "env", cty.MapVal(map[string]cty.Value{"A B": cty.StringVal("1")})), "not a valid variable name"},
		{"env value with newline", obj("name", "x", "job", "a", "env", cty.MapVal(map[string]cty.Value{"A": cty.StringVal("1\n2")})), "must be one line"},
		{"bad user", obj("name", "x", "job", "a", "user", "root;id"), "user"},
	})
}

// The crontab editing program works with every awk the shells find (mawk
// or gawk, busybox awk) and takes marker and entry verbatim.
func TestCronEditAwk(t *testing.T) {
	marker := "# drover: " + hostileText + ` [.*] \n %`
	entry := `* * * * * echo "\\" '\n' & \% $(x)`
	other := "# drover: other\n1 * * * * other\n"
	cases := []struct {
		name, in, present, want string
	}{
		{"append to empty", "", "1", marker + "\n" + entry + "\n"},
		{"append", "# mine\n", "1", "# mine\n" + marker + "\n" + entry + "\n"},
		{"replace in place", "a\n" + marker + "\nold\n" + other, "1", "a\n" + marker + "\n" + entry + "\n" + other},
		{"marker last line", "a\n" + marker + "\n", "1", "a\n" + marker + "\n" + entry + "\n"},
		{"marker followed by another marker", marker + "\n" + other, "1", marker + "\n" + entry + "\n" + other},
		{"remove", "a\n" + marker + "\nold\n" + other, "0", "a\n" + other},
		{"remove absent", "a\n" + other, "0", "a\n" + other},
		{"duplicates collapse", marker + "\nx\n" + marker + "\ny\n", "1", marker + "\n" + entry + "\n"},
	}
	for name, conn := range systemShellConns(t) {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				script := "M=" + shell.Quote(marker) + " E=" + shell.Quote(entry) + " P=" + c.present + "\nexport M E P\nprintf %s " + shell.Quote(c.in) + " | " + cronEditAwk
				res, err := conn.Run(context.Background(), cmdOf(script))
				if err != nil || res.ExitCode != 0 {
					t.Fatalf("exit %d, %v: %s", res.ExitCode, err, res.Stderr)
				}
				if got := string(res.Stdout); got != c.want {
					t.Errorf("got:\n%s\nwant:\n%s", got, c.want)
				}
			})
		}
	}
}

// systemShellConns returns a ShellConn per POSIX shell here (shconn.All).
func systemShellConns(t *testing.T) map[string]*shconn.ShellConn { return shconn.All(t) }

func TestCronEntryEscapesPercentInEnv(t *testing.T) {
	task, err := Cron{}.Configure(contract.Config{Values: obj("name", "x", "job", "run", "env", cty.MapVal(map[string]cty.Value{"P": cty.StringVal("50%")}))})
	if err != nil {
		t.Fatal(err)
	}
	if e := task.(*cronTask).entry; !strings.Contains(e, `P=50\%; export P; run`) {
		t.Errorf("entry = %q: a %% in an env value must be escaped for cron", e)
	}
}
