package contract

import (
	"strings"

	"regexp"
	"strconv"

	"github.com/zclconf/go-cty/cty"
)

// What the runbook engine (engine/run) needs of the probe module and of a
// configured probe, so that it runs probes and reports them without
// importing the module.

// ProbeModule is a read-only module whose tasks runbooks run as probes.
type ProbeModule interface {
	Module
	// ValueType is the type of probe.NAME before a host answered.
	ValueType() cty.Type
	// StatusValue is probe.NAME for a probe that produced no output to
	// parse (skipped, not evaluated, or its batch failed): status says why.
	StatusValue(status string) cty.Value
}

// Prober is a configured probe.
type Prober interface {
	Task
	// Result interprets the output of Check.
	Result(out CheckOutput) *ProbeResult
	// TimeoutSeconds is how long the command may run before it is cut.
	TimeoutSeconds() float64
}

// Probe statuses, as reports and checks (probe.NAME.status) show them.
const (
	ProbeOK           = "ok"
	ProbeFailed       = "failed"
	ProbeTimeout      = "timeout"
	ProbeNotAvailable = "not available"
	// ProbeRefused: --require-enforced kept a root probe from running
	// without read-only enforcement.
	ProbeRefused = "refused"
)

// ReadOnlyEnforced is the guarantee of a root probe run in the read-only
// mount namespace (modules/probe_readonly.go).
const ReadOnlyEnforced = "enforced (mount namespace, no capabilities to undo it)"

// ReadOnlyEnforcedBusybox is the guarantee of a root probe enforced with
// busybox's applets (no util-linux setpriv): the same read-only mount
// namespace and uid 65534 without groups, capabilities or a way to gain
// them (no_new_privs), but without CAP_DAC_READ_SEARCH, so the probe reads
// only the files uid 65534 may read.
const ReadOnlyEnforcedBusybox = "enforced (mount namespace, busybox: no capabilities, no_new_privs; reads only what uid 65534 may)"

// ReadOnlyNotEnforced reports whether a read-only guarantee is "not
// enforced: WHY".
func ReadOnlyNotEnforced(g string) bool { return strings.HasPrefix(g, "not enforced: ") }

// ProbeResult is what a probe found on a host.
type ProbeResult struct {
	Status    string
	Ran       string // the command that ran; "" when none could
	ExitCode  int
	Stdout    string
	Stderr    string
	Truncated bool
	Missing   []string // programs not found when nothing could run
	// Value is the probe's object as checks see it (probe.NAME): the outputs
	// listed in the Spec.
	Value cty.Value
	// ParseError says why the output could not be parsed (format, regex).
	ParseError string
	// ReadOnly is the guarantee the command ran under: "enforced (...)",
	// "by permissions of user X" or "not enforced: WHY"; "" when none ran.
	ReadOnly string
}

// CommandHinter is implemented by read-only modules whose attributes hold
// shell code (probe): drover cannot prove that such code only reads, so the
// runbook loader warns about commands that obviously write.
type CommandHinter interface {
	// MutatingHint returns why command, the value of attribute attr, looks
	// like it changes the host; "" when nothing obvious is seen or attr
	// holds no command.
	MutatingHint(attr, command string) string
}

var numberRe = regexp.MustCompile(`-?[0-9]+(?:\.[0-9]+)?`)

// ParseNumber returns the first number in s ("93%" → 93, "load average:
// 0.52" → 0.52), or false: the one rule for a number in command output,
// for the probe module's number format and runbooks' num().
func ParseNumber(s string) (float64, bool) {
	m := numberRe.FindString(s)
	if m == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(m, 64)
	return f, err == nil
}
