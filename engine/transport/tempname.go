package transport

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/drover-cm/drover/engine/shell"
)

// The one temporary-name scheme for uploads and atomic writes, Go side
// (modules' safeFS steps, the batched inline uploads and Put all use it):
//
//	<dir>/.<base>.drover-<run>-<rand>
//
// <run> is the run's id, the Unix second this process started (ten digits),
// so a later run can tell debris of an earlier one from its own files by
// name alone; <rand> is 12 hex digits for a file Go names, or 12 letters and
// digits for a private directory that mktemp -d makes on the host (safeFS's
// staging directories, StageTemplate). A name is never derived from another
// temporary name: Put writes a name of this scheme directly (IsTempName),
// without a second temporary file of its own. StaleTempGlob is the shell
// pattern that matches exactly these names beside a path.
var runID = strconv.FormatInt(time.Now().Unix(), 10)

// RunID is this run's id as it appears in temporary names.
func RunID() string { return runID }

// maxTempBase keeps <base> plus the suffix under NAME_MAX (255).
const maxTempBase = 180

// TempSuffix is a fresh "<run>-<rand>" for a temporary name.
func TempSuffix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return runID + "-" + hex.EncodeToString(b[:])
}

// TempNameWith is the temporary name beside p with the given suffix
// (TempSuffix; tests pass a fixed one).
func TempNameWith(p, suffix string) string {
	dir, base := path.Split(p)
	return dir + "." + tempBase(base) + ".drover-" + suffix
}

// TempName is a fresh temporary name beside p (so that a rename over p is
// atomic), hidden and recognisable.
func TempName(p string) (string, error) {
	_, base := path.Split(p)
	if base == "" || base == "." || base == ".." {
		return "", fmt.Errorf("%q is not a file path", p)
	}
	return TempNameWith(p, TempSuffix()), nil
}

func tempBase(base string) string {
	if len(base) > maxTempBase {
		return base[:maxTempBase]
	}
	return base
}

const (
	runGlob = "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"
	// One character of <rand>: mktemp's letters and digits (a superset of
	// the hex digits Go writes). A class, not a range, so that no locale's
	// collation order widens it; in a UTF-8 locale it may match other
	// letters too, which the loop's checks of owner, type and mode make
	// harmless.
	randChar = "[[:alnum:]]"
	randSet  = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

var randGlob = strings.Repeat(randChar, 12)

// MaxTempBase is how much of a name its temporary names keep (bytes):
// shell code that names a temporary beside NAME (safeFS's drover_stage)
// cuts NAME to it as tempBase does.
const MaxTempBase = maxTempBase

// IsTempName reports whether the last element of p is a name of the scheme.
func IsTempName(p string) bool {
	base := path.Base(p)
	i := strings.LastIndex(base, ".drover-")
	if i < 1 || base[0] != '.' {
		return false
	}
	s := base[i+len(".drover-"):]
	run, rnd, ok := strings.Cut(s, "-")
	return ok && len(run) == 10 && len(rnd) == 12 && allIn(run, "0123456789") && allIn(rnd, randSet)
}

func allIn(s, set string) bool {
	for _, c := range s {
		if !strings.ContainsRune(set, c) {
			return false
		}
	}
	return true
}

// StaleTempGlob is the shell pattern (quoted where it must be) matching
// exactly the temporary names of the scheme beside a file named base, in its
// directory: glob characters in base are quoted, so they match themselves.
func StaleTempGlob(base string) string {
	return shell.Quote("."+tempBase(base)+".drover-") + runGlob + "-" + randGlob
}

// putTemp is the name Put writes before renaming it over p: p itself when p
// is already a temporary name of the scheme (a module's upload, installed
// later by its own step; created exclusively, so it must be fresh), else a
// new one beside p.
func putTemp(p string) (string, error) {
	if IsTempName(p) {
		return p, nil
	}
	return TempName(p)
}

// StaleTemps is a shell loop over the temporary entries of the scheme beside
// the file base in the directory dir ("" for "."): those of an earlier run
// (their run id below this one's) owned by the user the script runs as that
// are regular files (an upload or a new file before its rename), symbolic
// links (a new link before its rename: the link itself, never its target),
// or directories of mode 0700 (02700 under a setgid parent), the private
// staging directories mktemp -d makes (safeFS). stat reads the entry
// itself, never a link's target. For each it runs action with the
// name in $_df (safeFS's drover_rmstale removes one without following or
// entering anything another user controls). An entry of another user, of
// another mode, or of this or a later run (a concurrent upload), is never
// touched. Only the shell's own glob runs when there is none, so a state
// read can afford it.
func StaleTemps(dir, base, action string) string {
	return staleLoop(dirPrefix(dir)+StaleTempGlob(base), action)
}

// StaleTempsIn is StaleTemps for the temporary entries beside every name in
// dir, for a directory drover alone writes in (the release module's).
func StaleTempsIn(dir, action string) string {
	return staleLoop(dirPrefix(dir)+".*.drover-"+runGlob+"-"+randGlob, action)
}

func dirPrefix(dir string) string {
	if dir == "" {
		return ""
	}
	return shell.Quote(strings.TrimSuffix(dir, "/") + "/")
}

func staleLoop(glob, action string) string {
	return "for _df in " + glob + "; do _dr=${_df##*.drover-}; _dr=${_dr%%-*}; " +
		"if [ \"$_dr\" -lt " + runID + " ] 2>/dev/null; then " +
		"_du=$(id -u); case $(stat -c '%u %a %F' -- \"$_df\" 2>/dev/null) in " +
		"\"$_du \"*\" regular file\" | \"$_du \"*\" regular empty file\" | \"$_du \"*\" symbolic link\" | \"$_du 700 directory\" | \"$_du 2700 directory\") " + action + " ;; esac; fi; done\n"
}

// CountStaleTemps is the shell lines that set $_dk to the number of
// StaleTemps beside p.
func CountStaleTemps(p string) string {
	dir, base := path.Split(p)
	if dir == "" {
		dir = "/"
	}
	return "_dk=0; " + StaleTemps(dir, base, "_dk=$((_dk + 1))")
}
