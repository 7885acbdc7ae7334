package report

// KindPhase is a host entering a stage of its play that no task event
// covers: connecting, gathering its facts, reading the state of its tasks,
// and then applying them. The live view shows it on the host's line (a host
// that connects for seconds has a line of its own, not only the count of
// hosts done); nothing else on a terminal draws it, and the recap does not
// count it. Detail is *HostPhase.
const KindPhase Kind = "host_phase"

// The phases, in the order a play goes through them (facts only when the
// play reads them; applying only for apply). A host in several plays goes
// through them once per play.
const (
	PhaseConnecting = "connecting"
	PhaseFacts      = "gathering facts"
	PhaseReading    = "reading state"
	PhaseApplying   = "applying"
)

// HostPhase is the detail of a KindPhase event.
type HostPhase struct {
	Phase string `json:"phase"`
	// Tasks is, for reading state, the number of task instances whose
	// state is read; for applying, the number to go through (known so far:
	// a for_each known only after earlier tasks adds more when reached).
	Tasks int `json:"tasks,omitempty"`
}

func init() {
	registerRenderer(KindPhase, func(*Printer, Event) {}) // the live view shows it
	detailTypes[KindPhase] = func() any { return new(HostPhase) }
}
