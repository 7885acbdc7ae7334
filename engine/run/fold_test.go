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
