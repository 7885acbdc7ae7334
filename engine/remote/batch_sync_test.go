package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/engine/transport/transporttest"
	"github.com/drover-cm/drover/modules/contract"
)

// TestApplyAllSyncsInlineUploads: drover_put fsyncs an inline upload's
// temporary file before the rename and its directory after.
func TestApplyAllSyncsInlineUploads(t *testing.T) {
	log := transporttest.FakeSync(t, "f")
	conn, err := transport.Local{}.Connect(context.Background(), transport.Target{Name: "local", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := filepath.Join(t.TempDir(), "f")
	res, err := ApplyAll(context.Background(), conn, []*contract.Plan{{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p, 0o644, []byte("new"))}}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	got, _ := os.ReadFile(log)
	transporttest.CheckSyncOrder(t, got, p, "new")

	// Two uploads in one directory: each file synced, the directory once,
	// after both renames.
	os.Remove(log)
	g := filepath.Join(filepath.Dir(p), "g")
	res, err = ApplyAll(context.Background(), conn, []*contract.Plan{{Steps: []contract.Step{{Uploads: []contract.Upload{bytesUpload(p, 0o644, []byte("newer")), bytesUpload(g, 0o644, []byte("g"))}}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	got, _ = os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], " newer") || !strings.HasSuffix(lines[1], " g") || lines[2] != "dir "+filepath.Dir(p)+" newer" {
		t.Fatalf("sync calls:\n%s", got)
	}
}
