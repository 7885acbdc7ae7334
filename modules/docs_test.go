package modules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/internal/golden"
	"github.com/drover-cm/drover/modules"
)

const modulesDoc = "../docs/modules.md"

// docs/modules.md is generated from the Specs, which are the source of
// truth: `go test ./modules -run TestModulesDoc -update` rewrites it.
func TestModulesDoc(t *testing.T) {
	got := renderModulesDoc()
	if golden.Update() {
		if err := os.WriteFile(modulesDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(modulesDoc)
	if err != nil {
		t.Fatalf("%v (run go test ./modules -run TestModulesDoc -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s is out of date with the modules' Specs: run go test ./modules -run TestModulesDoc -update", modulesDoc)
	}
}

func renderModulesDoc() string {
	var b strings.Builder
	b.WriteString("# Module reference\n\n")
	b.WriteString("<!-- Generated from each module's Spec by `go test ./modules -run TestModulesDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every task block is `<module> \"<name>\" { ... }` inside a play. Besides the attributes below, every task\n")
	b.WriteString("accepts the engine's meta-arguments (`when`, `for_each`, `count`, `depends_on`, `notify`, `sensitive`,\n")
	b.WriteString("`become`, `become_user`, `run_once`, `delegate_to`). `drover modules NAME` prints the same reference in the terminal.\n\n")
	b.WriteString("| module | summary |\n|---|---|\n")
	for _, m := range modules.All() {
		s := m.Spec()
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", s.Name, s.Name, cell(s.Summary))
	}
	for _, m := range modules.All() {
		s := m.Spec()
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s\n", s.Name, s.Summary, strings.TrimSpace(s.Doc))
		if s.ReadOnly {
			b.WriteString("\nRead-only: allowed in runbooks.\n")
		}
		b.WriteString("\n| attribute | type | default | description |\n|---|---|---|---|\n")
		for _, a := range s.Attributes {
			def := ""
			switch {
			case a.Required:
				def = "required"
			case a.Default != cty.NilVal && !a.Default.IsNull():
				def = "`" + strings.TrimSpace(string(hclwrite.TokensForValue(a.Default).Bytes())) + "`"
			}
			doc := a.Doc
			if a.Sensitive {
				doc += " Sensitive: masked in every output."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, typeName(a.Type), cell(def), cell(doc))
		}
		if len(s.Outputs) > 0 {
			b.WriteString("\n| output | type | description |\n|---|---|---|\n")
			for _, a := range s.Outputs {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", a.Name, typeName(a.Type), cell(a.Doc))
			}
		}
		fmt.Fprintf(&b, "\n```hcl\n%s\n```\n", strings.TrimSpace(s.Example))
	}
	return b.String()
}

func typeName(ty cty.Type) string {
	if ty == cty.DynamicPseudoType {
		return "any"
	}
	return ty.FriendlyNameForConstraint()
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

const writingDoc = "../docs/writing-a-module.md"

// docs/writing-a-module.md walks through real code, so its code is the
// repository's: the fenced block after a line
//
//	<!-- code: PATH ~~ FROM ~~ TO -->
//
// is PATH's excerpt (PATH from the repository's root) from the first line
// containing FROM to the next line containing TO, without FROM's line's
// indentation; a TO ending in "$" must be the whole line at FROM's
// indentation (`}$` is the end of a top-level function); "TO #N" ends at
// the Nth line that TO matches. Every Go block
// is such an excerpt. `go test ./modules -run TestWritingAModuleDoc -update`
// rewrites the blocks from the code. The page also names every interface
// of the contract, and every repository path it names exists.
func TestWritingAModuleDoc(t *testing.T) {
	raw, err := os.ReadFile(writingDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	lines := strings.SplitAfter(doc, "\n")
	var out strings.Builder
	stale := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		out.WriteString(l)
		spec, marked := strings.CutPrefix(l, "<!-- code: ")
		if !marked {
			if strings.HasPrefix(l, "```") {
				if strings.HasPrefix(l, "```go") {
					t.Errorf("%s:%d: a Go block without a <!-- code: PATH ~~ FROM ~~ TO --> line above it", writingDoc, i+1)
				}
				for i++; i < len(lines) && lines[i] != "```\n"; i++ {
					out.WriteString(lines[i])
				}
				if i < len(lines) {
					out.WriteString(lines[i])
				}
			}
			continue
		}
		parts := strings.Split(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(spec), "-->")), " ~~ ")
		if len(parts) != 3 || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("%s:%d: want <!-- code: PATH ~~ FROM ~~ TO --> followed by a fenced block", writingDoc, i+1)
		}
		want, err := docExcerpt(parts[0], parts[1], parts[2])
		if err != nil {
			t.Fatalf("%s:%d: %v", writingDoc, i+1, err)
		}
		i++
		out.WriteString(lines[i])
		end := i + 1
		for end < len(lines) && lines[end] != "```\n" {
			end++
		}
		if got := strings.Join(lines[i+1:end], ""); got != want {
			stale++
			if !golden.Update() {
				t.Errorf("%s:%d: the excerpt of %s is not the code:\n%s", writingDoc, i, parts[0], want)
			}
		}
		out.WriteString(want + "```\n")
		i = end
	}
	if golden.Update() && stale > 0 {
		if err := os.WriteFile(writingDoc, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if stale > 0 {
		t.Errorf("run go test ./modules -run TestWritingAModuleDoc -update, then read the page again")
	}

	contract, _ := filepath.Glob("contract/*.go")
	for _, f := range contract {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^type (\w+) interface`).FindAllStringSubmatch(string(src), -1) {
			if !strings.Contains(doc, m[1]) {
				t.Errorf("%s does not name contract.%s (%s): say what a module does with it", writingDoc, m[1], f)
			}
		}
	}
	for _, p := range regexp.MustCompile(`\b(?:modules|engine|internal|cmd|integration)/[\w./-]*\w`).FindAllString(doc, -1) {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("%s names %s, which does not exist", writingDoc, p)
		}
	}
}

// docExcerpt is the lines of file from the first containing from to the
// next containing to (see TestWritingAModuleDoc), without from's indentation.
func docExcerpt(file, from, to string) (string, error) {
	src, err := os.ReadFile(filepath.Join("..", file))
	if err != nil {
		return "", err
	}
	lines := strings.SplitAfter(string(src), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, from) })
	if start < 0 {
		return "", fmt.Errorf("%s has no line containing %q", file, from)
	}
	indent := lines[start][:len(lines[start])-len(strings.TrimLeft(lines[start], "\t"))]
	nth := 1
	if t, n, ok := strings.Cut(to, " #"); ok {
		if nth, err = strconv.Atoi(n); err != nil {
			return "", fmt.Errorf("%q: want TO #N", to)
		}
		to = t
	}
	whole, exact := strings.CutSuffix(to, "$")
	for i := start; i < len(lines); i++ {
		l := strings.TrimSuffix(lines[i], "\n")
		if exact && l == indent+whole || !exact && strings.Contains(l, to) {
			if nth--; nth > 0 {
				continue
			}
			var b strings.Builder
			for _, x := range lines[start : i+1] {
				b.WriteString(strings.TrimPrefix(x, indent))
			}
			return strings.TrimSuffix(b.String(), "\n") + "\n", nil
		}
	}
	return "", fmt.Errorf("%s: no line containing %q after %q", file, to, from)
}
