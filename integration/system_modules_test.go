package integration_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/modules"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest"
)

// These tests apply the system modules (user, group, cron, sysctl, download,
// archive, git, wait_for) twice on real fleet hosts over SSH as root: the
// second apply must change nothing. What the first apply did is verified
// inside the host with Exec, independently of drover.

// sysHost is one fleet host with an SSH connection as root.
type sysHost struct {
	f    *integration.Fleet
	h    *integration.Host
	conn transport.Conn
}

func startSys(t *testing.T, opts ...integration.Option) *sysHost {
	t.Helper()
	f := integration.Start(t, 1, opts...)
	h := f.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, transport.Target{
		Name: h.Name, Address: h.Addr, Port: h.Port, User: "root",
		Identities: []string{f.KeyFile}, ConnectTimeout: 10 * time.Second,
	}, transport.Options{KnownHostsFile: f.KnownHostsFile, NoAgent: true})
	if err != nil {
		t.Fatalf("connect to %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &sysHost{f: f, h: h, conn: c}
}

func module(t *testing.T, name string) contract.Module {
	t.Helper()
	m, ok := modules.Lookup(name)
	if !ok {
		t.Fatalf("module %s is not registered", name)
	}
	return m
}

// applyTwice applies the module with attrs twice and returns the first plan.
func (s *sysHost) applyTwice(t *testing.T, mod string, attrs map[string]cty.Value) *contract.Plan {
	t.Helper()
	plan, _ := moduletest.ApplyTwice(t, s.conn, module(t, mod), contract.Config{Values: moduletest.Values(attrs), AllowLocal: testLocal})
	if !plan.Changed() {
		t.Fatalf("%s: the first plan changes nothing; the test expects a change", mod)
	}
	return plan
}

// applyErr plans and applies once and returns the error of Diff or Apply.
func (s *sysHost) applyErr(t *testing.T, mod string, cfg contract.Config) error {
	t.Helper()
	cfg.AllowLocal = testLocal
	task := moduletest.Configure(t, module(t, mod), cfg)
	plan, err := moduletest.Plan(t, s.conn, task)
	if err != nil {
		return err
	}
	_, err = remote.Apply(context.Background(), s.conn, plan)
	return err
}

// testLocal lets these tests read local files where they write them, in
// temporary directories (as --allow-local would): they have no playbook
// directory.
var testLocal = []string{os.TempDir()}

func str(s string) cty.Value { return cty.StringVal(s) }

func strList(s ...string) cty.Value {
	if len(s) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	v := make([]cty.Value, len(s))
	for i, e := range s {
		v[i] = cty.StringVal(e)
	}
	return cty.ListVal(v)
}

func wantEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

// hostile is a value with every character a careless shell script trips on.
const hostile = `it's "$(touch /tmp/pwned)"; ` + "`id`" + ` & $HOME \ end`

func TestSystemModulesAccounts(t *testing.T) {
	s := startSys(t)
	h := s.h

	// group: create, change gid, and later remove.
	s.applyTwice(t, "group", map[string]cty.Value{"name": str("drvgrp"), "gid": cty.NumberIntVal(4321)})
	wantEqual(t, "group entry", h.Exec(t, "getent group drvgrp"), "drvgrp:x:4321:\n")
	s.applyTwice(t, "group", map[string]cty.Value{"name": str("drvgrp"), "gid": cty.NumberIntVal(4322)})
	wantEqual(t, "group entry after gid change", h.Exec(t, "getent group drvgrp"), "drvgrp:x:4322:\n")
	s.applyTwice(t, "group", map[string]cty.Value{"name": str("drvsys"), "system": cty.True})
	if gid := strings.Split(h.Exec(t, "getent group drvsys"), ":")[2]; len(gid) > 3 {
		t.Errorf("system group drvsys got gid %s, want one from the system range", gid)
	}

	// user: every attribute, hostile comment, password and keys.
	const hash = `$6$saltsalt$2s1ISHeq1oP8ajoQbKkgUBMRLoGtmbuv0s7ByRW1jgxAkcBM9tCtVq.eWdwZy3BCP5Rl47fTkUl5/0ywbvlJP.`
	key1 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1Key1Key1Key1Key1Key1Key1Key1Key1Key1Key1 one@x"
	key2 := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey2Key2Key2Key2Key2Key2Key2Key2Key2Key2Key2 two@x"
	comment := `O'Brien "$(touch /tmp/pwned)"; ` + "`id`" + ` \ x`
	plan := s.applyTwice(t, "user", map[string]cty.Value{
		"name": str("drvuser"), "uid": cty.NumberIntVal(4500), "group": str("drvgrp"),
		"groups": strList("drvsys"), "shell": str("/bin/sh"), "home": str("/home/drvuser"),
		"comment": str(comment), "password_hash": str(hash), "authorized_keys": strList(key1),
	})
	if desc := moduletest.Describe(plan); strings.Contains(desc, hash) {
		t.Errorf("the plan shows the password hash:\n%s", desc)
	}
	wantEqual(t, "passwd entry", h.Exec(t, "getent passwd drvuser"), "drvuser:x:4500:4322:"+comment+":/home/drvuser:/bin/sh\n")
	wantEqual(t, "groups", h.Exec(t, "id -Gn drvuser"), "drvgrp drvsys\n")
	wantEqual(t, "shadow hash", h.Exec(t, "getent shadow drvuser | cut -d: -f2"), hash+"\n")
	wantEqual(t, "keys", h.Exec(t, "cat /home/drvuser/.ssh/authorized_keys"), key1+"\n")
	wantEqual(t, "key modes", h.Exec(t, "stat -c '%a %U %G' /home/drvuser/.ssh /home/drvuser/.ssh/authorized_keys"),
		"700 drvuser drvgrp\n600 drvuser drvgrp\n")
	if out := h.Exec(t, "ls /tmp/pwned 2>&1 || true"); !strings.Contains(out, "No such file") {
		t.Errorf("a hostile value ran a command: %s", out)
	}

	// Additive keys keep lines drover does not manage; exclusive ones do not.
	h.Exec(t, "echo 'ssh-rsa AAAAmanual manual@x' >> /home/drvuser/.ssh/authorized_keys")
	s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvuser"), "authorized_keys": strList(key2)})
	wantEqual(t, "additive keys", h.Exec(t, "cat /home/drvuser/.ssh/authorized_keys"), key1+"\nssh-rsa AAAAmanual manual@x\n"+key2+"\n")
	s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvuser"), "authorized_keys": strList(key2), "exclusive_keys": cty.True})
	wantEqual(t, "exclusive keys", h.Exec(t, "cat /home/drvuser/.ssh/authorized_keys"), key2+"\n")

	// Groups: append adds, exclusive replaces; shell change through usermod.
	s.applyTwice(t, "group", map[string]cty.Value{"name": str("drvextra")})
	s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvuser"), "groups": strList("drvextra"), "append": cty.True})
	wantEqual(t, "appended groups", h.Exec(t, "id -Gn drvuser"), "drvgrp drvsys drvextra\n")
	plan = s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvuser"), "groups": strList("drvextra"), "shell": str("/bin/bash")})
	wantEqual(t, "exclusive groups", h.Exec(t, "id -Gn drvuser"), "drvgrp drvextra\n")
	wantEqual(t, "shell", h.Exec(t, "getent passwd drvuser | cut -d: -f7"), "/bin/bash\n")
	if desc := moduletest.Describe(plan); !strings.Contains(desc, "-drvsys") {
		t.Errorf("plan does not say drvsys is removed:\n%s", desc)
	}

	// A user without group gets its own; a system user without home.
	s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvsvc"), "system": cty.True, "create_home": cty.False,
		"home": str("/nonexistent"), "shell": str("/usr/sbin/nologin")})
	wantEqual(t, "system user's group", h.Exec(t, "id -gn drvsvc"), "drvsvc\n")
	h.Exec(t, "test ! -e /nonexistent")

	// absent, with the home directory.
	s.applyTwice(t, "user", map[string]cty.Value{"name": str("drvuser"), "state": str("absent"), "remove_home": cty.True})
	h.Exec(t, "! getent passwd drvuser && test ! -e /home/drvuser")
	s.applyTwice(t, "group", map[string]cty.Value{"name": str("drvextra"), "state": str("absent")})
	h.Exec(t, "! getent group drvextra")
}

func TestSystemModulesSysctl(t *testing.T) {
	s := startSys(t)
	h := s.h
	// Fleet hosts share the machine's kernel and network namespace but each
	// has its own UTS namespace, so kernel.domainname is the one parameter
	// that is both writable here and private to the host.
	before, _ := os.ReadFile("/proc/sys/kernel/domainname")
	file := "/etc/sysctl.d/60-drover-test.conf"
	h.Exec(t, "mkdir -p /etc/sysctl.d && printf '# keep me\\nkernel.domainname = old\\nvm.swappiness=10\\n' > "+file)
	s.applyTwice(t, "sysctl", map[string]cty.Value{"name": str("kernel.domainname"), "value": str("drover-test"), "file": str(file)})
	wantEqual(t, "running value", h.Exec(t, "sysctl -n kernel.domainname"), "drover-test\n")
	wantEqual(t, "file", h.Exec(t, "cat "+file), "# keep me\nkernel.domainname = drover-test\nvm.swappiness=10\n")
	wantEqual(t, "file mode", h.Exec(t, "stat -c %a "+file), "644\n")
	if after, _ := os.ReadFile("/proc/sys/kernel/domainname"); !bytes.Equal(before, after) {
		t.Errorf("the machine's domainname changed from %q to %q: the host is not isolated", before, after)
	}
	// A hostile value is persisted and set verbatim, never run.
	s.applyTwice(t, "sysctl", map[string]cty.Value{"name": str("kernel.domainname"), "value": str("a;$(touch /tmp/pwned)"), "file": str(file)})
	wantEqual(t, "hostile running value", h.Exec(t, "sysctl -n kernel.domainname"), "a;$(touch /tmp/pwned)\n")
	h.Exec(t, "test ! -e /tmp/pwned")

	s.applyTwice(t, "sysctl", map[string]cty.Value{"name": str("kernel.domainname"), "state": str("absent"), "file": str(file)})
	wantEqual(t, "file after absent", h.Exec(t, "cat "+file), "# keep me\nvm.swappiness=10\n")
	// The default file is created, and removed when its last line goes.
	s.applyTwice(t, "sysctl", map[string]cty.Value{"name": str("kernel.domainname"), "value": str("x"), "reload": cty.False})
	wantEqual(t, "default file", h.Exec(t, "cat /etc/sysctl.d/99-drover.conf"), "kernel.domainname = x\n")
	s.applyTwice(t, "sysctl", map[string]cty.Value{"name": str("kernel.domainname"), "state": str("absent")})
	h.Exec(t, "test ! -e /etc/sysctl.d/99-drover.conf")
}

func TestSystemModulesCron(t *testing.T) {
	// The machine's / may have no cron; the Debian rootfs has it.
	s := startSys(t, integration.WithRootfs())
	h := s.h
	job := `echo "a b" > /tmp/out; date +\%F; echo '$(nope)' ;`
	env := cty.MapVal(map[string]cty.Value{"GREETING": str(hostile)})
	h.Exec(t, "printf '# mine\\n5 * * * * /usr/bin/true\\n' | crontab -u root -")
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str(hostile), "minute": str("15"), "hour": str("3"), "job": str(job), "env": env})
	tab := h.Exec(t, "crontab -l -u root")
	wantLines := []string{"# mine", "5 * * * * /usr/bin/true", "# drover: " + hostile}
	for _, l := range wantLines {
		if !strings.Contains(tab, l+"\n") {
			t.Errorf("crontab lacks %q:\n%s", l, tab)
		}
	}
	// The entry, run by sh as cron would (after cron's % handling), sets
	// the variable verbatim.
	entry := strings.SplitN(strings.Split(tab, "# drover: "+hostile+"\n")[1], "\n", 2)[0]
	if !strings.HasPrefix(entry, "15 3 * * * GREETING=") || !strings.HasSuffix(entry, job) {
		t.Errorf("entry = %q", entry)
	}
	cmd := strings.TrimSuffix(strings.TrimPrefix(entry, "15 3 * * * "), job)
	cmd = strings.ReplaceAll(cmd, `\%`, "%") + `printf %s "$GREETING"`
	wantEqual(t, "job environment", h.Exec(t, cmd), hostile)

	// Changing the schedule replaces the entry in place.
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str(hostile), "special": str("@daily"), "job": str("/bin/true")})
	tab = h.Exec(t, "crontab -l -u root")
	if strings.Count(tab, "# drover: ") != 1 || !strings.Contains(tab, "# drover: "+hostile+"\n@daily /bin/true\n") {
		t.Errorf("crontab after change:\n%s", tab)
	}
	// Another user's crontab, disabled.
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str("deploy job"), "user": str(integration.DeployUser), "job": str("/bin/true"), "disabled": cty.True})
	wantEqual(t, "deploy crontab", h.Exec(t, "crontab -l -u "+integration.DeployUser), "# drover: deploy job\n#* * * * * /bin/true\n")

	// /etc/cron.d files.
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str("a"), "cron_file": str("drover-test"), "user": str("nobody"), "minute": str("*/5"), "job": str("/bin/true")})
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str("b"), "cron_file": str("drover-test"), "special": str("@reboot"), "job": str("/bin/false")})
	wantEqual(t, "cron.d file", h.Exec(t, "cat /etc/cron.d/drover-test"),
		"# drover: a\n*/5 * * * * nobody /bin/true\n# drover: b\n@reboot root /bin/false\n")
	wantEqual(t, "cron.d mode", h.Exec(t, "stat -c '%a %U' /etc/cron.d/drover-test"), "644 root\n")
	wantEqual(t, "no temporary files", h.Exec(t, "ls -A /etc/cron.d | grep drover"), "drover-test\n")

	// absent removes the entry, then the file with its last entry.
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str(hostile), "state": str("absent")})
	wantEqual(t, "crontab after absent", h.Exec(t, "crontab -l -u root"), "# mine\n5 * * * * /usr/bin/true\n")
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str("a"), "cron_file": str("drover-test"), "state": str("absent")})
	s.applyTwice(t, "cron", map[string]cty.Value{"name": str("b"), "cron_file": str("drover-test"), "state": str("absent")})
	h.Exec(t, "test ! -e /etc/cron.d/drover-test")
}

// serve starts an HTTP server on 127.0.0.1 (the fleet shares the machine's
// network namespace) serving files by path.
func serve(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSystemModulesDownload(t *testing.T) {
	s := startSys(t)
	h := s.h
	content := []byte("binary\x00data\nline 2\n")
	srv := serve(t, map[string][]byte{"/tool": content, "/other": []byte("other")})
	h.Exec(t, "mkdir -p /opt/dl")

	for _, on := range []string{"target", "controller"} {
		p := "/opt/dl/tool-" + on
		s.applyTwice(t, "download", map[string]cty.Value{"url": str(srv.URL + "/tool"), "path": str(p),
			"checksum": str("sha256:" + sha(content)), "mode": str("0750"), "owner": str(integration.DeployUser), "on": str(on)})
		wantEqual(t, on+": content sum", h.Exec(t, "sha256sum "+p+" | cut -d' ' -f1"), sha(content)+"\n")
		wantEqual(t, on+": mode and owner", h.Exec(t, "stat -c '%a %U' "+p), "750 "+integration.DeployUser+"\n")

		// Only the mode changed: no fetch, just chmod.
		h.Exec(t, "chmod 600 "+p)
		s.applyTwice(t, "download", map[string]cty.Value{"url": str(srv.URL + "/nothing-here"), "path": str(p),
			"checksum": str("sha256:" + sha(content)), "mode": str("0750"), "owner": str(integration.DeployUser), "on": str(on)})
		wantEqual(t, on+": mode fixed", h.Exec(t, "stat -c '%a' "+p), "750\n")

		// A checksum mismatch fails and leaves nothing behind.
		bad := "/opt/dl/bad-" + on
		err := s.applyErr(t, "download", contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"url": str(srv.URL + "/other"), "path": str(bad), "checksum": str("sha256:" + sha(content)), "on": str(on)})})
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Errorf("%s: download with a wrong checksum: err = %v, want a checksum mismatch", on, err)
		}
		// A 404 fails too.
		err = s.applyErr(t, "download", contract.Config{Values: moduletest.Values(map[string]cty.Value{
			"url": str(srv.URL + "/missing"), "path": str(bad), "checksum": str("sha256:" + sha(content)), "on": str(on)})})
		if err == nil {
			t.Errorf("%s: download of a missing URL succeeded", on)
		}
	}
	wantEqual(t, "files left in /opt/dl", h.Exec(t, "ls -A /opt/dl"), "tool-controller\ntool-target\n")
	// A missing directory fails when applying, with a message that says so.
	err := s.applyErr(t, "download", contract.Config{Values: moduletest.Values(map[string]cty.Value{
		"url": str(srv.URL + "/tool"), "path": str("/opt/nodir/tool"), "checksum": str("sha256:" + sha(content))})})
	if err == nil || !strings.Contains(err.Error(), "/opt/nodir does not exist on the host") {
		t.Errorf("download into a missing directory: err = %v", err)
	}
	// A hostile path is quoted.
	p := "/opt/dl/" + strings.NewReplacer("/", "_").Replace(hostile)
	s.applyTwice(t, "download", map[string]cty.Value{"url": str(srv.URL + "/tool"), "path": str(p), "checksum": str("sha256:" + sha(content))})
	wantEqual(t, "hostile path", h.Exec(t, "ls /opt/dl | grep -F \"it's\"; test ! -e /tmp/pwned"), p[len("/opt/dl/"):]+"\n")
}

// tarGz builds a .tar.gz whose members all sit under top/.
func tarGz(t *testing.T, top string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1234, Gid: 1234})
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: top + "/" + name, Mode: 0o644, Size: int64(len(body)), Uid: 1234, Gid: 1234}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestSystemModulesArchive(t *testing.T) {
	s := startSys(t)
	h := s.h
	dir := t.TempDir()
	v1 := filepath.Join(dir, "app-1.tar.gz")
	os.WriteFile(v1, tarGz(t, "app-1", map[string]string{"bin/run": "v1", "README": "read me"}), 0o644)
	h.Exec(t, "mkdir -p /opt/drv")
	attrs := map[string]cty.Value{"source": str(v1), "dest": str("/opt/drv/app"), "strip_components": cty.NumberIntVal(1),
		"owner": str(integration.DeployUser), "name": str("app")}
	s.applyTwice(t, "archive", attrs)
	wantEqual(t, "unpacked", h.Exec(t, "cd /opt/drv/app && cat bin/run README && stat -c '%U' bin/run . && ls -A"),
		"v1read me"+integration.DeployUser+"\n"+integration.DeployUser+"\n.drover-archive-app\nREADME\nbin\n")
	wantEqual(t, "nothing left beside dest", h.Exec(t, "ls -A /opt/drv"), "app\n")

	// A new archive under the same name is unpacked over the old content.
	v2 := filepath.Join(dir, "app-2.tar.gz")
	os.WriteFile(v2, tarGz(t, "app-2", map[string]string{"bin/run": "v2"}), 0o644)
	h.Exec(t, "echo local > /opt/drv/app/local.conf")
	attrs["source"] = str(v2)
	s.applyTwice(t, "archive", attrs)
	wantEqual(t, "updated", h.Exec(t, "cat /opt/drv/app/bin/run /opt/drv/app/local.conf"), "v2local\n")

	// A corrupt archive fails and leaves dest as it was.
	bad := filepath.Join(dir, "bad.tar.gz")
	os.WriteFile(bad, []byte("not gzip at all"), 0o644)
	err := s.applyErr(t, "archive", contract.Config{Values: moduletest.Values(map[string]cty.Value{
		"source": str(bad), "dest": str("/opt/drv/fresh")})})
	if err == nil {
		t.Errorf("unpacking a corrupt archive succeeded")
	}
	wantEqual(t, "after a failed unpack", h.Exec(t, "ls -A /opt/drv"), "app\n")

	// zip, and a tar already on the host (remote_source).
	z := filepath.Join(dir, "site.zip")
	os.WriteFile(z, zipOf(t, map[string]string{"index.html": "<h1>hi</h1>", "css/a.css": "a{}"}), 0o644)
	s.applyTwice(t, "archive", map[string]cty.Value{"source": str(z), "dest": str("/srv/www")})
	wantEqual(t, "zip", h.Exec(t, "cat /srv/www/index.html /srv/www/css/a.css"), "<h1>hi</h1>a{}")
	h.Exec(t, "mkdir -p /tmp/src/d && echo x > /tmp/src/d/f && tar -C /tmp/src -cf /tmp/plain.tar d")
	s.applyTwice(t, "archive", map[string]cty.Value{"source": str("/tmp/plain.tar"), "remote_source": cty.True, "dest": str("/opt/plain")})
	wantEqual(t, "remote tar", h.Exec(t, "cat /opt/plain/d/f; cat /opt/plain/.drover-archive-plain"), "x\n"+h.Exec(t, "sha256sum /tmp/plain.tar | cut -d' ' -f1"))
}

// gitRemote makes a bare repository /srv/repo.git inside the host with a
// branch main and a tag v1, pushed from the work tree /tmp/work.
func gitRemote(t *testing.T, h *integration.Host) {
	t.Helper()
	h.Exec(t, `set -e
export HOME=/root GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x
git init -q --bare -b main /srv/repo.git
git init -q -b main /tmp/work
cd /tmp/work
echo one > f && git add f && git commit -qm one && git tag v1
git remote add origin /srv/repo.git && git push -q origin main v1`)
}

func TestSystemModulesGit(t *testing.T) {
	s := startSys(t)
	h := s.h
	if _, err := h.Run("command -v git"); err != nil {
		t.Skip("git is not installed on the fleet hosts (this machine's /): apt-get install git")
	}
	gitRemote(t, h)
	head := func(dir string) string { return strings.TrimSpace(h.Exec(t, "git -C "+dir+" rev-parse HEAD")) }
	c1 := head("/tmp/work")
	repo := "file:///srv/repo.git"

	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str("main")})
	wantEqual(t, "cloned at main", head("/srv/app"), c1)
	wantEqual(t, "on branch", h.Exec(t, "git -C /srv/app symbolic-ref --short HEAD"), "main\n")
	wantEqual(t, "nothing left beside dest", h.Exec(t, "ls -A /srv"), "app\nrepo.git\n")

	// A new commit on main is fetched.
	h.Exec(t, `cd /tmp/work && echo two > f && HOME=/root git -c user.name=t -c user.email=t@x commit -qam two && git push -q origin main`)
	c2 := head("/tmp/work")
	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str("main")})
	wantEqual(t, "updated to new main", head("/srv/app"), c2)

	// A tag, then a commit id, detached.
	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str("v1")})
	wantEqual(t, "at tag v1", head("/srv/app"), c1)
	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str(c2)})
	wantEqual(t, "at commit", head("/srv/app"), c2)

	// Local changes stop the task unless force.
	h.Exec(t, "echo local > /srv/app/f")
	err := s.applyErr(t, "git", contract.Config{Values: moduletest.Values(map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str("v1")})})
	if err == nil || !strings.Contains(err.Error(), "local changes") {
		t.Errorf("checkout over local changes: err = %v, want a local changes error", err)
	}
	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/app"), "ref": str("v1"), "force": cty.True})
	wantEqual(t, "forced to v1", h.Exec(t, "cat /srv/app/f"), "one\n")

	// Shallow clone of the default branch.
	s.applyTwice(t, "git", map[string]cty.Value{"repo": str(repo), "dest": str("/srv/shallow"), "depth": cty.NumberIntVal(1)})
	wantEqual(t, "shallow", h.Exec(t, "git -C /srv/shallow rev-list --count HEAD"), "1\n")
	wantEqual(t, "shallow head", head("/srv/shallow"), c2)

	// A deploy key: the fleet's client key, over the host's own sshd. The
	// key is on the host only while git runs.
	keyed := map[string]cty.Value{"repo": str(fmt.Sprintf("ssh://root@127.0.0.1:%d/srv/repo.git", h.Port)), "dest": str("/srv/keyed"),
		"ref": str("main"), "deploy_key": str(s.f.KeyFile), "accept_new_hostkey": cty.True}
	for i := 0; i < 2; i++ {
		if err := s.applyErr(t, "git", contract.Config{Values: moduletest.Values(keyed)}); err != nil {
			t.Fatalf("deploy key, apply %d: %v", i+1, err)
		}
		wantEqual(t, "deploy key clone", head("/srv/keyed"), c2)
		wantEqual(t, "deploy keys left in /tmp", h.Exec(t, "ls -A /tmp | grep -c drover-git-key || true"), "0\n")
	}
	// The second plan fetches (the remote is only readable with the key) but
	// says so as a run, not an update.
	plan := moduletest.MustPlan(t, s.conn, moduletest.Configure(t, module(t, "git"), contract.Config{Values: moduletest.Values(keyed), AllowLocal: testLocal}))
	if len(plan.Changes) != 1 || plan.Changes[0].Action != contract.Run {
		t.Errorf("deploy key, second plan:\n%s", moduletest.Describe(plan))
	}
	// A key the server refuses fails the task and is removed all the same.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pemBlock, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	badKey := filepath.Join(t.TempDir(), "bad_key")
	os.WriteFile(badKey, pem.EncodeToMemory(pemBlock), 0o600)
	keyed["deploy_key"], keyed["dest"] = str(badKey), str("/srv/refused")
	if err := s.applyErr(t, "git", contract.Config{Values: moduletest.Values(keyed)}); err == nil {
		t.Error("clone with a refused deploy key succeeded")
	}
	wantEqual(t, "after a refused key", h.Exec(t, "ls -A /tmp | grep -c drover-git-key || true; ls -A /srv | grep -c refused || true"), "0\n0\n")
}

func TestSystemModulesWaitFor(t *testing.T) {
	s := startSys(t)
	// A listener on the machine is reachable from the host: they share the
	// network namespace.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := serve(t, map[string][]byte{"/healthz": []byte("ok")})

	cases := []struct {
		name  string
		attrs map[string]cty.Value
		err   string // "" when it must succeed
	}{
		{"open port", map[string]cty.Value{"port": str(ln.Addr().String()), "timeout": str("10s")}, ""},
		{"http 200", map[string]cty.Value{"http": str(srv.URL + "/healthz"), "timeout": str("10s")}, ""},
		{"http 404 expected", map[string]cty.Value{"http": str(srv.URL + "/nope"), "status": cty.NumberIntVal(404), "timeout": str("10s")}, ""},
		{"command appears", map[string]cty.Value{"command": str("(sleep 1; touch /tmp/ready) >/dev/null 2>&1 & test -f /tmp/ready"), "interval": str("300ms"), "timeout": str("20s")}, ""},
		{"closed port", map[string]cty.Value{"port": str(closedPort(t)), "timeout": str("2s"), "interval": str("500ms")}, "not ready after 2s"},
		{"wrong status", map[string]cty.Value{"http": str(srv.URL + "/nope"), "timeout": str("2s")}, "status 404, want 200"},
		{"hanging command", map[string]cty.Value{"command": str("sleep 30"), "timeout": str("2s")}, "not ready after 2s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			begin := time.Now()
			cfg := contract.Config{Values: moduletest.Values(c.attrs)}
			if c.err == "" {
				plan, res := moduletest.ApplyTwice(t, s.conn, module(t, "wait_for"), cfg)
				if plan.Changed() {
					t.Errorf("wait_for reports a change:\n%s", moduletest.Describe(plan))
				}
				if !strings.Contains(string(res.Stdout), "ready after") {
					t.Errorf("output %q", res.Stdout)
				}
				return
			}
			err := s.applyErr(t, "wait_for", cfg)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("err = %v, want %q", err, c.err)
			}
			if d := time.Since(begin); d > 8*time.Second {
				t.Errorf("took %s; the timeout is not enforced", d)
			}
		})
	}
}

// closedPort returns a 127.0.0.1 address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
