package shell

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a b  c", want: []string{"a", "b", "c"}},
		{in: "  \t\n", want: nil},
		{in: `'a b' "c d" e\ f`, want: []string{"a b", "c d", "e f"}},
		{in: `'it'\''s'`, want: []string{"it's"}},
		{in: `"a \"q\" \$x \` + "`" + `y\` + "`" + ` \\ \n"`, want: []string{`a "q" $x ` + "`y`" + ` \ \n`}},
		{in: `'$HOME' "$(x)"`, err: `"$"`},
		{in: `'$HOME' '$(x)' '*'`, want: []string{"$HOME", "$(x)", "*"}},
		{in: `a""b ''`, want: []string{"ab", ""}},
		{in: "a\\\nb", want: []string{"ab"}},
		{in: `x=1 y~z a#b`, want: []string{"x=1", "y~z", "a#b"}},
		{in: `ls *.go`, err: `"*"`},
		{in: `~/bin`, err: `"~"`},
		{in: `a #comment`, err: `"#"`},
		{in: `a;b`, err: `";"`},
		{in: `a > b`, err: `">"`},
		{in: `a && b`, err: `"&"`},
		{in: "'open", err: "unterminated single quote"},
		{in: `"open`, err: "unterminated double quote"},
		{in: `a\`, err: "backslash ends"},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %q, %v; want error with %s", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
