package report

// The HTML rendering layer shared by every report (runbook, plan, apply):
// one layout, one stylesheet, one Content-Security-Policy. Each report adds
// only its "content" template (html_assets/*.html.tmpl) and the data for it.
//
// Text from hosts is Cleaned (masked, control characters escaped) before it
// reaches a template, and html/template escapes it for its context. The CSP
// is the second wall: the page may use its own inline stylesheet (allowed by
// hash, so not even an injected <style> applies) and nothing else; no
// script, no image, no request, whatever a host managed to print.

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"maps"
	"time"
)

//go:embed html_assets
var htmlAssets embed.FS

var (
	pageCSS = mustAsset("html_assets/style.css")
	pageCSP = "default-src 'none'; style-src '" + cspHash(pageCSS) + "'; img-src 'none'; base-uri 'none'; form-action 'none'"
)

func mustAsset(name string) string {
	b, err := htmlAssets.ReadFile(name)
	if err != nil {
		panic(err) // embedded: only a build mistake gets here
	}
	return string(b)
}

// cspHash is the CSP source expression that allows exactly the inline
// element whose text is s.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// htmlPage is what the layout draws around a report's content.
type htmlPage struct {
	Title, Heading, Sub, Footer string
	Body                        any // the data of the "content" template
}

// htmlFuncs are the helpers every content template may use.
var htmlFuncs = template.FuncMap{
	"css": func() template.CSS { return template.CSS(pageCSS) },
	"csp": func() string { return pageCSP },
	"dur": FormatDuration,
}

// newPageTemplate parses the layout with one report's content template;
// funcs adds that report's own helpers.
func newPageTemplate(content string, funcs template.FuncMap) *template.Template {
	all := maps.Clone(htmlFuncs)
	maps.Copy(all, funcs)
	return template.Must(template.New("layout.html.tmpl").Funcs(all).
		ParseFS(htmlAssets, "html_assets/layout.html.tmpl", "html_assets/"+content))
}

func writePage(w io.Writer, t *template.Template, p htmlPage) error {
	return t.ExecuteTemplate(w, "page", p)
}

// htmlTime is how reports show a moment: UTC, to the second.
func htmlTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
