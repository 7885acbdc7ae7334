package lang

import (
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func evalString(t *testing.T, s *Scope, src string) string {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := expr.Value(s.EvalContext())
	if diags.HasErrors() {
		t.Fatalf("%s: %v", src, diags)
	}
	return v.AsString()
}

// With the cache on, EvalContext sees every SetTask, in the scope and in
// its copies, and a type's object is rebuilt only when that type changed.
func TestScopeTaskObjectCache(t *testing.T) {
	for _, cached := range []bool{false, true} {
		s := &Scope{}
		if cached {
			s.CacheTaskObjects()
		}
		s.SetTask("copy", "a", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/a")}))
		s.SetTask("file", "d", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/d")}))
		if got := evalString(t, s, `"${copy.a.path} ${file.d.path}"`); got != "/a /d" {
			t.Fatalf("cached=%v: got %q", cached, got)
		}
		c := s.With(nil, cty.NumberIntVal(0))
		s.SetTask("copy", "a", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/a2")}))
		s.SetTask("copy", "b", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/b")}))
		if got := evalString(t, c, `"${copy.a.path} ${copy.b.path} ${file.d.path} ${count.index}"`); got != "/a2 /b /d 0" {
			t.Fatalf("cached=%v: a copy of the scope got %q", cached, got)
		}
		if cached {
			before := s.objs["file"]
			s.SetTask("copy", "c", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("/c")}))
			s.EvalContext()
			if !s.objs["file"].RawEquals(before) || len(s.objs) != 2 {
				t.Errorf("objects kept: %v", s.objs)
			}
		}
	}
}

// BenchmarkEvalContext is one context of a host's evaluation with the
// bench's 30 tasks (11 copies, 4 templates, 4 directories, ...).
func BenchmarkEvalContext(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			s := &Scope{Vars: map[string]cty.Value{"v": cty.StringVal("x")}}
			if cached {
				s.CacheTaskObjects()
			}
			for typ, n := range map[string]int{"copy": 11, "template": 4, "file": 6, "line": 3, "user": 1, "group": 1, "package": 1, "command": 1, "cron": 1, "link": 1} {
				for i := range n {
					s.SetTask(typ, fmt.Sprintf("t%d", i), cty.ObjectVal(map[string]cty.Value{
						"path": cty.StringVal("/srv/bench/x"), "mode": cty.StringVal("0644"), "owner": cty.StringVal("root"),
						"group": cty.StringVal("root"), "content": cty.StringVal("..."), "changed": cty.False,
					}))
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				s.EvalContext()
			}
		})
	}
}
