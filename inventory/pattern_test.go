package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	inv := mustLoad(t, "testdata/patterns.ini")
	all := []string{"web1", "web2", "web3.example.com", "db1", "db2", "lb1.example.com"}
	tests := []struct {
		pattern   string
		want      []string
		unmatched []string
	}{
		{pattern: "all", want: all},
		{pattern: "*", want: all},
		{pattern: "web", want: []string{"web1", "web2", "web3.example.com"}},
		{pattern: "frontend", want: []string{"web1", "web2", "web3.example.com"}}, // through a child group
		{pattern: "db1", want: []string{"db1"}},
		{pattern: "web*", want: []string{"web1", "web2", "web3.example.com"}},
		{pattern: "*.example.com", want: []string{"web3.example.com", "lb1.example.com"}},
		{pattern: "web?", want: []string{"web1", "web2"}},
		{pattern: "db[1]", want: []string{"db2"}}, // a subscript, as in Ansible: not a glob set
		{pattern: "db[12]", want: nil, unmatched: []string{"db[12]"}},
		{pattern: "db[!1]*", want: []string{"db2"}},
		{pattern: "~web[0-9]+", want: []string{"web1", "web2", "web3.example.com"}}, // re.match: anchored at the start only
		{pattern: "~(db|lb)1", want: []string{"db1", "lb1.example.com"}},
		{pattern: "web:db", want: []string{"web1", "web2", "web3.example.com", "db1", "db2"}},
		{pattern: "db,web1", want: []string{"web1", "db1", "db2"}}, // inventory order, not pattern order
		{pattern: "web:&prod", want: []string{"web1"}},
		{pattern: "web:!prod", want: []string{"web2", "web3.example.com"}},
		{pattern: "!prod:web", want: []string{"web2", "web3.example.com"}}, // exclusions apply last
		{pattern: "&staging:web:db", want: []string{"web2", "db2"}},        // intersections after unions
		{pattern: "web:db:&prod:!db1", want: []string{"web1"}},
		{pattern: "web,db,&staging,!web2", want: []string{"db2"}},
		{pattern: "!web", want: []string{"db1", "db2", "lb1.example.com"}}, // only exclusions: from all
		{pattern: "&prod", want: []string{"web1", "db1"}},
		{pattern: "~web.*,&prod", want: []string{"web1"}},
		{pattern: "web[0]", want: []string{"web1"}},
		{pattern: "web[-1]", want: []string{"web3.example.com"}},
		{pattern: "web[1:]", want: []string{"web2", "web3.example.com"}},
		{pattern: "web[0:1]", want: []string{"web1", "web2"}},
		{pattern: "web[7]", want: nil, unmatched: []string{"web[7]"}},
		{pattern: " web1 , db2 ", want: []string{"web1", "db2"}},
		{pattern: "nope", want: nil, unmatched: []string{"nope"}},
		{pattern: "web1:nope:!nada", want: []string{"web1"}, unmatched: []string{"nope", "!nada"}},
		{pattern: "localhost", want: []string{"localhost"}}, // implicit
		{pattern: "all:localhost", want: append(slices.Clone(all), "localhost")},
		{pattern: "local*", want: nil, unmatched: []string{"local*"}},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			hosts, err := inv.Select(tc.pattern)
			var um *UnmatchedError
			if tc.unmatched != nil {
				if !errors.As(err, &um) || !slices.Equal(um.Terms, tc.unmatched) {
					t.Errorf("err = %v, want unmatched %q", err, tc.unmatched)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
			if got := names(hosts); !slices.Equal(got, orEmpty(tc.want)) {
				t.Errorf("Select(%q) = %v, want %v", tc.pattern, got, tc.want)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestSelectErrors(t *testing.T) {
	inv := mustLoad(t, "testdata/patterns.ini")
	for _, p := range []string{"~web[", "", " , "} {
		hosts, err := inv.Select(p)
		var pe *PatternError
		if !errors.As(err, &pe) || hosts != nil {
			t.Errorf("Select(%q) = %v, %v; want a PatternError", p, names(hosts), err)
		}
	}
	_, err := inv.Select("web:nope")
	if err == nil || err.Error() != `host pattern "web:nope": no host matched "nope"` {
		t.Errorf("message = %v", err)
	}
}

func TestSelectLimit(t *testing.T) {
	inv := mustLoad(t, "testdata/patterns.ini")
	dir := t.TempDir()
	retry := filepath.Join(dir, "site.retry")
	if err := os.WriteFile(retry, []byte("web2\n\ndb1\n# comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern, limit string
		want           []string
		unmatched      []string
		fail           bool
	}{
		{pattern: "all", limit: "", want: []string{"web1", "web2", "web3.example.com", "db1", "db2", "lb1.example.com"}},
		{pattern: "all", limit: "web", want: []string{"web1", "web2", "web3.example.com"}},
		{pattern: "web", limit: "prod:staging", want: []string{"web1", "web2"}},
		{pattern: "web", limit: "!prod", want: []string{"web2", "web3.example.com"}},
		{pattern: "all", limit: "@" + retry, want: []string{"web2", "db1"}},
		{pattern: "web", limit: "@" + retry, want: []string{"web2"}},
		{pattern: "web", limit: "db1,@" + retry, want: []string{"web2"}},
		{pattern: "web", limit: "nope", want: nil, unmatched: []string{"nope"}},
		{pattern: "web:zip", limit: "nope", want: nil, unmatched: []string{"zip", "nope"}},
		{pattern: "web", limit: "@" + filepath.Join(dir, "missing"), fail: true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+"/"+tc.limit, func(t *testing.T) {
			hosts, err := inv.SelectLimit(tc.pattern, tc.limit)
			if tc.fail {
				var pe *PatternError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), "limit file") {
					t.Errorf("err = %v, want a PatternError about the limit file", err)
				}
				return
			}
			var um *UnmatchedError
			if tc.unmatched != nil {
				if !errors.As(err, &um) || !slices.Equal(um.Terms, tc.unmatched) {
					t.Errorf("err = %v, want unmatched %q", err, tc.unmatched)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
			if got := names(hosts); !slices.Equal(got, orEmpty(tc.want)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitPattern(t *testing.T) {
	tests := map[string][]string{
		"a:b":              {"a", "b"},
		"a,b":              {"a", "b"},
		"a:&b:!c":          {"a", "&b", "!c"},
		"web[1:3]:db":      {"web[1:3]", "db"},
		"~x:y,z":           {"~x:y", "z"},
		"::1":              {"::1"},
		"[::1],web":        {"[::1]", "web"},
		"a:b,c":            {"a", "b", "c"},
		"@/tmp/a:b":        {"@/tmp/a:b"},
		"":                 nil,
		"x::y":             {"x", "y"},
		"a::b":             {"a::b"}, // a valid IPv6 address
		"~web[0-9]+:&prod": {"~web[0-9]+", "&prod"},
	}
	for in, want := range tests {
		var got []string
		for _, t := range splitPattern(in) {
			got = append(got, t.text)
		}
		if !slices.Equal(got, want) {
			t.Errorf("splitPattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSelect(f *testing.F) {
	for _, s := range []string{"all", "web:&prod:!db1", "~web[0-9]+", "web[0:1]", "*.example.com", "a,b,&c", "db[!1]*", "[", "~(", "web[-1]"} {
		f.Add(s)
	}
	inv, diags := Load([]string{"testdata/patterns.ini"}, LoadOptions{SSHConfigPath: "none"})
	if diags.HasErrors() {
		f.Fatal(diags)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		hosts, err := inv.Select(pattern)
		var pe *PatternError
		if errors.As(err, &pe) && hosts != nil {
			t.Fatalf("PatternError with hosts")
		}
		seen := map[*Host]bool{}
		for _, h := range hosts {
			if seen[h] {
				t.Fatalf("Select(%q) returned %s twice", pattern, h.Name)
			}
			seen[h] = true
		}
	})
}
