package main

// --html FILE of plan and apply: a collector among the run's sinks and, at
// the end, the page written atomically. Works beside --json: the events go
// to stdout, the page to the file.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/report"
)

func registerHTMLFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVar(path, "html", "", "also write the report as one self-contained HTML page to this file (for change review and incident tickets)")
}

// htmlReport is one run's --html page in the making.
type htmlReport struct {
	path string
	col  *report.RunCollector
}

// startHTML adds the page's collector to the session's sinks; nil when no
// page was asked for.
func (s *playbookSession) startHTML(path string) *htmlReport {
	if path == "" {
		return nil
	}
	h := &htmlReport{path: path, col: report.NewRunCollector()}
	s.sink = report.Multi(s.sink, h.col)
	return h
}

// write renders the page and renames it into place. planLine, when set,
// replaces the plan's summary (the command adds the provisioned instances).
func (h *htmlReport) write(s *playbookSession, playbook []string, planLine string) error {
	if h == nil {
		return nil
	}
	rep := h.col.Report()
	if planLine != "" {
		rep.PlanLine = planLine
	}
	ri := s.runInfo(playbook)
	rep.Operator, rep.PlaybookFiles, rep.Playbook = ri.Operator, ri.PlaybookFiles, ri.Playbook
	rep.InventoryFiles, rep.Inventory = ri.InventoryFiles, ri.Inventory
	var b bytes.Buffer
	if err := report.WriteRunHTML(&b, rep, s.ui.masker); err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("rendering the HTML report: %w", err)}
	}
	if err := writeAtomic(h.path, b.Bytes(), 0o644); err != nil {
		return &exitCodeError{code: exitError, err: fmt.Errorf("the HTML report: %w; check that its directory exists and is writable", err)}
	}
	if !global.jsonOut {
		fmt.Fprintf(s.ui.stdout, "\nHTML report: %s\n", h.path)
	}
	return nil
}

// runInfo is who runs the playbook on which files, as the HTML report
// shows it.
func (s *playbookSession) runInfo(playbook []string) *report.RunInfo {
	return &report.RunInfo{
		Operator: operator(), PlaybookFiles: playbook, Playbook: s.playbookDigest(),
		InventoryFiles: global.inventories,
		Inventory:      filesDigest(global.inventories, func(p string) ([]byte, error) { return os.ReadFile(p) }),
	}
}

// stampRunInfo puts the runInfo in the run's run_start event, so that the
// --json stream has it: drover report merge --html draws the shards' page
// from their streams alone.
func (s *playbookSession) stampRunInfo(playbook []string) {
	s.sink = runInfoSink{Sink: s.sink, info: s.runInfo(playbook)}
}

type runInfoSink struct {
	report.Sink
	info *report.RunInfo
}

func (r runInfoSink) Emit(e report.Event) {
	if e.Kind == report.KindRunStart && e.Detail == nil {
		e.Detail = r.info
	}
	r.Sink.Emit(e)
}

// playbookDigest is the digest of the playbook's HCL files as parsed (not
// the variable files, which may hold secrets: a digest of a short secret
// can be guessed).
func (s *playbookSession) playbookDigest() string {
	files := s.parser.Files()
	var names []string
	for name := range files {
		if !slices.Contains(s.flags.varFiles, name) {
			names = append(names, name)
		}
	}
	return filesDigest(names, func(p string) ([]byte, error) { return files[p].Bytes, nil })
}

// filesDigest is "sha256:…" over the files' base names and contents, in
// base name order: the same files give the same digest from any directory.
func filesDigest(paths []string, read func(string) ([]byte, error)) string {
	paths = slices.Clone(paths)
	slices.SortFunc(paths, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	h := sha256.New()
	for _, p := range paths {
		b, err := read(p)
		if err != nil {
			return "" // the run read them; one gone since is not worth failing for
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(b))
		h.Write(b)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

// operator is who runs drover: user@machine.
func operator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
