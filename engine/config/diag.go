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
