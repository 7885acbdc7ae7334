package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/integration"
)

// blockPlaybook deploys in a block, one host at a time with no failure
// allowed: where the deploy fails, the rescue records it and notifies the
// handler; the always task runs everywhere.
const blockPlaybook = `
play "web" {
  hosts    = "fleet"
  serial   = 1
  max_fail = 0

  block "deploy" {
    shell "install" {
      run     = "test ! -e /etc/drover-broken && echo v2 > /srv/deployed"
      creates = "/srv/deployed"
      notify  = [handler.reload]
    }
    file "after_install" {
      path    = "/srv/after_install"
      content = "after\n"
    }
    rescue {
      file "rolled_back" {
        path    = "/srv/rolled_back"
        content = "rolled back\n"
        notify  = [handler.reload]
      }
    }
    always {
      file "audit" {
        path    = "/srv/audit"
        content = "audited\n"
      }
    }
  }

  handler "reload" {
    shell { run = "echo reload >> /srv/reloads" }
  }
}
`

// TestFailureBlockFleet: the block's first task fails on one of three
// hosts. There the rest of the body is skipped, the rescue and the always
// tasks run, the notified handler runs, and the host ends ok (rescued=1):
// with serial = 1 and max_fail = 0 the next batch still starts. A second
// apply changes nothing anywhere.
func TestFailureBlockFleet(t *testing.T) {
	f := integration.Start(t, 3)
	bad := f.Hosts[0] // the first batch: a failure there would hold the rest
	bad.Exec(t, "touch /etc/drover-broken")

	out, res := newEngine(t, f, map[string]string{"site.hcl": blockPlaybook}).apply(context.Background(), nil)
	t.Log(out)
	for _, h := range f.Hosts {
		row := recapOf(t, res.Recap, h.Name)
		state := h.Exec(t, "cat /srv/deployed /srv/after_install /srv/rolled_back /srv/audit /srv/reloads 2>/dev/null; true")
		if h == bad {
			if row.Status != report.StatusChanged || row.Tasks.Rescued != 1 || row.Tasks.Failed != 0 || row.Tasks.Skipped != 1 || row.Tasks.Changed != 3 {
				t.Errorf("%s: recap %+v, want changed with rescued=1 skipped=1 changed=3", h.Name, row)
			}
			if want := "rolled back\naudited\nreload\n"; state != want {
				t.Errorf("%s: state %q, want %q", h.Name, state, want)
			}
			continue
		}
		if row.Status != report.StatusChanged || row.Tasks.Rescued != 0 || row.Tasks.Changed != 4 || row.Tasks.Skipped != 1 {
			t.Errorf("%s: recap %+v, want changed=4 (install, after_install, audit, handler), rescue skipped", h.Name, row)
		}
		if want := "v2\nafter\naudited\nreload\n"; state != want {
			t.Errorf("%s: state %q, want %q", h.Name, state, want)
		}
	}
	if !strings.Contains(out, "rescued=1") || !strings.Contains(out, "block.deploy.rescue.file.rolled_back") {
		t.Errorf("the output does not show the rescue:\n%s", out)
	}

	out, res = newEngine(t, f, map[string]string{"site.hcl": blockPlaybook}).apply(context.Background(), nil)
	for _, h := range f.Hosts {
		row := recapOf(t, res.Recap, h.Name)
		if row.Status != report.StatusOK || row.Tasks.Changed != 0 {
			t.Errorf("second apply on %s: %+v\n%s", h.Name, row, out)
		}
		if n := strings.TrimSpace(h.Exec(t, "wc -l < /srv/reloads")); n != "1" {
			t.Errorf("%s: the handler ran again (%s reloads)", h.Name, n)
		}
	}
}

// conditionsPlaybook: results judged by conditions, a retried task and an
// ignored failure.
const conditionsPlaybook = `
play "web" {
  hosts = "fleet"

  shell "has_needle" {
    run          = "grep -q needle /etc/hostname"
    failed_when  = self.exit_code > 1
    changed_when = false
  }
  shell "active" {
    run          = "echo active"
    changed_when = "false"
  }
  shell "flaky" {
    run         = "n=$(cat /srv/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /srv/count; [ $n -ge 3 ] && touch /srv/flaky.done"
    creates     = "/srv/flaky.done"
    retries     = 5
    retry_delay = "50ms"
  }
  command "optional" {
    run        = ["false"]
    on_failure = "continue"
  }
  file "result" {
    path    = "/srv/result"
    content = "needle=${shell.has_needle.exit_code} optional=${command.optional.exit_code}\n"
  }
  file "flaky_ran" {
    path    = "/srv/flaky_ran"
    content = "ran\n"
    when    = shell.flaky.changed
  }
}
`

// TestFailureConditionsFleet: failed_when makes grep -q's exit 1 a success
// and changed_when = "false" reports ok; a command that succeeds on its
// third try shows three attempts in the JSON events; an ignored failure is
// reported ignored and its dependant runs with its exit_code. The second
// apply reports 0 changed.
func TestFailureConditionsFleet(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	var js bytes.Buffer
	out, res := newEngine(t, f, map[string]string{"site.hcl": conditionsPlaybook}).apply(context.Background(), report.NewJSON(&js, nil))
	t.Log(out)
	row := recapOf(t, res.Recap, h.Name)
	if row.Status != report.StatusChanged || row.Tasks.OK != 2 || row.Tasks.Changed != 3 || row.Tasks.Ignored != 1 || row.Tasks.Failed != 0 {
		t.Errorf("recap %+v, want ok=2 changed=3 ignored=1", row)
	}
	if got, want := h.Exec(t, "cat /srv/count /srv/result /srv/flaky_ran"), "3\nneedle=1 optional=1\nran\n"; got != want {
		t.Errorf("state %q, want %q", got, want)
	}
	type wire struct {
		Kind   string `json:"kind"`
		Task   string `json:"task"`
		Status string `json:"status"`
		Detail struct {
			Attempt int `json:"attempt"`
		} `json:"detail"`
	}
	var attempts []string
	statuses := map[string]string{}
	sc := bufio.NewScanner(&js)
	for sc.Scan() {
		var w wire
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("JSON line %q: %v", sc.Text(), err)
		}
		if w.Task == "shell.flaky" && w.Kind != "task_start" {
			attempts = append(attempts, w.Kind+":"+string(rune('0'+w.Detail.Attempt)))
		}
		if w.Kind == "task" {
			statuses[w.Task] = w.Status
		}
	}
	if got := strings.Join(attempts, " "); got != "task_retry:1 task_retry:2 task:3" {
		t.Errorf("flaky events %q, want two retries then the task at attempt 3", got)
	}
	if statuses["command.optional"] != "ignored" || statuses["shell.has_needle"] != "ok" || statuses["shell.active"] != "ok" {
		t.Errorf("statuses %v", statuses)
	}

	out, res = newEngine(t, f, map[string]string{"site.hcl": conditionsPlaybook}).apply(context.Background(), nil)
	if row := recapOf(t, res.Recap, h.Name); row.Tasks.Changed != 0 || row.Tasks.Ignored != 1 || row.Tasks.Skipped != 1 {
		t.Errorf("second apply: %+v\n%s", row, out)
	}
}

// TestFailureRescueFailsFleet: on the first of two hosts both the deploy
// and its rescue fail. The always task still runs there, the host ends
// failed (no handler runs), and with serial = 1 and max_fail = 0 the
// second host is not started.
func TestFailureRescueFailsFleet(t *testing.T) {
	f := integration.Start(t, 2)
	bad, held := f.Hosts[0], f.Hosts[1]
	bad.Exec(t, "touch /etc/drover-broken; mkdir -p /srv/rolled_back") // a directory where the rescue writes a file
	var log eventLog
	out, res := newEngine(t, f, map[string]string{"site.hcl": blockPlaybook}).apply(context.Background(), &log)
	t.Log(out)
	row := recapOf(t, res.Recap, bad.Name)
	if row.Status != report.StatusFailed || row.Tasks.Rescued != 1 || row.Tasks.Failed != 1 || row.Tasks.Changed != 1 {
		t.Errorf("%s: recap %+v, want failed with rescued=1 failed=1 changed=1 (always)", bad.Name, row)
	}
	if ev, _ := log.task(bad.Name, "block.deploy.rescue.file.rolled_back"); ev.Status != report.StatusFailed {
		t.Errorf("rescue task: %+v", ev)
	}
	if ev, ok := log.task(bad.Name, "handler.reload"); ok && ev.Status != report.StatusSkipped {
		t.Errorf("handler ran on the failed host: %+v", ev)
	}
	if got := bad.Exec(t, "cat /srv/audit; test -e /srv/reloads || echo no-reload"); got != "audited\nno-reload\n" {
		t.Errorf("%s: state %q", bad.Name, got)
	}
	if row := recapOf(t, res.Recap, held.Name); row.Status != report.StatusNotStarted {
		t.Errorf("%s: recap %+v, want not started (max_fail = 0)", held.Name, row)
	}
}
