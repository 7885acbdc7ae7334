package remote

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// pathTypes maps the prelude's one-letter types.
var pathTypes = map[byte]string{'f': "file", 'd': "dir", 'l': "link", 'o': "other", 'm': "missing"}

// pathBatch is the prelude CheckAll runs for the PathCheckers of a host.
type pathBatch struct {
	paths  []string             // distinct paths, in order of first use
	sum    map[string]bool      // paths whose checksum some task wants
	fetch  []contract.PathCheck // distinct fetches (path, FetchMax, UnlessSum)
	tasks  []int                // task indexes, in order
	checks []contract.PathCheck // their PathChecks
}

func newPathBatch() *pathBatch { return &pathBatch{sum: map[string]bool{}} }

func (pb *pathBatch) add(task int, pc contract.PathCheck) {
	pb.tasks = append(pb.tasks, task)
	pb.checks = append(pb.checks, pc)
	if !pb.has(pc.Path) {
		pb.paths = append(pb.paths, pc.Path)
	}
	if pc.Sum {
		pb.sum[pc.Path] = true
	}
	if pc.FetchMax > 0 && pb.fetchIndex(pc) < 0 {
		f := pc
		f.Sum = false
		if !pc.Sum {
			f.UnlessSum = ""
		}
		pb.fetch = append(pb.fetch, f)
	}
}

func (pb *pathBatch) has(p string) bool {
	for _, q := range pb.paths {
		if q == p {
			return true
		}
	}
	return false
}

// fetchIndex is the index in fetch of pc's fetch, -1 when there is none.
func (pb *pathBatch) fetchIndex(pc contract.PathCheck) int {
	unless := pc.UnlessSum
	if !pc.Sum {
		unless = ""
	}
	for i, f := range pb.fetch {
		if f.Path == pc.Path && f.FetchMax == pc.FetchMax && f.UnlessSum == unless {
			return i
		}
	}
	return -1
}

// script is the prelude: run in the batch script's own shell (not a
// subshell), after every fragment. mark(i) is the line that starts frame i;
// the prelude fills frame first with its own output and frames first+1,
// first+2, ... with the fetched contents (one per fetch; status 0 when
// fetched), and appends its own status and the fetches' to $x. Its own
// output is:
//
//	types LETTERS          one of f d l o m per path
//	stale N...             stale temporary files beside each path
//	STAT LINE...           one per file and directory, in order
//	[restat                when the batched stat failed (a path vanished):
//	STAT LINE or ?...]     one per file and directory, stat'ed one by one
//	sums
//	SHA256SUM OUTPUT       for the files whose checksum is wanted, then "."
//
// Paths reach the shell only as shell.Quote'd words; every command gets
// "--" before them.
func (pb *pathBatch) script(first int, mark func(frame int) string) string {
	var b strings.Builder
	b.WriteString(mark(first))
	b.WriteString("_dy=''\n{\n_dt='' _dn='\n'\n")
	b.WriteString(`_dty() { if [ -L "$1" ]; then _dc=l; elif [ -d "$1" ]; then _dc=d; elif [ -f "$1" ]; then _dc=f; elif [ -e "$1" ]; then _dc=o; else _dc=m; fi; _dt=$_dt$_dc; }` + "\n")
	b.WriteString("set --\n")
	for i, p := range pb.paths {
		q := shell.Quote(p)
		fmt.Fprintf(&b, "_dty %s; _dc%d=$_dc; case $_dc in [df]) set -- \"$@\" %s;; esac\n", q, i, q)
	}
	b.WriteString("echo \"types $_dt\"\n")
	// Debris of killed earlier runs beside each path (transport's temporary
	// names): counted here, removed by the module's apply step.
	b.WriteString("_dl=\n")
	for _, p := range pb.paths {
		b.WriteString(transport.CountStaleTemps(p))
		b.WriteString("_dl=\"$_dl $_dk\"\n")
	}
	b.WriteString("echo \"stale$_dl\"\n")
	fmt.Fprintf(&b, "if [ $# -gt 0 ] && ! stat -c '%s' -- \"$@\"; then\n", contract.StatFormat)
	fmt.Fprintf(&b, "  echo restat; for _dp; do stat -c '%s' -- \"$_dp\" || echo '?'; done\nfi\n", contract.StatFormat)
	b.WriteString("set --\n")
	for i, p := range pb.paths {
		if pb.sum[p] {
			fmt.Fprintf(&b, "[ \"$_dc%d\" != f ] || set -- \"$@\" %s\n", i, shell.Quote(p))
		}
	}
	// The trailing "." keeps the last name's own trailing newlines, which
	// $(...) would strip.
	b.WriteString("_ds=.\n[ $# -eq 0 ] || _ds=$(sha256sum -- \"$@\"; echo .)\n")
	b.WriteString("echo sums\nprintf '%s\\n' \"$_ds\"\n} </dev/null; _dz=$?\n")
	for k, f := range pb.fetch {
		q := shell.Quote(f.Path)
		// The path's directory may belong to another user, who can swap
		// the file for a link after the type was read: what was opened
		// must be the entry itself (issue 14), or nothing is sent back.
		fetch := fmt.Sprintf("( exec 3<%[2]s && [ \"$(stat -L -c %%d:%%i /proc/self/fd/3)\" = \"$(stat -c %%d:%%i -- %[2]s)\" ] && [ ! -L %[2]s ] && head -c %[1]d <&3 ) </dev/null; _dy=\"$_dy $?\"", f.FetchMax+1, q)
		skip := `_dy="$_dy 1"`
		b.WriteString(mark(first + 1 + k))
		fmt.Fprintf(&b, "if [ \"$_dc%d\" != f ]; then %s\n", pb.pathIndex(f.Path), skip)
		if f.UnlessSum != "" {
			// GNU sha256sum escapes a name with a backslash or newline; such
			// a line never matches, and the file is fetched: Diff decides.
			fmt.Fprintf(&b, "else case \"$_dn$_ds\" in *\"$_dn\"%s\"$_dn\"*) %s;; *) %s;; esac\n", shell.Quote(f.UnlessSum+"  "+f.Path), skip, fetch)
		} else {
			fmt.Fprintf(&b, "else %s\n", fetch)
		}
		b.WriteString("fi\n")
	}
	b.WriteString("x=\"$x $_dz$_dy\"\n")
	return b.String()
}

func (pb *pathBatch) pathIndex(p string) int {
	for i, q := range pb.paths {
		if q == p {
			return i
		}
	}
	return -1
}

// frames is the number of frames the prelude fills.
func (pb *pathBatch) frames() int { return 1 + len(pb.fetch) }

// outputs turns the prelude's frames (its own, then one per fetch) into the
// tasks' CheckOutputs.
func (pb *pathBatch) outputs(frames []contract.CheckOutput, outs []contract.CheckOutput) {
	own := frames[0]
	states, err := pb.parse(own.Stdout)
	stderr := bytes.TrimSpace(own.Stderr)
	for k, pc := range pb.checks {
		i := pb.tasks[k]
		if err != nil {
			outs[i] = contract.CheckOutput{ExitCode: 1, Stderr: []byte(fmt.Sprintf("reading the state of %s: %v\n%s", pc.Path, err, stderr))}
			continue
		}
		st := states[pc.Path]
		if st == nil {
			outs[i] = contract.CheckOutput{ExitCode: 1, Stderr: pathErr(stderr, "stat failed")}
			continue
		}
		s := *st
		if !pc.Sum {
			s.SHA256 = ""
		} else if s.Type == "file" && s.SHA256 == "" {
			outs[i] = contract.CheckOutput{ExitCode: 1, Stderr: pathErr(stderr, "sha256sum printed no checksum")}
			continue
		}
		if pc.FetchMax > 0 && s.Type == "file" && (!pc.Sum || pc.UnlessSum == "" || s.SHA256 != pc.UnlessSum) {
			f := frames[1+pb.fetchIndex(pc)]
			switch {
			case f.ExitCode != 0:
				outs[i] = contract.CheckOutput{ExitCode: f.ExitCode, Stderr: pathErr(bytes.TrimSpace(f.Stderr), "reading the file failed")}
				continue
			case int64(len(f.Stdout)) <= pc.FetchMax:
				s.Content, s.HasContent = f.Stdout, true
			}
		}
		outs[i] = contract.CheckOutput{Path: &s}
	}
}

func pathErr(stderr []byte, fallback string) []byte {
	if len(stderr) == 0 {
		return []byte(fallback)
	}
	return stderr
}

// parse reads the prelude's own output: the state of every path, nil for a
// path whose stat failed. An error means the output is malformed.
func (pb *pathBatch) parse(out []byte) (map[string]*contract.PathState, error) {
	rest := out
	line := func() (string, bool) {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return "", false
		}
		l := string(rest[:nl])
		rest = rest[nl+1:]
		return l, true
	}
	l, ok := line()
	types, found := strings.CutPrefix(l, "types ")
	if !ok || !found || len(types) != len(pb.paths) {
		return nil, fmt.Errorf("malformed path types %q", l)
	}
	l, _ = line()
	stale := strings.Fields(strings.TrimPrefix(l, "stale"))
	if !strings.HasPrefix(l, "stale") || len(stale) != len(pb.paths) {
		return nil, fmt.Errorf("malformed stale counts %q", l)
	}
	states := map[string]*contract.PathState{}
	var statted []string // files and directories, in the order stat saw them
	for i, p := range pb.paths {
		t, ok := pathTypes[types[i]]
		if !ok {
			return nil, fmt.Errorf("malformed path types %q", types)
		}
		n, err := strconv.Atoi(stale[i])
		if err != nil {
			return nil, fmt.Errorf("malformed stale counts %q", l)
		}
		states[p] = &contract.PathState{Type: t, Stale: n}
		if t == "file" || t == "dir" {
			statted = append(statted, p)
		}
	}
	var stats []string
	for {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("output cut short in the stat lines")
		}
		if l == "sums" {
			break
		}
		if l == "restat" {
			stats = stats[:0]
			continue
		}
		stats = append(stats, l)
	}
	if len(stats) != len(statted) {
		return nil, fmt.Errorf("got %d stat lines for %d paths", len(stats), len(statted))
	}
	for i, p := range statted {
		if stats[i] == "?" {
			states[p] = nil
			continue
		}
		s, err := contract.ParseStatLine(stats[i])
		if err != nil {
			return nil, err
		}
		s.Type, s.Stale = states[p].Type, states[p].Stale
		states[p] = &s
	}
	var files []string
	for _, p := range pb.paths {
		if s := states[p]; pb.sum[p] && s != nil && s.Type == "file" {
			files = append(files, p)
		}
	}
	if !bytes.HasSuffix(rest, []byte(".\n")) {
		return nil, fmt.Errorf("output cut short in the checksums")
	}
	for p, sum := range parseSums(rest[:len(rest)-2], files) {
		states[p].SHA256 = sum
	}
	return states, nil
}

// parseSums reads `sha256sum -- files...` output. A file that could not be
// read has no line; the others are matched by name, in order, so a missing
// line cannot shift a checksum onto another file. GNU sha256sum writes a
// name holding a backslash or newline escaped, after a leading backslash;
// busybox writes it as it is.
func parseSums(out []byte, files []string) map[string]string {
	sums := map[string]string{}
	for _, f := range files {
		d := out
		escaped := len(d) > 0 && d[0] == '\\'
		if escaped {
			d = d[1:]
		}
		if len(d) < 66 || !isHexSum(d[:64]) || (d[65] != ' ' && d[65] != '*') {
			break
		}
		sum, rest := string(d[:64]), d[66:]
		names := []string{f}
		if escaped {
			e := strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(f)
			names = []string{e, strings.ReplaceAll(e, "\r", `\r`)}
		}
		for _, n := range names {
			if bytes.HasPrefix(rest, []byte(n+"\n")) {
				sums[f] = sum
				out = rest[len(n)+1:]
				break
			}
		}
	}
	return sums
}

func isHexSum(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
