package contract

import (
	"fmt"
	"strings"

	"github.com/drover-cm/drover/engine/transport"
)

// StepError is a step of a plan that failed: a command exiting non-zero or
// killed, or an upload that could not be written.
type StepError struct {
	Step     int    // index in Plan.Steps
	ExitCode int    // 0 for a failed upload or Func
	Stderr   string // the last lines of the command's stderr, trimmed
	Err      error  // the cause for uploads, Funcs and signals
}

func (e *StepError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	msg := fmt.Sprintf("exit status %d", e.ExitCode)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// StepFailure is how step ended, as an error: nil when the command ran and
// exited 0, otherwise a *StepError holding the exit status, the end of its
// stderr, and the cause (err from the transport or a Func, or the signal
// that killed the command). Every place that runs a step's command maps its
// result through here, so a failure reads the same wherever it happened.
func StepFailure(step int, res transport.Result, err error) error {
	switch {
	case err != nil:
		return &StepError{Step: step, ExitCode: res.ExitCode, Stderr: StderrTail(res.Stderr, ""), Err: err}
	case res.Signal != "":
		return &StepError{Step: step, ExitCode: res.ExitCode, Stderr: StderrTail(res.Stderr, ""),
			Err: fmt.Errorf("killed by signal %s%s", res.Signal, StderrTail(res.Stderr, ": "))}
	case res.ExitCode != 0:
		return &StepError{Step: step, ExitCode: res.ExitCode, Stderr: StderrTail(res.Stderr, "")}
	}
	return nil
}

// StderrTail returns the last 20 lines of stderr, trimmed, after prefix; ""
// when stderr is blank.
func StderrTail(stderr []byte, prefix string) string {
	s := strings.TrimSpace(string(stderr))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 20 {
		lines = append([]string{fmt.Sprintf("[… %d earlier lines]", len(lines)-20)}, lines[len(lines)-20:]...)
	}
	return prefix + strings.Join(lines, "\n")
}
