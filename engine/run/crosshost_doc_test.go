package run

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/modules"
)

// TestLanguageDocCrossHost plans every example of docs/language.md's
// "Fleet-wide data and cross-host steps" on the local hosts web1..web3 and
// lb1 (absolute paths moved under a temporary root). A ```text block right
// after an example holds lines its plan must show, or the compact
// diagnostics it must produce.
func TestLanguageDocCrossHost(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	i := strings.Index(sec, "## Fleet-wide data and cross-host steps")
	if i < 0 {
		t.Fatal("no such section")
	}
	sec = sec[i+3:]
	sec = sec[:strings.Index(sec, "\n## ")]
	blocks := regexp.MustCompile("(?s)```(hcl|text)\n(.*?)```").FindAllStringSubmatch(sec, -1)
	n := 0
	for k, b := range blocks {
		if b[1] != "hcl" {
			continue
		}
		src, want := b[2], ""
		if k+1 < len(blocks) && blocks[k+1][1] == "text" {
			want = blocks[k+1][2]
		}
		n++
		t.Run(strings.Fields(src)[0]+"_"+string(rune('0'+n)), func(t *testing.T) {
			f := loadCross(t, "")
			f.noRoot = true
			if !strings.HasPrefix(want, "site.hcl:") {
				src = regexp.MustCompile(`"(/(?:etc|srv)/[^"$]*)"`).ReplaceAllStringFunc(src, func(q string) string {
					p := filepath.Join(f.root, strings.Trim(q, `"`))
					os.MkdirAll(filepath.Dir(p), 0o755)
					return `"` + p + `"`
				})
			}
			hf, diags := f.parser.ParseHCL([]byte(src), "site.hcl")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if f.pb, diags = config.Load(modules.Catalog(), t.TempDir(), hf); diags.HasErrors() {
				t.Fatal(f.diagText(diags))
			}
			if strings.HasPrefix(want, "site.hcl:") {
				_, res := f.plan()
				var got []string
				for _, d := range res.Diagnostics {
					got = append(got, config.Compact(d))
				}
				if strings.Join(got, "\n") != strings.TrimSpace(want) {
					t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
				}
				if len(f.dials) > 0 {
					t.Errorf("hosts were contacted: %v", f.dials)
				}
				return
			}
			out, res := f.plan()
			if res.Failed() {
				t.Fatalf("plan failed:\n%s", out)
			}
			out = strings.ReplaceAll(out, "$ROOT", "")
			for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
				if !strings.Contains(out, strings.TrimSpace(line)) {
					t.Errorf("plan lacks %q:\n%s", strings.TrimSpace(line), out)
				}
			}
		})
	}
	if n < 5 {
		t.Errorf("%d examples; want at least 5", n)
	}
}
