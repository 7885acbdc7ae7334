package modules

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// TestStatFragmentHostileNames runs the path checks' own fragments
// (statFragment, symlink's Check) in every local POSIX shell on paths whose
// names hold newlines, quotes and "=", a file whose content forges KV
// records and a link whose target does, and reads them back with
// parseRemote: every byte comes back, no content becomes a key.
func TestStatFragmentHostileNames(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a\nb='c=d\"")
	content := "type=missing\nsha256=0\ntail target\nblob x 3\nabc\n"
	link := filepath.Join(dir, "l=\n'k")
	target := "t\n=x\ntype=file\n"
	empty := filepath.Join(dir, "e\n=1")
	if err := os.WriteFile(file, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	tests := []struct {
		name, script string
		want         remoteFile
	}{
		{"file with content", statFragment(file, true, 1000), remoteFile{Type: "file", Mode: 0o640, Size: int64(len(content)),
			SHA256: hex.EncodeToString(sum[:]), Content: []byte(content), HasContent: true}},
		{"file already right: no content", statFragment(file, true, 1000, hex.EncodeToString(sum[:])), remoteFile{Type: "file", Mode: 0o640,
			Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}},
		{"link", (&symlinkTask{Path: link}).Check(), remoteFile{Type: "link", LinkTarget: target}},
		{"empty dir", (&symlinkTask{Path: empty}).Check(), remoteFile{Type: "dir", Empty: true}},
		{"dir", statFragment(empty, false, 0), remoteFile{Type: "dir", Mode: 0o700, Size: -1}},
		{"missing", statFragment(file+"x", false, 0), remoteFile{Type: "missing"}},
	}
	for shName, argv := range shconn.Shells() {
		for _, tt := range tests {
			t.Run(shName+"/"+tt.name, func(t *testing.T) {
				cmd := exec.Command(argv[0], append(argv[1:], tt.script)...)
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%v: %q", err, out)
				}
				got, err := parseRemote(contract.CheckOutput{Stdout: out})
				if err != nil {
					t.Fatal(err)
				}
				// Accounts and a directory's size depend on the machine.
				got.UID, got.GID, got.User, got.Group = "", "", "", ""
				if tt.want.Size < 0 {
					got.Size, tt.want.Size = -1, -1
				}
				if string(got.Content) != string(tt.want.Content) || got.HasContent != tt.want.HasContent ||
					got.Type != tt.want.Type || got.Mode != tt.want.Mode || got.Size != tt.want.Size ||
					got.SHA256 != tt.want.SHA256 || got.LinkTarget != tt.want.LinkTarget || got.Empty != tt.want.Empty {
					t.Errorf("got  %+v\nwant %+v\noutput %q", got, tt.want, out)
				}
			})
		}
	}
}

// TestInstallUpload: a file that keeps the uploader as owner and whose mode
// gives no one else write access and has no special bit is uploaded with
// that mode, and installed without a chmod; any other is uploaded 0600
// and gets its mode after the chown.
func TestInstallUpload(t *testing.T) {
	for _, tc := range []struct {
		owner    string
		mode     uint32
		upload   fs.FileMode
		installs string
	}{
		{"", 0o644, 0o644, "drover_install .a.tmp a '' ''"},
		{"", 0o600, 0o600, "drover_install .a.tmp a '' ''"},
		{"", 0o755, 0o755, "drover_install .a.tmp a '' ''"},
		{"", 0o664, 0o600, "drover_install .a.tmp a '' 0664"},  // group-writable
		{"", 0o4755, 0o600, "drover_install .a.tmp a '' 4755"}, // setuid
		{"app", 0o644, 0o600, "drover_install .a.tmp a app 0644"},
		{":grp", 0o640, 0o600, "drover_install .a.tmp a :grp 0640"},
	} {
		up, script := installUpload("/srv/.a.tmp", "/srv/a", tc.owner, tc.mode, nil, 1)
		if up.Mode != tc.upload || up.Path != "/srv/.a.tmp" {
			t.Errorf("%q %04o: upload %+v; want mode %04o", tc.owner, tc.mode, up, tc.upload)
		}
		if want := "drover_cd /srv\n" + tc.installs + "\n"; script != want {
			t.Errorf("%q %04o: script %q; want %q", tc.owner, tc.mode, script, want)
		}
	}
}
