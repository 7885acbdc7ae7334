package main

import (
	"os"
	"strings"
	"testing"

	"github.com/drover-cm/drover/internal/golden"
)

// TestRecipeBookStackDocs: each stack of the recipe book (examples/stacks)
// checks in what drover stack doc prints for it (STACK.txt, as run from the
// repository's root), and its README quotes that text.
func TestRecipeBookStackDocs(t *testing.T) {
	for _, name := range []string{"webapp", "haproxy", "redis"} {
		t.Run(name, func(t *testing.T) {
			dir := "../../examples/stacks/" + name
			r := drover(t, "", "stack", "doc", dir)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			out := strings.Replace(r.stdout, "../../examples/", "examples/", 1)
			golden.Check(t, dir+"/STACK.txt", out)
			readme, err := os.ReadFile(dir + "/README.md")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(readme), "```text\n"+out+"```") {
				t.Errorf("%s/README.md does not quote STACK.txt in a text block", dir)
			}
		})
	}
}
