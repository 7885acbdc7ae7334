package contract

import (
	"fmt"
	"strconv"
	"strings"
)

// PathChecker is implemented by tasks whose state is one path on the host:
// its type and metadata, a regular file's SHA-256, and possibly its
// content (file, template, copy of a file, directory, line). The engine
// (engine/remote's CheckAll) reads the paths of all such tasks on a host
// together, instead of running their Check fragments: one shell loop of
// builtins for the types, one stat for the metadata of every file and
// directory, one sha256sum for every checksum, and a head for each content
// that must be fetched. A fragment per task would cost a subshell and two or
// three processes each, which on a play of dozens of files is most of the
// CPU a check costs on the host.
//
// The task's Diff then gets a CheckOutput whose Path holds what was read
// (Stdout and Stderr are empty unless reading failed: ExitCode is then
// non-zero and Stderr says why). Check must still return a fragment that
// reads the same state, for callers that run one task's Check on its own.
type PathChecker interface {
	CheckPath() PathCheck
}

// PathCheck is what a PathChecker wants read about its path.
type PathCheck struct {
	Path string // absolute
	// Sum reads a regular file's SHA-256.
	Sum bool
	// FetchMax > 0 fetches the content of a regular file of at most that
	// many bytes (a larger one is not fetched: PathState.HasContent false).
	FetchMax int64
	// UnlessSum, with Sum and FetchMax, skips the fetch when the file's
	// SHA-256 is this: a file that already has the desired content is not
	// sent back.
	UnlessSum string
}

// PathState is what the batched read found about a PathCheck's path.
type PathState struct {
	Type       string // "file", "dir", "link", "other", "missing"
	Mode       uint32 // permission bits, for "file" and "dir"
	UID, GID   string
	User       string // "UNKNOWN" when the uid has no name
	Group      string
	Size       int64
	SHA256     string // "" when not asked for
	Content    []byte
	HasContent bool
	// Stale counts the temporary files of earlier, killed runs beside the
	// path (transport.StaleTemps), for the module to remove.
	Stale int
}

// StatFormat is what stat prints per path, for the batched read and for the
// Check fragments that read the same state: numbers and account names, never
// a newline, so that its output has exactly one line per path.
const StatFormat = "%a %u %g %U %G %s"

// ParseStatLine reads a line of `stat -c StatFormat` (Type is left unset).
func ParseStatLine(l string) (PathState, error) {
	f := strings.Fields(l)
	if len(f) != 6 {
		return PathState{}, fmt.Errorf("unexpected stat output %q", l)
	}
	m, err1 := strconv.ParseUint(f[0], 8, 32)
	size, err2 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil {
		return PathState{}, fmt.Errorf("unexpected stat output %q", l)
	}
	return PathState{Mode: uint32(m), UID: f[1], GID: f[2], User: f[3], Group: f[4], Size: size}, nil
}
