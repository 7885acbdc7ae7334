package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteCompact writes each diagnostic on one line, as compilers do, for
// editors and CI annotations:
//
//	site.hcl:12:5: error: Unknown module type: There is no module "templat". Did you mean "template"?
func WriteCompact(w io.Writer, diags hcl.Diagnostics) error {
	for _, d := range diags {
		if _, err := io.WriteString(w, Compact(d)+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// Compact formats one diagnostic on one line.
func Compact(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + strings.Join(strings.Fields(d.Detail), " ")
	}
	if d.Subject == nil {
		return fmt.Sprintf("%s: %s", sev, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, sev, msg)
}

// WriteDiagnostics writes diagnostics with their source snippets, as hcl's
// text writer does. Without colour (logs, CI, NO_COLOR) hcl cannot highlight
// the offending range, so a line of carets is added under it:
//
//	12:     path   = directory.ap.path
//	                 ^^^^^^^^^^^^
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	for _, d := range diags {
		var b strings.Builder
		if err := hcl.NewDiagnosticTextWriter(&b, files, width, color).WriteDiagnostic(d); err != nil {
			return err
		}
		out := b.String()
		if !color {
			out = underline(out, d)
		}
		if _, err := io.WriteString(w, out); err != nil {
			return err
		}
	}
	return nil
}

// underline adds carets under a one-line subject in a rendered diagnostic.
func underline(out string, d *hcl.Diagnostic) string {
	s := d.Subject
	if s == nil || s.Start.Line != s.End.Line || s.End.Column <= s.Start.Column {
		return out
	}
	prefix := fmt.Sprintf("%4d: ", s.Start.Line)
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		// Copy the source's tabs so the carets line up whatever the tab
		// width; everything else before the subject becomes a space.
		var pad strings.Builder
		pad.WriteString(strings.Repeat(" ", len(prefix)))
		n := 0
		for _, r := range l[len(prefix):] {
			if n >= s.Start.Column-1 {
				break
			}
			if r == '\t' {
				pad.WriteRune('\t')
			} else {
				pad.WriteByte(' ')
			}
			n++
		}
		carets := pad.String() + strings.Repeat("^", s.End.Column-s.Start.Column)
		lines = append(lines[:i+1], append([]string{carets}, lines[i+1:]...)...)
		break
	}
	return strings.Join(lines, "\n")
}
