package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/config"
	"github.com/drover-cm/drover/inventory"
)

// unmatchedHosts reports the terms of a play's pattern that match no host
// or group: as a diagnostic at the play's `hosts =` (file:line:col and a
// snippet) when the pattern is written there, with the closest names of the
// inventory; else (a --limit term) as a warning. It returns one line per
// term for the "no play selected any host" error.
func (s *playbookSession) unmatchedHosts(pattern string, terms []string) []string {
	var lines []string
	for _, term := range terms {
		hint := ""
		if near := closeNames(s.inv, term); len(near) > 0 {
			hint = fmt.Sprintf("did you mean %s?", quoteJoin(near))
		}
		rng := s.hostsRange(pattern, term)
		if rng == nil {
			msg := fmt.Sprintf("no host or group matches %q", term)
			if hint != "" {
				msg += "; " + hint
			}
			s.ui.warnf("%s", msg)
			lines = append(lines, msg)
			continue
		}
		detail := fmt.Sprintf("The pattern %q selects nothing from the inventory: %q is the name of no host or group.", pattern, term)
		if hint != "" {
			detail += " D" + hint[1:]
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: fmt.Sprintf("No host or group matches %q", term),
			Detail: detail, Subject: rng}
		wr := hcl.NewDiagnosticTextWriter(s.ui.stderr, s.parser.Files(), termWidth(s.ui.stderr), s.ui.colorErr)
		_ = wr.WriteDiagnostic(d)
		line := fmt.Sprintf("%s:%d:%d: hosts = %q matches nothing", rng.Filename, rng.Start.Line, rng.Start.Column, pattern)
		if hint != "" {
			line += "; " + hint
		}
		lines = append(lines, line)
	}
	return lines
}

// hostsRange is the range of the `hosts =` of a play whose pattern, written
// as a constant, is pattern and names term; nil when none is (the term is
// from --limit, or the pattern is computed).
func (s *playbookSession) hostsRange(pattern, term string) *hcl.Range {
	if !strings.Contains(pattern, term) {
		return nil
	}
	for _, p := range s.pb.Plays {
		v, diags := p.Hosts.Value(nil)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String || v.AsString() != pattern {
			continue
		}
		r := p.Hosts.Range()
		return &r
	}
	return nil
}

// closeNames are the inventory's host and group names within a small edit
// distance of term, best first (at most three).
func closeNames(inv *inventory.Inventory, term string) []string {
	var names []string
	for _, g := range inv.Groups() {
		names = append(names, g.Name)
	}
	for _, h := range inv.Hosts() {
		names = append(names, h.Name)
	}
	var out []string
	for range 3 {
		n := config.Suggest(term, names)
		if n == "" {
			break
		}
		out = append(out, n)
		names = removeName(names, n)
	}
	return out
}

func removeName(names []string, n string) []string {
	var out []string
	for _, x := range names {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " or ")
}

// noHosts is the error of a run in which no play selected any host: almost
// always a typo in a play's hosts, --limit or the inventory. why are the
// lines unmatchedHosts returned.
func noHosts(why []string) error {
	msg := "no play selected any host"
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return &exitCodeError{code: exitError, err: errors.New(msg + "; see `drover inventory list` for the names")}
}
