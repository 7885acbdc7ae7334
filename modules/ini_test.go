package modules

import (
	"errors"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/modules/contract"
)

// edit is the module: content in, content out, for every rule of the Doc.
func TestIniEdit(t *testing.T) {
	const conf = "; top comment\nglobal = 1\n\n[db]\nhost = a\n# port = 1\nport=5432\n\n[web]\nport = 80\n"
	for _, c := range []struct {
		name   string
		values cty.Value
		before string
		after  string
	}{
		{"set a new key after the section's last line", obj("path", "/f", "section", "db", "key", "user", "value", "app"), conf,
			"; top comment\nglobal = 1\n\n[db]\nhost = a\n# port = 1\nport=5432\nuser = app\n\n[web]\nport = 80\n"},
		{"change a value, not a commented-out key", obj("path", "/f", "section", "db", "key", "port", "value", "6432"), conf,
			"; top comment\nglobal = 1\n\n[db]\nhost = a\n# port = 1\nport = 6432\n\n[web]\nport = 80\n"},
		{"same value, other spacing: unchanged", obj("path", "/f", "section", "db", "key", "port", "value", "5432"), conf, conf},
		{"only in its section", obj("path", "/f", "section", "web", "key", "port", "value", "8080"), conf,
			"; top comment\nglobal = 1\n\n[db]\nhost = a\n# port = 1\nport=5432\n\n[web]\nport = 8080\n"},
		{"global section", obj("path", "/f", "key", "global", "value", "2"), conf,
			strings.Replace(conf, "global = 1", "global = 2", 1)},
		{"new global key goes before the first section", obj("path", "/f", "key", "g2", "value", "x"), "[a]\nk = v\n", "g2 = x\n[a]\nk = v\n"},
		{"new section at the end, after a blank line", obj("path", "/f", "section", "cache", "key", "size", "value", "1G"), conf,
			conf + "\n[cache]\nsize = 1G\n"},
		{"new section in a file without a final newline", obj("path", "/f", "section", "b", "key", "k", "value", "v"), "[a]\nk = v",
			"[a]\nk = v\n\n[b]\nk = v\n"},
		{"new key after a last line without newline", obj("path", "/f", "section", "a", "key", "k2", "value", "v"), "[a]\nk = v",
			"[a]\nk = v\nk2 = v\n"},
		{"duplicates of the key are removed", obj("path", "/f", "section", "a", "key", "k", "value", "3"), "[a]\nk = 1\nx = y\nk = 2\n[b]\nk = 9\n",
			"[a]\nk = 3\nx = y\n[b]\nk = 9\n"},
		{"empty value", obj("path", "/f", "section", "a", "key", "k", "value", ""), "[a]\n", "[a]\nk =\n"},
		{"no_extra_spaces", obj("path", "/f", "section", "a", "key", "k", "value", "v", "no_extra_spaces", true), "", "[a]\nk=v\n"},
		{"a header with spaces inside the brackets", obj("path", "/f", "section", "a", "key", "k", "value", "v"), " [ a ] \n", " [ a ] \nk = v\n"},
		{"CRLF line endings are kept", obj("path", "/f", "section", "a", "key", "k", "value", "2"), "[a]\r\nk = 1\r\nj = 0\r\n",
			"[a]\r\nk = 2\r\nj = 0\r\n"},
		{"CRLF for a new key too", obj("path", "/f", "section", "a", "key", "n", "value", "2"), "[a]\r\nk = 1\r\n", "[a]\r\nk = 1\r\nn = 2\r\n"},
		{"section only: exists", obj("path", "/f", "section", "web"), conf, conf},
		{"section only: added", obj("path", "/f", "section", "new"), "", "[new]\n"},
		{"absent key", obj("path", "/f", "section", "a", "key", "k", "state", "absent"), "[a]\nk = 1\nj = 0\nk=2\n[b]\nk = 3\n", "[a]\nj = 0\n[b]\nk = 3\n"},
		{"absent key in a missing section", obj("path", "/f", "section", "zz", "key", "k", "state", "absent"), conf, conf},
		{"absent section", obj("path", "/f", "section", "db", "state", "absent"), conf, "; top comment\nglobal = 1\n\n[web]\nport = 80\n"},
		{"absent last section and its blank line", obj("path", "/f", "section", "web", "state", "absent"), conf, "; top comment\nglobal = 1\n\n[db]\nhost = a\n# port = 1\nport=5432\n"},
		{"hostile value is text", obj("path", "/f", "section", hostileText, "key", "k", "value", hostileText), "",
			"[" + hostileText + "]\nk = " + hostileText + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			task, err := iniModule{}.Configure(contract.Config{Values: c.values})
			if err != nil {
				t.Fatal(err)
			}
			it := task.(*iniTask)
			if got := it.edit(c.before); got != c.after {
				t.Errorf("edit:\n%q\nwant\n%q", got, c.after)
			}
			// Idempotent: the edited file needs no further edit.
			if again := it.edit(c.after); again != c.after {
				t.Errorf("second edit changed the file:\n%q", again)
			}
		})
	}
}

func TestIniConfigureErrors(t *testing.T) {
	for _, c := range []struct {
		values     cty.Value
		attr, want string
	}{
		{obj("section", "a", "key", "k", "value", "v"), "path", "required"},
		{obj("path", "rel/f", "section", "a", "key", "k", "value", "v"), "path", "absolute"},
		{obj("path", "/f", "section", "a]b", "key", "k", "value", "v"), "section", "without brackets"},
		{obj("path", "/f", "section", "a\n[b", "key", "k", "value", "v"), "section", "newlines"},
		{obj("path", "/f", "section", " a", "key", "k", "value", "v"), "section", "spaces"},
		{obj("path", "/f", "section", "a", "key", "k=x", "value", "v"), "key", `without "="`},
		{obj("path", "/f", "section", "a", "key", "#k", "value", "v"), "key", `not starting with "#"`},
		{obj("path", "/f", "section", "a", "key", "[k", "value", "v"), "key", `not starting with`},
		{obj("path", "/f", "section", "a", "key", "", "value", "v"), "key", "must be a name"},
		{obj("path", "/f", "section", "a", "key", "k", "value", "v\n[evil]\nx = 1"), "value", "one line"},
		{obj("path", "/f", "section", "a", "key", "k", "value", " v"), "value", "spaces around it"},
		{obj("path", "/f", "section", "a", "key", "k"), "value", "required"},
		{obj("path", "/f", "section", "a", "key", "k", "value", "v", "state", "absent"), "value", "cannot be set"},
		{obj("path", "/f", "value", "v"), "key", "is required when section is unset"},
		{obj("path", "/f", "section", "a", "key", "k", "value", "v", "state", "gone"), "state", "present"},
		{obj("path", "/f", "section", "a", "key", "k", "value", "v", "mode", "rw"), "mode", "octal"},
		{obj("path", "/f", "section", "a", "key", "k", "value", "v", "owner", "-x"), "owner", ""},
	} {
		_, err := iniModule{}.Configure(contract.Config{Values: c.values})
		var ae *contract.AttrError
		if !errors.As(err, &ae) || ae.Attr != c.attr || !strings.Contains(ae.Msg, c.want) {
			t.Errorf("%#v: err = %v, want an AttrError on %s containing %q", c.values, err, c.attr, c.want)
		}
	}
}

// The rendered plans (check fragment, changes, uploads, scripts) are golden
// files in testdata/ini; `go test ./modules -run TestIniDiff -update`.
func TestIniDiff(t *testing.T) {
	old := tempSuffix
	tempSuffix = func() string { return "TMP" }
	t.Cleanup(func() { tempSuffix = old })
	php := "[PHP]\nengine = On\nmemory_limit = 128M\n\n[Date]\n;date.timezone =\n"
	state := func(content, mode string) string { return string(fileState(content, mode).Stdout) }
	runSysDiff(t, iniModule{}, "ini", []sysCase{
		{name: "update", values: obj("path", "/etc/php/php.ini", "section", "PHP", "key", "memory_limit", "value", "256M"), out: state(php, "644")},
		{name: "in-sync", values: obj("path", "/etc/php/php.ini", "section", "PHP", "key", "memory_limit", "value", "128M", "mode", "0644"), out: state(php, "644")},
		{name: "add-key-set-owner", values: obj("path", "/etc/php/php.ini", "section", "Date", "key", "date.timezone", "value", "UTC", "owner", "www-data"), out: state(php, "640")},
		{name: "mode-only", values: obj("path", "/etc/php/php.ini", "section", "PHP", "key", "engine", "value", "On", "mode", "0600", "group", "adm"), out: state(php, "644")},
		{name: "create", values: obj("path", "/etc/app.ini", "section", "main", "key", "user", "value", "app", "mode", "0640", "group", "app"), out: "type=missing\n"},
		{name: "create-hostile", values: obj("path", "/tmp/it's $(x) `y`;\nz.ini", "section", hostileText, "key", "k'$(id)", "value", hostileText), out: "type=missing\n"},
		{name: "sensitive-value", values: obj("path", "/etc/app.ini", "section", "db", "key", "password", "value", cty.StringVal("s3cret").Mark("sensitive")), out: state("[db]\npassword = old\n", "600")},
		{name: "absent-section", values: obj("path", "/etc/php/php.ini", "section", "Date", "state", "absent"), out: state(php, "644")},
		{name: "absent-missing-file", values: obj("path", "/etc/app.ini", "section", "a", "key", "k", "state", "absent"), out: "type=missing\n"},
		{name: "error-missing-no-create", values: obj("path", "/etc/app.ini", "section", "a", "key", "k", "value", "v", "create", false), out: "type=missing\n"},
		{name: "error-link", values: obj("path", "/home/m/.app.ini", "section", "a", "key", "k", "value", "v"), out: "type=link\n"},
		{name: "error-too-big", values: obj("path", "/f.ini", "section", "a", "key", "k", "value", "v"), out: "type=file\nstat=644 0 0 root root 2000000\n"},
	})
}

// The batched read (PathState) and the task's own Check fragment give Diff
// the same plan.
func TestIniDiffBatchedSameAsFragment(t *testing.T) {
	old := tempSuffix
	tempSuffix = func() string { return "TMP" }
	t.Cleanup(func() { tempSuffix = old })
	task, err := iniModule{}.Configure(contract.Config{Values: obj("path", "/f", "section", "a", "key", "k", "value", "2", "owner", "app")})
	if err != nil {
		t.Fatal(err)
	}
	content := "[a]\nk = 1\n"
	fromFragment, err1 := task.Diff(fileState(content, "644"))
	fromBatch, err2 := task.Diff(contract.CheckOutput{Path: &contract.PathState{
		Type: "file", Mode: 0o644, UID: "0", GID: "0", User: "root", Group: "root",
		Size: int64(len(content)), Content: []byte(content), HasContent: true,
	}})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a, b := renderPlan(t, fromFragment), renderPlan(t, fromBatch); a != b {
		t.Errorf("fragment:\n%s\nbatched:\n%s", a, b)
	}
}
