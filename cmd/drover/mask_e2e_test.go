package main

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/report"
)

// metaSecret holds what JSON (\u0026, \u003c) and HTML (&amp;, &#34;)
// encode differently, and unicode.
const metaSecret = `tok&<>"'ünï€-9f8e7d`

// decodedTexts are the ways a reader sees out: as it is, every string of
// every JSON document in it, and with HTML entities decoded.
func decodedTexts(out string) []string {
	texts := []string{out, html.UnescapeString(out)}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		texts = append(texts, jsonStrings(v)...)
	}
	return texts
}

func jsonStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = append(out, jsonStrings(e)...)
		}
	case map[string]any:
		for k, e := range v {
			out = append(append(out, k), jsonStrings(e)...)
		}
	}
	return out
}

func assertMasked(t *testing.T, what, out string) {
	t.Helper()
	for _, tx := range decodedTexts(out) {
		if strings.Contains(tx, "9f8e7d") {
			t.Errorf("%s shows the secret:\n%s", what, out)
			return
		}
	}
}

// TestCLISecretWithMetacharactersMasked: a sensitive value holding & < > "
// ' and unicode is masked in plan and apply (text and JSON) and in runbook
// reports (text, JSON and HTML), however each encodes it.
func TestCLISecretWithMetacharactersMasked(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inv.hcl", "host \"here\" {\n  connection = \"local\"\n}\n")
	pb := writeFile(t, dir, "site.hcl", `
variable "dir" { type = string }
variable "token" {
  type      = string
  sensitive = true
}
play "p" {
  hosts = "all"
  file "token" {
    path    = "${var.dir}/token"
    content = "token=${var.token}\n"
  }
  command "prints" {
    run = ["sh", "-c", "printf 'the token is %s\n' \"$0\"", var.token]
  }
  shell "reads" {
    run = "echo \"got $(cat ${var.dir}/token)\"; exit 1"
  }
}
`)
	args := []string{"-i", inv, pb, "--var", "dir=" + dir, "--var", "token=" + metaSecret}
	for _, c := range [][]string{{"plan"}, {"plan", "--json"}} {
		// The command's argv is shown, shell-quoted: ' is written '\''.
		r := drover(t, "", append(c, args...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "printf") || !strings.Contains(r.stdout, report.Redacted) {
			t.Errorf("%s: exit %d\n%s\n%s", c, r.code, r.stdout, r.stderr)
		}
		assertMasked(t, strings.Join(c, " "), r.stdout+r.stderr)
	}
	for _, c := range [][]string{{"apply"}, {"apply", "--json"}} {
		// The shell task is not sensitive, but its output holds the token.
		r := drover(t, "", append(c, args...)...)
		if r.code != 1 || !strings.Contains(r.stdout, "got ********") {
			t.Errorf("%s: exit %d, want 1 with the masked output of the failing task:\n%s\n%s", c, r.code, r.stdout, r.stderr)
		}
		assertMasked(t, strings.Join(c, " "), r.stdout+r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "token")); err != nil || string(b) != "token="+metaSecret+"\n" {
		t.Errorf("the file holds %q (%v): masking must not reach the host", b, err)
	}

	rb := writeFile(t, dir, "rb.hcl", `
variable "token" {
  type      = string
  sensitive = true
}
runbook "look" {
  probe "env" { command = "echo ${base64encode(var.token)} | base64 -d; echo" }
  check "leaky" {
    warn    = probe.env.stdout != ""
    message = "env holds ${probe.env.stdout}"
  }
}
`)
	page := filepath.Join(dir, "report.html")
	for _, c := range [][]string{{"run"}, {"run", "--json", "--html", page}} {
		r := drover(t, "", append(c, "-i", inv, rb, "here", "--var", "token="+metaSecret)...)
		if r.code != 0 || !strings.Contains(r.stdout, "env holds ********") {
			t.Errorf("%s: exit %d\n%s\n%s", c, r.code, r.stdout, r.stderr)
		}
		assertMasked(t, strings.Join(c, " "), r.stdout+r.stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(b), "env holds ********") {
		t.Errorf("HTML report: %v\n%s", err, b)
	}
	assertMasked(t, "the HTML report", string(b))
}
