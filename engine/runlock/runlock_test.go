package runlock

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
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

// TestSharedLock takes a lock file of a temporary directory over local
// shells, with flock and with the mkdir fallback: a session of the same run
// (StartShared, same holder line) does not wait and reports the lock
// shared, with the holder's key; another run's, or an exclusive Start,
// waits and is told busy; once released, StartShared holds it itself.
func TestSharedLock(t *testing.T) {
	for _, mode := range []string{"flock", "mkdir"} {
		t.Run(mode, func(t *testing.T) {
			TestDir = t.TempDir()
			t.Cleanup(func() { TestDir = "" })
			conn := localConn(t, mode == "mkdir")
			at := time.Now()
			run1 := Holder{User: "u", Controller: "c", PID: 1, Start: at, Run: "r1"}
			run2 := run1
			run2.Run = "r2"
			ctx := context.Background()
			owner, err := StartShared(ctx, conn, run1, time.Second).Wait()
			if err != nil || owner.Shared() || owner.Key() == "" {
				t.Fatalf("owner: %v shared %v key %q", err, owner != nil && owner.Shared(), keyOf(owner))
			}
			begin := time.Now()
			sharer, err := StartShared(ctx, conn, run1, 10*time.Second).Wait()
			if err != nil || !sharer.Shared() || sharer.Key() != owner.Key() {
				t.Fatalf("same run: %v shared %v key %q, want the owner's %q", err, sharer != nil && sharer.Shared(), keyOf(sharer), owner.Key())
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Errorf("the same run's session waited %s", d)
			}
			sharer.Release()
			for name, p := range map[string]*Pending{
				"another run": StartShared(ctx, conn, run2, time.Second),
				"exclusive":   Start(ctx, conn, run1, time.Second),
			} {
				if _, err := p.Wait(); !IsBusy(err) || !strings.Contains(err.Error(), "run r1") {
					t.Errorf("%s: %v, want busy with the holder", name, err)
				}
			}
			owner.Release()
			again, err := StartShared(ctx, conn, run1, time.Second).Wait()
			if err != nil || again.Shared() {
				t.Errorf("after release: %v shared %v", err, again != nil && again.Shared())
			}
			again.Release()
		})
	}
}

func keyOf(l *Lock) string {
	if l == nil {
		return ""
	}
	return l.Key()
}

// localConn is a local shell; without flock, PATH holds only what the
// mkdir fallback runs.
func localConn(t *testing.T, noFlock bool) transport.Conn {
	t.Helper()
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if !noFlock {
		if _, err := exec.LookPath("flock"); err != nil {
			t.Skip("no flock here")
		}
		return conn
	}
	dir := t.TempDir()
	for _, tool := range []string{"sh", "id", "cat", "head", "ls", "date", "mkdir", "rm", "sleep"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return pathConn{Conn: conn, path: dir}
}

type pathConn struct {
	transport.Conn
	path string
}

func (c pathConn) Run(ctx context.Context, cmd transport.Cmd) (transport.Result, error) {
	cmd.Command = "PATH=" + c.path + "; export PATH; " + cmd.Command
	return c.Conn.Run(ctx, cmd)
}
