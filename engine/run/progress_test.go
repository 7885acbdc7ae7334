package run

import (
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/report"
)

// TestTaskDurations: what each instance of a run segment reports as its
// time, and how it reads: the instances applied in one round trip share its
// time and say how many they were; the others did nothing here and report
// no time (never the µs between two events, never the batch's time charged
// to its first instance).
func TestTaskDurations(t *testing.T) {
	const d = 7900 * time.Millisecond
	tests := []struct {
		name string
		work []bool
		want []string // report.TaskTime of each instance
	}{
		{"alone", []bool{true}, []string{"in 7.9s"}},
		{"nothing to do", []bool{false}, []string{""}},
		{"a batch of 3", []bool{true, true, true}, []string{"in 7.9s, batch of 3", "in 7.9s, batch of 3", "in 7.9s, batch of 3"}},
		{"a batch with a skipped instance in it", []bool{true, false, true}, []string{"in 7.9s, batch of 2", "", "in 7.9s, batch of 2"}},
		{"one with work among instances without", []bool{false, true, false}, []string{"", "in 7.9s", ""}},
	}
	for _, tt := range tests {
		got := batchTimes(tt.work, d)
		for k, st := range got {
			if s := report.TaskTime(st.d, st.batch); s != tt.want[k] {
				t.Errorf("%s: instance %d reads %q, want %q", tt.name, k, s, tt.want[k])
			}
		}
	}
	if s := report.TaskTime(0, 3); s != "" {
		t.Errorf("no time with a batch reads %q, want nothing", s)
	}
}
