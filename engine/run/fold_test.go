package run

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
)

// TestApplyFoldsHandlers: the play's last batch takes the handlers it
// notifies for sure (handler.first), up to the first whose notification is
// judged by a result (handler.second, notified by a changed_when task);
// the handlers still run once each, in declaration order. A failure in the
// batch stops it before the handler, which is then reported not run; a
// failure ignored lets the walk go on, and the handler runs after the
// tasks that follow it.
func TestApplyFoldsHandlers(t *testing.T) {
	for _, tc := range []struct {
		fail   string
		events string
		log    string
		trips  int64
	}{
		// The read; a, b, boom, soft, judged and handler.first; second;
		// out.
		{fail: "none", trips: 4, log: "first\nsecond\nout judged\n",
			events: "file.a=changed file.b=changed command.boom=changed command.soft=changed command.judged=changed handler.first=changed handler.second=changed handler.out=changed"},
		{fail: "stop", trips: 2, log: "",
			events: "file.a=changed file.b=changed command.boom=failed command.soft=skipped command.judged=skipped handler.first=skipped handler.second=skipped handler.out=skipped"},
		// The read; a, b, boom, soft (it stops the batch); judged and
		// handler.first; second; out.
		{fail: "continue", trips: 5, log: "first\nsecond\nout judged\n",
			events: "file.a=changed file.b=changed command.boom=changed command.soft=ignored command.judged=changed handler.first=changed handler.second=changed handler.out=changed"},
	} {
		t.Run(tc.fail, func(t *testing.T) {
			f := loadFixture(t, "testdata/apply_fold")
			f.vars = []string{"fail=" + tc.fail}
			var cc countingConns
			var ev events
			opts := f.options(&ev)
			opts.Connect = cc.connect
			if _, err := Apply(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ev.ev {
				if e.Kind == report.KindTask {
					got = append(got, e.Task+"="+string(e.Status))
				}
			}
			if g := strings.Join(got, " "); g != tc.events {
				t.Errorf("events:\n got %s\nwant %s", g, tc.events)
			}
			log, _ := os.ReadFile(filepath.Join(f.root, "log"))
			if string(log) != tc.log {
				t.Errorf("handlers ran: %q, want %q", log, tc.log)
			}
			if trips := cc.trips(); trips != tc.trips {
				t.Errorf("%d round trips; want %d", trips, tc.trips)
			}
		})
	}
}

// TestApplyFoldRebased: edits of one file go in one batch, each planned
// from what the one before it writes; the batch's handlers are those the
// plans it runs notify (line.two, rebased, has nothing left to do: its
// handler does not run), and the file ends as edited one by one.
func TestApplyFoldRebased(t *testing.T) {
	f := loadFixture(t, "testdata/apply_fold_edit")
	var cc countingConns
	var ev events
	opts := f.options(&ev)
	opts.Connect = cc.connect
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ev.ev {
		if e.Kind == report.KindTask {
			got = append(got, e.Task+"="+string(e.Status))
		}
	}
	if g, want := strings.Join(got, " "), "line.one=changed line.two=ok line.three=changed handler.first=changed"; g != want {
		t.Errorf("events:\n got %s\nwant %s", g, want)
	}
	for name, want := range map[string]string{"app.ini": "x = 1\ny = 2\n", "log": "first\n"} {
		if b, _ := os.ReadFile(filepath.Join(f.root, name)); string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	// The read; the three edits and the handler.
	if trips := cc.trips(); trips != 2 {
		t.Errorf("%d round trips; want 2", trips)
	}
	if _, err := Apply(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if trips := cc.trips(); trips != 1 {
		t.Errorf("second apply: %d round trips; want 1 (nothing to change)", trips)
	}
}
