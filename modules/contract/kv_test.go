package contract

import (
	"reflect"
	"testing"
)

func TestParseKV(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		vals    map[string]string
		blobs   map[string][]byte
		wantErr bool
	}{
		{name: "empty", out: "", vals: map[string]string{}, blobs: map[string][]byte{}},
		{name: "pairs", out: "a=1\nb=\nc=x y\n", vals: map[string]string{"a": "1", "b": "", "c": "x y"}, blobs: map[string][]byte{}},
		{name: "equals in value", out: "k=a=b==c\n", vals: map[string]string{"k": "a=b==c"}, blobs: map[string][]byte{}},
		{name: "later pair wins", out: "k=1\nk=2\n", vals: map[string]string{"k": "2"}, blobs: map[string][]byte{}},
		{name: "chatter skipped", out: "\nwarning: something\nk=v", vals: map[string]string{"k": "v"}, blobs: map[string][]byte{}},
		{name: "blob with newlines, NUL and a forged pair",
			out:   "blob f 16\nx=1\n\x00\nblob g 1\nz\nk=v\n",
			vals:  map[string]string{"k": "v"},
			blobs: map[string][]byte{"f": []byte("x=1\n\x00\nblob g 1\nz")}},
		{name: "empty blob", out: "blob f 0\n\nk=v\n", vals: map[string]string{"k": "v"}, blobs: map[string][]byte{"f": {}}},
		{name: "blob cut short", out: "blob f 10\nabc\n", wantErr: true},
		{name: "blob size not a number", out: "blob f x\n", wantErr: true},
		{name: "blob negative size", out: "blob f -1\n", wantErr: true},
		{name: "blob line without size", out: "blob f\n", wantErr: true},
		{name: "NUL in a pair refused", out: "k=a\x00b\n", wantErr: true},
		{name: "NUL in a key refused", out: "k\x00=v\n", wantErr: true},
		{name: "tail runs to the end, forged records included",
			out:   "k=v\ntail c\nx=1\nblob g 1\nz\x00\ntail d\n",
			vals:  map[string]string{"k": "v"},
			blobs: map[string][]byte{"c": []byte("x=1\nblob g 1\nz\x00\ntail d\n")}},
		{name: "empty tail", out: "tail c\n", vals: map[string]string{}, blobs: map[string][]byte{"c": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKV([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !reflect.DeepEqual(got.Vals, tt.vals) || !reflect.DeepEqual(got.Blobs, tt.blobs) {
				t.Errorf("got %q %q, want %q %q", got.Vals, got.Blobs, tt.vals, tt.blobs)
			}
		})
	}
}

func TestParseFacts(t *testing.T) {
	out := "tool.useradd=1\npasswd=app:x:990:990:App:/srv/app:/bin/sh\npasswd=root:x:0:0:root:/root:/bin/sh\ngroup=docker:x:998:alice\n"
	f, err := ParseFacts([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Tool("useradd") || f.Tool("usermod") {
		t.Errorf("tools: useradd %v usermod %v", f.Tool("useradd"), f.Tool("usermod"))
	}
	if e, ok := f.Passwd("app"); !ok || e != "app:x:990:990:App:/srv/app:/bin/sh" {
		t.Errorf("passwd app = %q %v", e, ok)
	}
	if _, ok := f.Passwd("root"); !ok {
		t.Error("passwd root missing: repeated passwd pairs must all count")
	}
	if _, ok := f.Passwd("docker"); ok {
		t.Error("a group entry read as a passwd entry")
	}
	if e, ok := f.Group("docker"); !ok || e != "docker:x:998:alice" {
		t.Errorf("group docker = %q %v", e, ok)
	}
	for _, bad := range []string{"hello\n", "other=1\n", "passwd=a:b\x00c\n", "blob f 1\nx\n"} {
		if _, err := ParseFacts([]byte(bad)); err == nil {
			t.Errorf("ParseFacts(%q): no error", bad)
		}
	}
}

func TestFactsFromKV(t *testing.T) {
	st, err := ParseKV([]byte("tool.groupadd=1\ngroup=docker:x:998:\nprimary=app\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := FactsOf(CheckOutput{}, st)
	if _, ok := f.Group("docker"); !ok || !f.Tool("groupadd") {
		t.Errorf("facts from a task's own check: %+v", f)
	}
	batched := &FactSet{}
	if FactsOf(CheckOutput{Facts: batched}, st) != batched {
		t.Error("FactsOf ignores the batched facts")
	}
}

func TestKVList(t *testing.T) {
	st, err := ParseKV([]byte("l.1=a\nl.2=b=c\nl.4=skipped\nm.1=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.List("l"); !reflect.DeepEqual(got, []string{"a", "b=c"}) {
		t.Errorf("List(l) = %q", got)
	}
	if got := st.List("none"); got != nil {
		t.Errorf("List(none) = %q", got)
	}
}
