package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

func bytesUpload(p string, mode os.FileMode, data []byte) contract.Upload {
	return contract.Upload{Path: p, Mode: mode, Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// TestApplyAll: consecutive plans run in one round trip, uploads included
// (inline, atomically, with their mode); a binary upload or a Func splits
// the script; a failure is attributed to its plan and stops the rest.
func TestApplyAll(t *testing.T) {
	dir := t.TempDir()
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tricky := "it's \"quoted\" $HOME `x` \\ \n%s %d\n\xff\xfe"
	p := func(name string) string { return filepath.Join(dir, name) }
	plans := []*contract.Plan{
		{Steps: []contract.Step{{Script: "mkdir -p " + p("sub")}}},
		{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p("sub/a.tmp"), 0o640, []byte(tricky))}, Script: "mv " + p("sub/a.tmp") + " " + p("sub/a") + "; echo moved a"}}},
		{}, // nothing to do
		{Steps: []contract.Step{{Script: "echo out; echo err >&2"}, {Script: "echo second"}}},
	}
	before := conn.Stats().RoundTrips
	res, err := ApplyAll(context.Background(), conn, plans)
	if err != nil {
		t.Fatal(err)
	}
	if trips := conn.Stats().RoundTrips - before; trips != 1 {
		t.Errorf("round trips = %d; want 1", trips)
	}
	for i, r := range res {
		if !r.Ran || r.Err != nil {
			t.Errorf("plan %d: %+v", i, r)
		}
	}
	if got := string(res[1].Result.Stdout); got != "moved a\n" {
		t.Errorf("plan 1 stdout = %q", got)
	}
	if got, gotErr := string(res[3].Result.Stdout), string(res[3].Result.Stderr); got != "out\nsecond\n" || gotErr != "err\n" {
		t.Errorf("plan 3 output = %q, %q", got, gotErr)
	}
	b, _ := os.ReadFile(p("sub/a"))
	st, _ := os.Stat(p("sub/a"))
	if string(b) != tricky || st == nil || st.Mode().Perm() != 0o640 {
		t.Errorf("sub/a = %q mode %v", b, st)
	}
	if left, _ := filepath.Glob(p("sub/.*drover*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Binary content and a Func split the script; a failure stops the rest.
	funcRan := false
	plans = []*contract.Plan{
		{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p("bin"), 0o600, []byte("a\x00b"))}}}},
		{Steps: []contract.Step{{Func: func(ctx context.Context, c transport.Conn) (transport.Result, error) {
			funcRan = true
			return transport.Result{Stdout: []byte("func\n")}, nil
		}}}},
		{Steps: []contract.Step{{Script: "echo before"}, {Script: "echo bad >&2; exit 3"}, {Script: "touch " + p("never")}}},
		{Steps: []contract.Step{{Script: "touch " + p("never2")}}},
	}
	res, err = ApplyAll(context.Background(), conn, plans)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p("bin")); string(b) != "a\x00b" || !funcRan {
		t.Errorf("bin = %q, func ran %v", b, funcRan)
	}
	var se *contract.StepError
	if !errors.As(res[2].Err, &se) || se.Step != 1 || se.ExitCode != 3 || se.Stderr != "bad" || string(res[2].Result.Stdout) != "before\n" {
		t.Errorf("plan 2: %+v %v", res[2], res[2].Err)
	}
	if res[3].Ran || fileExists(p("never")) || fileExists(p("never2")) {
		t.Errorf("work ran after the failure: %+v", res[3])
	}

	// An upload into a missing directory fails its plan with a clear error.
	res, _ = ApplyAll(context.Background(), conn, []*contract.Plan{{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p("missing/x"), 0o600, []byte("x"))}, Script: "touch " + p("never3")}}}})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "writing "+p("missing/x")) || fileExists(p("never3")) {
		t.Errorf("upload into a missing directory: %v", res[0].Err)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestApplyAllThenCheck: the state read after the plans goes at the end of
// their script (no round trip of its own) and sees what they did, path
// checks included; after a failed plan it does not run.
func TestApplyAllThenCheck(t *testing.T) {
	dir := t.TempDir()
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := func(name string) string { return filepath.Join(dir, name) }
	tasks := []contract.Task{
		fragOnly("cat " + p("a") + "; echo err >&2; exit 4"),
		pathTask{contract.PathCheck{Path: p("a"), FetchMax: 100}},
		fragOnly(""), // nothing to read
	}
	before := conn.Stats().RoundTrips
	res, checks, err := ApplyAllThenCheck(context.Background(), conn, []*contract.Plan{
		{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p("a"), 0o600, []byte("it's 'a'\n"))}}}},
		{Steps: []contract.Step{{Script: "echo more >>" + p("a")}}},
	}, tasks)
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatal(err, res)
	}
	if trips := conn.Stats().RoundTrips - before; trips != 1 {
		t.Errorf("round trips = %d; want 1", trips)
	}
	want := "it's 'a'\nmore\n"
	if len(checks) != 3 || string(checks[0].Stdout) != want || string(checks[0].Stderr) != "err\n" || checks[0].ExitCode != 4 {
		t.Fatalf("checks = %+v", checks)
	}
	if ps := checks[1].Path; ps == nil || ps.Type != "file" || string(ps.Content) != want {
		t.Errorf("path state = %+v", ps)
	}

	// A Func last: the read is a round trip of its own, after it.
	before = conn.Stats().RoundTrips
	_, checks, err = ApplyAllThenCheck(context.Background(), conn, []*contract.Plan{{Steps: []contract.Step{{Func: func(ctx context.Context, c transport.Conn) (transport.Result, error) {
		return c.Run(ctx, transport.Cmd{Command: "echo func >" + p("a")})
	}}}}}, tasks[:1])
	if err != nil || len(checks) != 1 || string(checks[0].Stdout) != "func\n" {
		t.Errorf("after a Func: %v %+v", err, checks)
	}
	if trips := conn.Stats().RoundTrips - before; trips != 2 {
		t.Errorf("round trips = %d; want 2", trips)
	}

	// A failed plan: no read.
	res, checks, err = ApplyAllThenCheck(context.Background(), conn, []*contract.Plan{{Steps: []contract.Step{{Script: "exit 3"}}}}, []contract.Task{fragOnly("touch " + p("read"))})
	if err != nil || res[0].Err == nil || checks != nil || fileExists(p("read")) {
		t.Errorf("after a failure: %v %+v %+v", err, res, checks)
	}
}

// TestApplyAllCut: when a batch's script is cut (the connection lost, or
// cancelled), the plan that was running gets the error and the plans
// before it completed.
func TestApplyAllCut(t *testing.T) {
	dir := t.TempDir()
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := func(name string) string { return filepath.Join(dir, name) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for !fileExists(p("started")) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	res, err := ApplyAll(ctx, conn, []*contract.Plan{
		{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p("a"), 0o600, []byte("a\n"))}}, {Script: "echo one"}}},
		{Steps: []contract.Step{{Script: "touch " + p("started") + "; sleep 60"}}},
		{Steps: []contract.Step{{Script: "touch " + p("never")}}},
	})
	if err == nil {
		t.Fatal("no error from a cut script")
	}
	if !res[0].Ran || res[0].Err != nil || !res[1].Ran || res[1].Err == nil || res[2].Ran || fileExists(p("never")) {
		t.Errorf("results: %+v", res)
	}
}
