package inventory

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func FuzzPyLiteral(f *testing.F) {
	for _, s := range []string{"22", "[1, 'a', {'k': (1, 2)}]", "0x1F", "'unterminated", "1e", "{'a':}", "None # c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v := pyLiteral(s); v == cty.NilVal {
			t.Fatalf("pyLiteral(%q) returned no value", s)
		}
	})
}

func FuzzExpandHostPattern(f *testing.F) {
	for _, s := range []string{"web[01:10:2].example.com:22", "[::1]:22", "[a:c][1:3]", "x[", "x]", "[9:1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names, _, err := expandHostPattern(s)
		if err == nil && len(names) == 0 {
			t.Fatalf("%q: no names and no error", s)
		}
		if len(names) > maxRangeHosts {
			t.Fatalf("%q: %d names", s, len(names))
		}
	})
}

func TestINICRLF(t *testing.T) {
	dir := writeFiles(t, map[string]string{"hosts": strings.ReplaceAll("[web]\nweb1 a=1\n[web:vars]\nb=2\n", "\n", "\r\n")})
	h := mustHost(t, mustLoad(t, dir+"/hosts"), "web1")
	if varString(h, "a") != "1" || varString(h, "b") != "2" {
		t.Errorf("vars = %v", h.Vars)
	}
}

func TestPyLiteralDeepNesting(t *testing.T) {
	s := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if v := pyLiteral(s); v.Type() != cty.String {
		t.Errorf("deep nesting = %s, want the string", v.Type().FriendlyName())
	}
	s = strings.Repeat("[", 10) + strings.Repeat("]", 10)
	if v := pyLiteral(s); v.Type() == cty.String {
		t.Error("shallow nesting should parse")
	}
}
