package shell

import (
	"os/exec"
	"testing"
)

var hostile = []string{
	"",
	"plain",
	"with space",
	"it's",
	`"double"`,
	"$(touch /tmp/pwned)",
	"`id`",
	"a;rm -rf /",
	"line1\nline2",
	"tab\there",
	"glob*?[a]",
	"~root",
	"-rf",
	"a=b",
	"back\\slash",
	"'; echo injected; '",
	"ünïcödé ☃",
	"\x01\x7f\xff",
	"$HOME ${PATH} $((1+1))",
	"a|b&c>d<e",
	"!history",
	"#comment",
}

// TestQuoteRoundTrip feeds each hostile value through a real /bin/sh and checks
// that it arrives byte for byte as a single argument.
func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range hostile {
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(v)).Output()
		if err != nil {
			t.Fatalf("sh failed for %q: %v", v, err)
		}
		if string(out) != v {
			t.Errorf("Quote(%q) round-tripped as %q", v, out)
		}
	}
}

func TestJoinKeepsWordBoundaries(t *testing.T) {
	out, err := exec.Command("/bin/sh", "-c", `for a in `+Join(hostile...)+`; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	start := 0
	for i, b := range out {
		if b == 0 {
			got = append(got, string(out[start:i]))
			start = i + 1
		}
	}
	if len(got) != len(hostile) {
		t.Fatalf("got %d words, want %d: %q", len(got), len(hostile), got)
	}
	for i := range hostile {
		if got[i] != hostile[i] {
			t.Errorf("word %d: got %q want %q", i, got[i], hostile[i])
		}
	}
}

func TestQuoteLeavesSafeWordsReadable(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/nginx/nginx.conf": "/etc/nginx/nginx.conf",
		"web-1.example.com":     "web-1.example.com",
		"-n":                    "'-n'",
		"a=b":                   "'a=b'",
		"it's":                  `'it'\''s'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for i := 0; i < len(v); i++ {
			if v[i] == 0 { // a NUL cannot be in an argv string at all
				return
			}
		}
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(v)).Output()
		if err != nil {
			t.Fatalf("sh failed for %q: %v", v, err)
		}
		if string(out) != v {
			t.Fatalf("Quote(%q) round-tripped as %q", v, out)
		}
	})
}
