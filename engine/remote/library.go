package remote

import (
	"strings"
	"sync"
)

// A shell library is text that defines functions (and sets variables, with
// no other effect) for the step scripts that begin with it: safeFS's
// functions, which every file-writing step includes. ApplyAll defines each
// library once at the top of a batch script and strips it from the steps
// there (they run in subshells of that script and inherit its functions):
// the host then parses it, and runs its setup commands, once per batch
// instead of once per step. A step run on its own (Apply) keeps its copy.
// Only text registered with Library is moved, never a user's script. A
// library names its functions and variables with a prefix of its own: it
// runs in the batch script's shell, beside the frame's d, m, x, f, c and
// stop. It may list directories to fsync in $_fsyncs (syncLater) when that
// is set.
var libraries struct {
	sync.RWMutex
	texts []string
}

// Library registers text as a shell library and returns it.
func Library(text string) string {
	libraries.Lock()
	defer libraries.Unlock()
	for _, l := range libraries.texts {
		if l == text {
			return text
		}
	}
	libraries.texts = append(libraries.texts, text)
	return text
}

// splitLibraries returns the registered libraries script begins with, in
// order, and the rest of script.
func splitLibraries(script string) (libs []string, rest string) {
	libraries.RLock()
	defer libraries.RUnlock()
	for {
		found := false
		for _, l := range libraries.texts {
			if l != "" && strings.HasPrefix(script, l) {
				libs = append(libs, l)
				script = script[len(l):]
				found = true
			}
		}
		if !found {
			return libs, script
		}
	}
}
