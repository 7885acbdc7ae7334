package runlock

import (
	"strings"
	"testing"
	"time"
)

func TestHolderString(t *testing.T) {
	at := time.Date(2026, 12, 2, 0, 10, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    Holder
		want string
	}{
		{Holder{User: "alice", Controller: "ctl", PID: 42, Start: at, Playbook: "/p/site.hcl"}, "alice@ctl pid 42 since 2026-12-02T00:10:00Z playbook /p/site.hcl"},
		{Holder{User: "bob", Controller: "c", PID: 1, Start: at}, "bob@c pid 1 since 2026-12-02T00:10:00Z"},
		// The holder file is read back as one line.
		{Holder{User: "x", Controller: "c", PID: 1, Start: at, Playbook: "a\nb"}, "x@c pid 1 since 2026-12-02T00:10:00Z playbook a b"},
	} {
		if got := tc.h.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestBusyError(t *testing.T) {
	for _, tc := range []struct {
		holder, want string
	}{
		{"alice@ctl pid 42", "locked by alice@ctl pid 42"},
		{"", "locked by another run (holder unknown)"},
	} {
		err := error(&BusyError{Holder: tc.holder, Wait: time.Second})
		if !IsBusy(err) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v", tc.holder, err)
		}
	}
}
