package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/report"
	drun "github.com/drover-cm/drover/engine/run"
	"github.com/drover-cm/drover/engine/runlock"
	"github.com/drover-cm/drover/integration"
	"github.com/drover-cm/drover/inventory"
)

// crossEngine is newEngine with the fleet's inventory plus a host "ghost"
// nothing listens for (port 9), which no play selects.
func crossEngine(t *testing.T, f *integration.Fleet, files map[string]string) *engine {
	return crossEngineAs(t, f, "root", files)
}

func crossEngineAs(t *testing.T, f *integration.Fleet, user string, files map[string]string) *engine {
	t.Helper()
	e := newEngineAs(t, f, user, files)
	ghost := filepath.Join(t.TempDir(), "ghost.hcl")
	os.WriteFile(ghost, []byte("host \"ghost\" {\n  address = \"127.0.0.1\"\n  port    = 9\n}\n"), 0o644)
	inv, diags := inventory.Load([]string{f.InventoryFileAs(user), ghost}, inventory.LoadOptions{Parser: e.parser})
	if diags.HasErrors() {
		t.Fatalf("inventory: %s", diags)
	}
	e.inv = inv
	return e
}

// TestFleetCrossHost: fleet-wide data, run_once and delegate_to on three
// real hosts (each with its own root filesystem).
func TestFleetCrossHost(t *testing.T) {
	f := integration.Start(t, 3)
	for _, h := range f.Hosts {
		h.Exec(t, "echo "+h.Name+" > /etc/whoami; rm -rf /srv/registry /tmp/once-ran /tmp/serial-log")
	}
	h1, h2, h3 := f.Hosts[0], f.Hosts[1], f.Hosts[2]
	applyOK := func(t *testing.T, files map[string]string, wantChanged bool) (string, *eventLog) {
		t.Helper()
		var log eventLog
		out, res := crossEngine(t, f, files).apply(context.Background(), &log)
		if !res.Recap.OK() || res.Diagnostics.HasErrors() {
			t.Fatalf("apply:\n%s", out)
		}
		for _, row := range res.Recap.Hosts {
			if (row.Tasks.Changed > 0) != wantChanged {
				t.Errorf("%s: %+v (want changes: %v)\n%s", row.Host, row.Tasks, wantChanged, out)
			}
		}
		return out, &log
	}

	t.Run("backends from the inventory", func(t *testing.T) {
		files := map[string]string{
			"site.hcl": `play "lb" {
  hosts = "host1"
  template "backends" {
    source = "backends.tftpl"
    path   = "/etc/backends.conf"
    vars = {
      backends = [for h in inventory.groups["fleet"] : "${h} ${inventory.hosts[h].address}:${inventory.hosts[h].port} ${inventory.hosts[h].facts.os_id}"]
    }
  }
}
`,
			"backends.tftpl": "%{ for b in backends ~}\nserver ${b}\n%{ endfor ~}\n",
		}
		applyOK(t, files, true)
		var want strings.Builder
		for _, h := range f.Hosts {
			want.WriteString("server " + h.Name + " 127.0.0.1:" + strconv.Itoa(h.Port) + " debian\n")
		}
		if got := h1.Exec(t, "cat /etc/backends.conf"); got != want.String() {
			t.Errorf("backends.conf:\n%s\nwant:\n%s", got, want.String())
		}
		if got := h2.Exec(t, "test -e /etc/backends.conf && echo present || echo absent"); got != "absent\n" {
			t.Errorf("host2: backends.conf %s", got)
		}
		applyOK(t, files, false)
		out, pres := crossEngine(t, f, files).plan()
		if tp := pres.Hosts[0].Plan.Tasks[0]; strings.Join(tp.Reads, ",") != "host2,host3" || !strings.Contains(out, "reads inventory data of host2, host3") {
			t.Errorf("plan does not say what it read: %+v\n%s", tp, out)
		}
	})

	t.Run("run_once output used by every host", func(t *testing.T) {
		files := map[string]string{"site.hcl": `play "web" {
  hosts = "fleet"
  command "token" {
    run      = ["sh", "-c", "echo ran >> /tmp/once-ran; echo token-from-$(cat /etc/whoami)"]
    run_once = true
  }
  file "token" {
    path    = "/etc/token"
    content = "${command.token.stdout}\n"
  }
}
`}
		_, log := applyOK(t, files, true)
		for _, h := range f.Hosts {
			if got := h.Exec(t, "cat /etc/token; cat /tmp/once-ran 2>/dev/null | wc -l"); got != "token-from-host1\n"+map[bool]string{true: "1\n", false: "0\n"}[h == h1] {
				t.Errorf("%s: %q", h.Name, got)
			}
		}
		if ev, _ := log.task("host3", "command.token"); ev.Message != "ran on host1" {
			t.Errorf("host3's report: %+v", ev)
		}
	})

	t.Run("delegate_to writes on a third host", func(t *testing.T) {
		files := map[string]string{"site.hcl": `play "web" {
  hosts = "host1:host2"
  directory "registry" {
    path        = "/srv/registry"
    delegate_to = "host3"
  }
  file "entry" {
    path        = "/srv/registry/${host.name}"
    content     = "${host.name} ${host.address}\n"
    delegate_to = "host3"
    depends_on  = [directory.registry]
  }
}
`}
		_, log := applyOK(t, files, true)
		if got := h3.Exec(t, "cat /srv/registry/host1 /srv/registry/host2"); got != "host1 127.0.0.1\nhost2 127.0.0.1\n" {
			t.Errorf("host3's registry: %q", got)
		}
		for _, h := range []*integration.Host{h1, h2} {
			if got := h.Exec(t, "test -e /srv/registry && echo present || echo absent"); got != "absent\n" {
				t.Errorf("%s: the delegated task ran on the host itself", h.Name)
			}
		}
		if ev, _ := log.task("host2", "file.entry"); ev.Message != "on host3" || ev.Status != report.StatusChanged {
			t.Errorf("host2's report: %+v", ev)
		}
		applyOK(t, files, false)
	})

	t.Run("several hosts change one file on the delegate", func(t *testing.T) {
		h3.Exec(t, "echo '# backends' > /etc/backends.list")
		files := map[string]string{"site.hcl": `play "web" {
  hosts = "fleet"
  line "backend" {
    path        = "/etc/backends.list"
    line        = "server ${host.name} ${host.address}"
    delegate_to = "host3"
  }
}
`}
		applyOK(t, files, true)
		if got := h3.Exec(t, "sort /etc/backends.list"); got != "# backends\nserver host1 127.0.0.1\nserver host2 127.0.0.1\nserver host3 127.0.0.1\n" {
			t.Errorf("host3's backends.list:\n%s", got)
		}
		applyOK(t, files, false)
	})

	t.Run("delegate_to with become", func(t *testing.T) {
		files := map[string]string{"site.hcl": `play "web" {
  hosts  = "host1:host2"
  become = true
  file "entry" {
    path        = "/root/from-${host.name}"
    content     = "${host.name}\n"
    mode        = "0600"
    delegate_to = "host3"
  }
}
`}
		for _, want := range []bool{true, false} {
			var log eventLog
			out, res := crossEngineAs(t, f, integration.DeployUser, files).apply(context.Background(), &log)
			if !res.Recap.OK() {
				t.Fatalf("apply:\n%s", out)
			}
			for _, row := range res.Recap.Hosts {
				if (row.Tasks.Changed > 0) != want {
					t.Errorf("%s: %+v\n%s", row.Host, row.Tasks, out)
				}
			}
		}
		if got := h3.Exec(t, "stat -c '%U %a' /root/from-host1 /root/from-host2; cat /root/from-host1"); got != "root 600\nroot 600\nhost1\n" {
			t.Errorf("host3: %q", got)
		}
	})

	t.Run("serial 1 runs once per batch", func(t *testing.T) {
		files := map[string]string{"site.hcl": `play "web" {
  hosts  = "fleet"
  serial = 1
  command "stamp" {
    run      = ["sh", "-c", "cat /etc/whoami >> /tmp/serial-log; cat /etc/whoami"]
    run_once = true
  }
  file "stamp" {
    path    = "/etc/stamp"
    content = command.stamp.stdout
  }
}
`}
		applyOK(t, files, true)
		for _, h := range f.Hosts {
			if got := h.Exec(t, "cat /tmp/serial-log; echo; cat /etc/stamp"); got != h.Name+"\n\n"+h.Name {
				t.Errorf("%s: %q", h.Name, got)
			}
		}
	})

	t.Run("delegate's run lock held by another run", func(t *testing.T) {
		// Another controller holds host3's run lock.
		other := crossEngine(t, f, map[string]string{"site.hcl": "play \"x\" {\n  hosts = \"host3\"\n}\n"})
		opts := other.options(nil)
		conn, err := opts.Connect(context.Background(), other.inv.GroupHosts("fleet")[2], nil)
		if err != nil {
			t.Fatal(err)
		}
		held, err := runlock.Start(context.Background(), conn, runlock.Holder{User: "other", Controller: "ctl", PID: 1, Start: time.Now()}, 0).Wait()
		if err != nil {
			t.Fatal(err)
		}
		defer other.close()
		defer held.Release()
		e := crossEngine(t, f, map[string]string{"site.hcl": `play "web" {
  hosts = "host1"
  file "entry" {
    path        = "/tmp/locked-${host.name}"
    content     = "x"
    delegate_to = "host3"
  }
}
`})
		e.lock = &drun.RunLock{Holder: runlock.Holder{User: "me", Controller: "ctl", PID: 2, Start: time.Now()}, Wait: 500 * time.Millisecond}
		var log eventLog
		out, res := e.apply(context.Background(), &log)
		ev, _ := log.task("host1", "file.entry")
		if row := recapOf(t, res.Recap, "host1"); row.Status != report.StatusFailed || !strings.Contains(ev.Message, "delegate_to host3") || !strings.Contains(ev.Message, "other@ctl") {
			t.Errorf("recap %+v, event %+v\n%s", row, ev, out)
		}
		if got := h3.Exec(t, "test -e /tmp/locked-host1 && echo present || echo absent"); got != "absent\n" {
			t.Errorf("the delegated task changed host3 while another run held its lock")
		}
	})

	t.Run("unreachable delegate", func(t *testing.T) {
		files := map[string]string{"site.hcl": `play "web" {
  hosts = "host1"
  command "drain" {
    run         = ["true"]
    delegate_to = "ghost"
  }
  file "after" {
    path    = "/etc/after-drain"
    content = "x"
  }
}
`}
		var log eventLog
		out, res := crossEngine(t, f, files).apply(context.Background(), &log)
		row := recapOf(t, res.Recap, "host1")
		ev, _ := log.task("host1", "command.drain")
		if row.Status != report.StatusFailed || ev.Status != report.StatusFailed || !strings.Contains(ev.Message, "delegate_to ghost is unreachable") {
			t.Errorf("recap %+v, event %+v\n%s", row, ev, out)
		}
		if got := h1.Exec(t, "test -e /etc/after-drain && echo present || echo absent"); got != "absent\n" {
			t.Errorf("host1 went on after the failed delegated task")
		}
		t.Log(out)
	})
}
