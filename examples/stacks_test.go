package examples_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

// TestStackBasicsExample applies examples/stack-basics on a fleet host over
// SSH: a stack called with count = 2 that calls a nested stack, its
// handler, and an index built from the stacks' outputs. The second apply
// changes nothing.
func TestStackBasicsExample(t *testing.T) {
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	x := &example{t: t, dir: "stack-basics", inventory: webInventory(t, f), known: f.KnownHostsFile}
	x.applyTwice("")
	got := h.Exec(t, "cd /srv/stacks-demo && cat index.txt site1/env site1/server.conf && ls site0 && stat -c %a site0/env")
	want := `http://site0.example.test:8080/ /srv/stacks-demo/site0/server.conf
http://site1.example.test:8081/ /srv/stacks-demo/site1/server.conf
DOMAIN=site1.example.test
PORT=8081
server {
  listen 8081;
  server_name site1.example.test;
  env_file /srv/stacks-demo/site1/env;
}
env
reloaded
server.conf
640
`
	if got != want {
		t.Errorf("on the host:\n%s\nwant:\n%s", got, want)
	}
}

// TestStacksDocExamples: every HCL block of docs/stacks.md whose first
// line names a file (# examples/...) is that file's text, so what the page
// shows is what the tests run.
func TestStacksDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/stacks.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	n := 0
	for _, b := range blocks {
		first, rest, _ := strings.Cut(b[1], "\n")
		name, ok := strings.CutPrefix(first, "# ")
		if !ok || !strings.Contains(name, "/") || strings.Contains(name, " ") {
			continue
		}
		n++
		src, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Errorf("docs/stacks.md shows %s: %v", name, err)
			continue
		}
		if !strings.Contains(string(src), rest) {
			t.Errorf("docs/stacks.md's block for %s is not in the file:\n%s", name, rest)
		}
	}
	if n < 3 {
		t.Errorf("docs/stacks.md shows %d example files; its examples should come from examples/", n)
	}
}
