package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

const (
	shadowTools  = "tool.useradd=/usr/sbin/useradd\ntool.usermod=/usr/sbin/usermod\ntool.userdel=/usr/sbin/userdel\ntool.chpasswd=/usr/sbin/chpasswd\n"
	busyboxTools = "tool.adduser=/bin/adduser\ntool.deluser=/bin/deluser\ntool.addgroup=/bin/addgroup\ntool.delgroup=/bin/delgroup\ntool.chpasswd=/bin/chpasswd\n"
	testHash     = "$6$salt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ./abcdefghijklmnopqrstuv"
	testKey1     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@example"
	testKey2     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo two@example"
)

func hashSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestUserDiff(t *testing.T) {
	app := "passwd=app:x:990:990:App:/srv/app:/usr/sbin/nologin\ngroups=app sudo\nprimary=app\n"
	hostileKey := `command="echo 'hi' $(id); rm -rf /",no-pty ` + testKey2
	runSysDiff(t, User{}, "user", []sysCase{
		{name: "create-every-attribute", values: obj("name", "app", "uid", cty.NumberIntVal(990), "group", "app",
			"groups", strs("docker", "adm", "docker"), "shell", "/usr/sbin/nologin", "home", "/srv/app", "system", true,
			"comment", hostileText, "password_hash", testHash, "authorized_keys", strs(testKey1, hostileKey)),
			out: shadowTools},
		{name: "create-own-group", values: obj("name", "web", "create_home", false), out: shadowTools},
		{name: "create-busybox", values: obj("name", "app", "uid", cty.NumberIntVal(990), "group", "app",
			"groups", strs("wheel"), "shell", "/bin/ash", "home", "/srv/app", "comment", "App", "create_home", false, "system", true),
			out: busyboxTools},
		{name: "create-no-tools", values: obj("name", "app"), out: ""},
		{name: "in-sync", values: obj("name", "app", "uid", cty.NumberIntVal(990), "group", "app", "groups", strs("sudo"),
			"shell", "/usr/sbin/nologin", "home", "/srv/app", "comment", "App"), out: shadowTools + app},
		{name: "groups-append", values: obj("name", "app", "groups", strs("docker", "sudo"), "append", true), out: shadowTools + app},
		{name: "groups-exclusive", values: obj("name", "app", "groups", strs("docker")), out: shadowTools + app},
		{name: "groups-exclusive-empty", values: obj("name", "app", "groups", strs()), out: shadowTools + app},
		{name: "groups-listing-primary", values: obj("name", "app", "groups", strs("app", "sudo")), out: shadowTools + app},
		{name: "groups-busybox", values: obj("name", "app", "groups", strs("docker")), out: busyboxTools + app},
		{name: "modify-attributes", values: obj("name", "app", "uid", cty.NumberIntVal(991), "group", "staff",
			"shell", "/bin/bash", "home", "/home/app", "comment", hostileText), out: shadowTools + app},
		{name: "modify-busybox-refused", values: obj("name", "app", "shell", "/bin/sh"), out: busyboxTools + app},
		{name: "password-same", values: obj("name", "app", "password_hash", testHash),
			out: shadowTools + app + "pwsum=" + hashSum(testHash) + "\n"},
		{name: "password-differs", values: obj("name", "app", "password_hash", testHash),
			out: shadowTools + app + "pwsum=" + hashSum("old") + "\n"},
		{name: "password-unreadable", values: obj("name", "app", "password_hash", testHash),
			out: shadowTools + app + "pwsum=unreadable\n"},
		{name: "keys-additive-missing", values: obj("name", "app", "authorized_keys", strs(testKey1, hostileKey)),
			out: shadowTools + app + blob("keys", "# mine\n"+testKey1+"\n")},
		{name: "keys-additive-present", values: obj("name", "app", "authorized_keys", strs(testKey1)),
			out: shadowTools + app + blob("keys", "ssh-rsa AAAA other\n"+testKey1+"\n")},
		{name: "keys-additive-no-file", values: obj("name", "app", "authorized_keys", strs()), out: shadowTools + app},
		{name: "keys-exclusive-differs", values: obj("name", "app", "authorized_keys", strs(testKey1), "exclusive_keys", true),
			out: shadowTools + app + blob("keys", "ssh-rsa AAAA other\n"+testKey1+"\n")},
		{name: "keys-exclusive-same", values: obj("name", "app", "authorized_keys", strs(testKey1, testKey2), "exclusive_keys", true),
			out: shadowTools + app + blob("keys", testKey1+"\n"+testKey2+"\n")},
		{name: "keys-exclusive-empty", values: obj("name", "app", "authorized_keys", strs(), "exclusive_keys", true),
			out: shadowTools + app + blob("keys", testKey1+"\n")},
		{name: "absent", values: obj("name", "app", "state", "absent", "remove_home", true), out: shadowTools + app},
		{name: "absent-busybox", values: obj("name", "app", "state", "absent", "remove_home", true), out: busyboxTools + app},
		{name: "absent-already", values: obj("name", "app", "state", "absent"), out: shadowTools},
	})
}

func TestUserConfigureErrors(t *testing.T) {
	runSysConfigErrors(t, User{}, []sysConfigCase{
		{"no name", obj("uid", cty.NumberIntVal(1)), "name: is required"},
		{"name with space", obj("name", "a b"), "not a valid user or group name"},
		{"name with command", obj("name", "$(id)"), "not a valid user or group name"},
		{"name with newline", obj("name", "a\nb"), "not a valid user or group name"},
		{"name starting with dash", obj("name", "-r"), "not a valid user or group name"},
		{"bad state", obj("name", "a", "state", "gone"), `"present" or "absent"`},
		{"fractional uid", obj("name", "a", "uid", cty.NumberFloatVal(1.5)), "whole number"},
		{"negative uid", obj("name", "a", "uid", cty.NumberIntVal(-1)), "out of range"},
		{"bad group", obj("name", "a", "group", "x;y"), "group"},
		{"bad supplementary group", obj("name", "a", "groups", strs("ok", "no way")), "groups"},
		{"comment with colon", obj("name", "a", "comment", "a:b"), "comment: must not contain ':'"},
		{"comment with newline", obj("name", "a", "comment", "a\nroot::0:0::/:/bin/sh"), "comment"},
		{"relative home", obj("name", "a", "home", "home/a"), "absolute"},
		{"relative shell", obj("name", "a", "shell", "bash"), "absolute"},
		{"hash with colon", obj("name", "a", "password_hash", "a:b"), "password_hash"},
		{"key with newline", obj("name", "a", "authorized_keys", strs(testKey1+"\n"+testKey2)), "one non-empty line"},
		{"empty key", obj("name", "a", "authorized_keys", strs(" ")), "one non-empty line"},
		{"groups not a list", obj("name", "a", "groups", cty.StringVal("x")), "groups"},
	})
}

// The password hash never appears in the plan, the Check fragment or any
// step script; it goes to chpasswd on stdin.
func TestUserPasswordStaysSecret(t *testing.T) {
	task, err := User{}.Configure(contract.Config{Values: obj("name", "app", "password_hash", testHash)})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{shadowTools, shadowTools + "passwd=app:x:1:1::/h:/bin/sh\npwsum=0\n"} {
		plan, err := task.Diff(contract.CheckOutput{Stdout: []byte(out)})
		if err != nil {
			t.Fatal(err)
		}
		text := task.Check() + renderPlan(t, plan)
		if strings.Contains(text, testHash) || strings.Contains(text, "abcdefghijklmnop") {
			t.Errorf("the hash leaks into the plan or scripts:\n%s", text)
		}
		// The hash reaches the host on chpasswd's stdin only.
		var fn func(context.Context, transport.Conn) (transport.Result, error)
		for _, st := range plan.Steps {
			if st.Func != nil {
				fn = st.Func
			}
		}
		if fn == nil {
			t.Fatalf("no password step in:\n%s", text)
		}
		rec := &sysRecordConn{}
		if _, err := fn(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if len(rec.cmds) != 1 || rec.cmds[0].command != "chpasswd -e" || rec.cmds[0].stdin != "app:"+testHash+"\n" {
			t.Errorf("password step ran %+v", rec.cmds)
		}
	}
	// A failing chpasswd fails the step with its message.
	plan, _ := task.Diff(contract.CheckOutput{Stdout: []byte(shadowTools)})
	rec := &sysRecordConn{res: transport.Result{ExitCode: 1, Stderr: []byte("chpasswd: line 1: user 'app' does not exist\n")}}
	if _, err := plan.Steps[1].Func(context.Background(), rec); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("err = %v", err)
	}
}

func TestGroupDiff(t *testing.T) {
	groupTools := "tool.groupadd=/usr/sbin/groupadd\ntool.groupmod=/usr/sbin/groupmod\ntool.groupdel=/usr/sbin/groupdel\n"
	bbTools := "tool.addgroup=/bin/addgroup\ntool.delgroup=/bin/delgroup\n"
	docker := "group=docker:x:998:alice,bob\n"
	runSysDiff(t, Group{}, "group", []sysCase{
		{name: "create", values: obj("name", "docker", "gid", cty.NumberIntVal(998), "system", true), out: groupTools},
		{name: "create-busybox", values: obj("name", "docker", "gid", cty.NumberIntVal(998), "system", true), out: bbTools},
		{name: "create-no-tools", values: obj("name", "docker"), out: ""},
		{name: "in-sync", values: obj("name", "docker", "gid", cty.NumberIntVal(998)), out: groupTools + docker},
		{name: "in-sync-any-gid", values: obj("name", "docker"), out: groupTools + docker},
		{name: "change-gid", values: obj("name", "docker", "gid", cty.NumberIntVal(999)), out: groupTools + docker},
		{name: "change-gid-busybox", values: obj("name", "docker", "gid", cty.NumberIntVal(999)), out: bbTools + docker},
		{name: "absent", values: obj("name", "docker", "state", "absent"), out: groupTools + docker},
		{name: "absent-busybox", values: obj("name", "docker", "state", "absent"), out: bbTools + docker},
		{name: "absent-already", values: obj("name", "docker", "state", "absent"), out: groupTools},
		{name: "malformed-entry", values: obj("name", "docker"), out: groupTools + "group=docker:x\n"},
	})
	runSysConfigErrors(t, Group{}, []sysConfigCase{
		{"bad name", obj("name", "a'b"), "not a valid user or group name"},
		{"long name", obj("name", strings.Repeat("a", 33)), "at most 32"},
		{"bad gid", obj("name", "a", "gid", cty.NumberIntVal(1<<40)), "out of range"},
		{"bad state", obj("name", "a", "state", "latest"), "state"},
	})
}
