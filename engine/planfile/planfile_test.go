package planfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
	"github.com/drover-cm/drover/modules/contract"
)

func samplePlan(t *testing.T) *Plan {
	t.Helper()
	p, err := New("v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	p.Command = Command{Playbooks: []string{"/pb/site.hcl"}, Inventories: []string{"/pb/inv.hcl"}, Limit: "web", Vars: []string{"port=80"}, Overrides: map[string]string{"user": "deploy"}}
	p.Files = []File{{Path: "/pb/site.hcl", Role: "playbook", Digest: "file ab"}}
	p.Inputs = []Input{{Name: "port", Source: "-var port", Value: []byte(`{"value":80,"type":"number"}`), Digest: "cd"}}
	p.Hosts = []Host{{Name: "web1", Plays: []Play{{Index: 0, Name: "web", Tasks: []Task{
		{Addr: "file.motd", Module: "file", State: "s1", StateSummary: "missing", ChangesDigest: "c1",
			Changes: []report.ChangeView{{Action: "create", Subject: "/etc/motd"}}},
		{Addr: "command.late", Module: "command", Deferred: true},
	}}}}}
	p.Summary = report.PlanSummary{Create: 1, Deferred: 1}
	return p
}

func TestRoundTrip(t *testing.T) {
	p := samplePlan(t)
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(Magic+"1\n")) {
		t.Fatalf("header: %q", data[:30])
	}
	got, err := Unmarshal("plan", data, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	// The same plan encodes to the same bytes (JSON values are
	// re-indented, times lose their location pointer: compare encodings).
	again, err := Marshal(got)
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("round trip (%v):\n got %s\nwant %s", err, again, data)
	}
	if got.Hosts[0].Plays[0].Tasks[0].Changes[0].Subject != "/etc/motd" || got.Command.Overrides["user"] != "deploy" {
		t.Errorf("decoded: %+v", got)
	}
	if !got.Changed() {
		t.Error("a plan with a create is Changed")
	}
}

func TestRefusals(t *testing.T) {
	good, err := Marshal(samplePlan(t))
	if err != nil {
		t.Fatal(err)
	}
	other := samplePlan(t)
	other.Drover = "v0.9.0"
	otherVersion, _ := Marshal(other)
	edit := func(from, to string) []byte { return bytes.Replace(good, []byte(from), []byte(to), 1) }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not a plan", []byte("play \"x\" {}\n"), "not a drover plan file"},
		{"empty", []byte("\n"), "not a drover plan file"},
		{"format from the future", edit(Magic+"1\n", Magic+"2\n"), "a plan of file format 2; this drover (v1.2.3) reads format 1 only"},
		{"another drover", otherVersion, "made by drover v0.9.0; this is drover v1.2.3"},
		{"tampered", edit(`"subject": "/etc/motd"`, `"subject": "/etc/shadow"`), "was modified after drover wrote it"},
		{"truncated", good[:len(good)-80], "truncated"},
		{"checksum line removed", good[:bytes.LastIndex(good[:len(good)-1], []byte("\n"))+1], "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal("plan.drover", tc.data, "v1.2.3")
			var fe *FormatError
			if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unmarshal = %v; want a FormatError containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "plan.drover: ") {
				t.Errorf("the error does not name the file: %v", err)
			}
		})
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	d := NewDigester([]byte("0123456789abcdef"))
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	site := write("site.hcl", "play {}")
	tmpl := write("tree/a.tftpl", "a")
	gone := write("gone", "x")
	var files []File
	for _, p := range []string{site, filepath.Join(dir, "tree"), gone, filepath.Join(dir, "new")} {
		dg, err := d.Path(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Path: p, Role: "local", Digest: dg})
	}
	if files[3].Digest != "absent" || !strings.HasPrefix(files[1].Digest, "tree ") || !strings.HasPrefix(files[0].Digest, "file ") {
		t.Fatalf("digests: %+v", files)
	}
	if err := d.CheckFiles(files); err != nil {
		t.Fatalf("unchanged files: %v", err)
	}
	write("tree/a.tftpl", "b")
	_ = tmpl
	os.Remove(gone)
	write("new", "n")
	err := d.CheckFiles(files)
	var ce *ChangedFileError
	if !errors.As(err, &ce) || len(ce.Files) != 3 {
		t.Fatalf("CheckFiles = %v; want 3 changed", err)
	}
	for _, want := range []string{filepath.Join(dir, "tree") + " (modified)", gone + " (removed)", filepath.Join(dir, "new") + " (created)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	// The plan file itself, saved in a directory the plan reads, is not
	// part of its digest.
	tree := filepath.Join(dir, "tree")
	before, _ := d.Path(tree)
	write("tree/site.plan", "plan")
	if after, _ := d.Skipping(filepath.Join(tree, "site.plan")).Path(tree); after != before {
		t.Error("the plan file changes the digest of the directory it is in")
	}
	// Another key, other digests: a digest means nothing outside its plan.
	if other, _ := NewDigester([]byte("fedcba9876543210")).Path(site); other == files[0].Digest {
		t.Error("digests do not depend on the key")
	}
}

func TestStateDigest(t *testing.T) {
	d := NewDigester([]byte("0123456789abcdef"))
	base := contract.CheckOutput{Stdout: []byte("state=active\n")}
	same := d.State(base, nil)
	for _, tc := range []struct {
		name  string
		out   contract.CheckOutput
		facts []string
	}{
		{"stdout", contract.CheckOutput{Stdout: []byte("state=inactive\n")}, nil},
		{"exit code", contract.CheckOutput{Stdout: base.Stdout, ExitCode: 1}, nil},
		{"path state", contract.CheckOutput{Stdout: base.Stdout, Path: &contract.PathState{Type: "file", Mode: 0o644}}, nil},
		{"facts", base, []string{"passwd app true=app:x:1000:1000::/home/app:/bin/sh"}},
	} {
		if d.State(tc.out, tc.facts) == same {
			t.Errorf("%s: the state digest does not change", tc.name)
		}
	}
	if d.State(contract.CheckOutput{Stdout: []byte("state=active\n")}, nil) != same {
		t.Error("the state digest is not stable")
	}
}

func TestCompare(t *testing.T) {
	saved := []Task{
		{Addr: "file.a", Module: "file", State: "s1", ChangesDigest: "c1", StateSummary: "missing", Changes: []report.ChangeView{{Action: "create", Subject: "/a"}}},
		{Addr: "file.b", Module: "file", State: "s2", ChangesDigest: "c2"},
		{Addr: "command.c", Module: "command", Deferred: true},
		{Addr: "file.gone", Module: "file", State: "s4"},
	}
	now := []Task{
		{Addr: "file.a", Module: "file", State: "s1x", ChangesDigest: "", StateSummary: "file 0644 root:root 3 bytes"},
		{Addr: "file.b", Module: "file", State: "s2", ChangesDigest: "c2x"},
		{Addr: "command.c", Module: "command", Deferred: true},
		{Addr: "file.new", Module: "file", State: "s5"},
	}
	never := func(string) bool { return false }
	moved := Compare(saved, now, never)
	var got []string
	for _, m := range moved {
		got = append(got, m.Task+": "+m.Why)
	}
	want := []string{
		"file.a: the host's state moved",
		"file.b: the changes differ (the state read is the same: a value the task is made from, such as a fact, moved)",
		"file.gone: the task is no longer in the play on this host",
		"file.new: a task the plan did not have",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Compare:\n got %q\nwant %q", got, want)
	}
	if m := moved[0]; m.Old != "state: missing; plan: create /a" || m.New != "state: file 0644 root:root 3 bytes; plan: no change" {
		t.Errorf("file.a in words: %q → %q", m.Old, m.New)
	}
	// A state an earlier play may have moved is not held against the plan.
	exempt := func(a string) bool { return a == "file.a" }
	if m := Compare(saved[:1], now[:1], exempt); len(m) != 0 {
		t.Errorf("exempt task refused: %+v", m)
	}
	if m := Compare(saved[1:3], now[1:3], never); len(m) != 1 {
		t.Errorf("deferred tasks: %+v", m)
	}
	se := &StaleError{Host: "web1", Play: "web", Moved: moved[:1]}
	for _, s := range []string{`refused: the saved plan no longer holds on this host (play "web")`, "- planned: state: missing", "+ now:     state: file 0644", "--replan"} {
		if !strings.Contains(se.Error(), s) {
			t.Errorf("StaleError %q does not say %q", se, s)
		}
	}
}
