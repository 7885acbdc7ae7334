package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// pathTask is a PathChecker whose Check must never run.
type pathTask struct{ pc contract.PathCheck }

func (p pathTask) Check() string                                     { return "echo Check-ran; exit 99" }
func (p pathTask) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }
func (p pathTask) CheckPath() contract.PathCheck                     { return p.pc }

// fragOnly is a Task with a fixed fragment.
type fragOnly string

func (f fragOnly) Check() string                                     { return string(f) }
func (f fragOnly) Diff(contract.CheckOutput) (*contract.Plan, error) { return nil, nil }

// TestCheckAllPaths reads paths with hostile names (newline, backslash,
// quotes, $(), glob characters, a leading "-" in a component) in one batch
// with every shell, busybox with its applets only, beside ordinary
// fragments, and checks every field against the file system.
func TestCheckAllPaths(t *testing.T) {
	dir := t.TempDir()
	hostile := []string{"it's \"$(touch pwned)\" `id`; a\nb ü $HOME *", `back\slash`, "-rf", "trail\n", "plain"}
	var tasks []contract.Task
	content := map[string][]byte{}
	for i, n := range hostile {
		p := filepath.Join(dir, n)
		c := []byte(strings.Repeat(n, i+1))
		if err := os.WriteFile(p, c, 0o640); err != nil {
			t.Fatal(err)
		}
		content[p] = c
		// Wanted content differs: fetched.
		tasks = append(tasks, pathTask{contract.PathCheck{Path: p, Sum: true, FetchMax: 1 << 10, UnlessSum: hexSum("other")}})
		// Already right: not fetched.
		tasks = append(tasks, pathTask{contract.PathCheck{Path: p, Sum: true, FetchMax: 1 << 10, UnlessSum: hexSum(string(c))}})
	}
	sub := filepath.Join(dir, "sub dir")
	os.Mkdir(sub, 0o750)
	os.Symlink("plain", filepath.Join(dir, "link"))
	big := filepath.Join(dir, "big")
	os.WriteFile(big, []byte(strings.Repeat("x", 2000)), 0o600)
	tasks = append(tasks,
		pathTask{contract.PathCheck{Path: sub}},
		pathTask{contract.PathCheck{Path: filepath.Join(dir, "link"), Sum: true}},
		pathTask{contract.PathCheck{Path: filepath.Join(dir, "missing"), Sum: true, FetchMax: 10}},
		fragOnly("echo frag"),
		pathTask{contract.PathCheck{Path: big, FetchMax: 1000}}, // too large: not fetched
		pathTask{contract.PathCheck{Path: "/dev/null"}},
	)
	for name, conn := range shconn.All(t) {
		t.Run(name, func(t *testing.T) {
			outs, err := CheckAll(context.Background(), conn, tasks)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range hostile {
				p := filepath.Join(dir, n)
				for j, fetched := range []bool{true, false} {
					o := outs[2*i+j]
					if o.Path == nil || o.ExitCode != 0 {
						t.Fatalf("%q: %+v", n, o)
					}
					s := o.Path
					if s.Type != "file" || s.Mode != 0o640 || s.Size != int64(len(content[p])) || s.SHA256 != hexSum(string(content[p])) || s.User == "" || s.UID != strings.TrimSpace(uidOf(t, p)) {
						t.Errorf("%q: state %+v", n, *s)
					}
					if s.HasContent != fetched || (fetched && string(s.Content) != string(content[p])) {
						t.Errorf("%q: content %q (has %v), want fetched=%v", n, s.Content, s.HasContent, fetched)
					}
				}
			}
			rest := outs[2*len(hostile):]
			if s := rest[0].Path; s == nil || s.Type != "dir" || s.Mode != 0o750 {
				t.Errorf("directory: %+v", rest[0])
			}
			if s := rest[1].Path; s == nil || s.Type != "link" || s.SHA256 != "" {
				t.Errorf("link: %+v", rest[1])
			}
			if s := rest[2].Path; s == nil || s.Type != "missing" || s.HasContent {
				t.Errorf("missing: %+v", rest[2])
			}
			if string(rest[3].Stdout) != "frag\n" || rest[3].Path != nil {
				t.Errorf("fragment: %+v", rest[3])
			}
			if s := rest[4].Path; s == nil || s.Type != "file" || s.Size != 2000 || s.HasContent {
				t.Errorf("big: %+v", rest[4])
			}
			if s := rest[5].Path; s == nil || s.Type != "other" {
				t.Errorf("/dev/null: %+v", rest[5])
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Fatal("a hostile name was executed")
			}
		})
	}
}

func uidOf(t *testing.T, p string) string {
	out, err := exec.Command("stat", "-c", "%u", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestParseSums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	files := []string{"/x/one", "/x/unreadable", "/x/new\nline", `/x/back\slash`}
	tests := []struct {
		name, out string
		want      map[string]string
	}{
		{"gnu", a + "  /x/one\n\\" + b + "  /x/new\\nline\n\\" + a + `  /x/back\\slash` + "\n",
			map[string]string{"/x/one": a, "/x/new\nline": b, `/x/back\slash`: a}},
		{"busybox", a + "  /x/one\n" + b + "  /x/new\nline\n" + a + "  /x/back\\slash\n",
			map[string]string{"/x/one": a, "/x/new\nline": b, `/x/back\slash`: a}},
		// A line for a name not asked for cannot be taken for another's.
		{"foreign line", a + "  /x/other\n" + b + "  /x/one\n", map[string]string{}},
		{"cut short", a + "  /x/one\n" + b[:10], map[string]string{"/x/one": a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseSums([]byte(tt.out), files)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%q: %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestPathBatchParse: the fallback after a failed batched stat, a path that
// vanished, and malformed output.
func TestPathBatchParse(t *testing.T) {
	pb := newPathBatch()
	pb.add(0, contract.PathCheck{Path: "/a", Sum: true})
	pb.add(1, contract.PathCheck{Path: "/gone"})
	pb.add(2, contract.PathCheck{Path: "/d"})
	a := strings.Repeat("a", 64)
	out := "types ffd\nstale 2 0 0\n644 0 0 root root 3\nrestat\n644 0 0 root root 3\n?\n755 1 2 u g 4096\nsums\n" + a + "  /a\n.\n"
	st, err := pb.parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if st["/a"].SHA256 != a || st["/a"].Size != 3 || st["/gone"] != nil || st["/d"].Mode != 0o755 || st["/d"].User != "u" || st["/a"].Stale != 2 {
		t.Errorf("states %+v %+v %+v", st["/a"], st["/gone"], st["/d"])
	}
	outs := make([]contract.CheckOutput, 3)
	pb.outputs([]contract.CheckOutput{{Stdout: []byte(out), Stderr: []byte("stat: cannot statx '/gone': No such file or directory\n")}}, outs)
	if outs[1].ExitCode == 0 || !strings.Contains(string(outs[1].Stderr), "No such file") || outs[0].Path == nil {
		t.Errorf("outputs %+v", outs)
	}
	for _, bad := range []string{
		"",
		"types f\nstale 0\nsums\n.\n", // too few types
		"types ffd\nstale 0 0\n644 0 0 root root 3\n644 0 0 root root 3\n755 1 2 u g 4096\nsums\n.\n", // too few counts
		"types ffd\nstale 0 0 0\n644 0 0 root root 3\nsums\n.\n",                                      // too few stat lines
		"types ffd\nstale 0 0 0\n644 0 0 root root 3\n644 0 0 root root 3\n755 0 0 root\nsums\n.\n",
		"types ffd\nstale 0 0 0\n644 0 0 root root 3\n644 0 0 root root 3\n755 1 2 u g 4096\nsums\n", // no end
	} {
		if _, err := pb.parse([]byte(bad)); err == nil {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

// TestPathBatchShellcheck lints the batch script with a prelude when
// shellcheck is installed.
func TestPathBatchShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed")
	}
	pb := newPathBatch()
	pb.add(0, contract.PathCheck{Path: "/srv/it's $(x) `y`;\nz", Sum: true, FetchMax: 100, UnlessSum: strings.Repeat("a", 64)})
	pb.add(1, contract.PathCheck{Path: "/srv/d"})
	pb.add(2, contract.PathCheck{Path: "/srv/l", FetchMax: 1000})
	// SC2016: the quoted path holds $(x) on purpose.
	cmd := exec.Command(sc, "-s", "sh", "-e", "SC2016", "-")
	cmd.Stdin = strings.NewReader(checkScript("drover-0", []string{"echo hi"}, pb))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func hexSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
