// Package contract is what every part of drover agrees a module is: the
// types a module implements (Module, Task) and the values it exchanges with
// the engine (Spec, Config, CheckOutput, Plan, Step, ...). It is a leaf: it
// imports only engine/transport, engine/facts and cty, so that the engine
// (config, report, run, remote) can use modules without importing their
// implementations, which live in package modules.
//
// Every module follows the same three steps, after pyinfra's operations and
// Terraform's provider protocol:
//
//  1. Check: a read-only POSIX sh fragment that prints the current state.
//     The engine joins the fragments of every task on a host into one remote
//     script, so reading the state of a whole play costs one round trip.
//     Tasks whose state is one path (file, directory, line) implement
//     PathChecker: engine/remote reads all their paths with one stat and one
//     sha256sum instead of a fragment each.
//  2. Diff: a pure function from (desired config, Check output) to a Plan:
//     the changes a user sees and the Steps that make them. Table-testable
//     without any host.
//  3. Apply: the engine runs the Steps (engine/remote). Each Step is
//     idempotent and atomic on its own (files are written to a temporary
//     name and renamed), so it is correct even when the state changed
//     between Check and Apply.
//
// A module never talks SSH itself: Steps are scripts and uploads that the
// engine runs over the host's transport.Conn, or, where shell is not enough,
// a Func that is handed the Conn.
package contract

import (
	"context"
	"io"
	"io/fs"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/drover-cm/drover/engine/facts"
	"github.com/drover-cm/drover/engine/transport"
)

// Module is a task type.
type Module interface {
	// Spec describes the module's attributes, for decoding, docs and checks.
	Spec() *Spec
	// Configure validates a decoded configuration for one host and returns the
	// task to run there. It does no I/O on the host; it may read local files
	// (a copy's source). Errors about one attribute are *AttrError so that the
	// engine can point at that attribute in the playbook.
	Configure(cfg Config) (Task, error)
}

// Spec describes a module type.
type Spec struct {
	Name    string
	Summary string // one line
	Doc     string // a paragraph or two, for `drover modules NAME`
	// Attributes the module accepts, in the order docs list them. The engine
	// decodes the task block with them; meta-arguments (when, for_each, count,
	// depends_on, notify, sensitive, become, run_once, delegate_to) are the
	// engine's, not here.
	Attributes []Attribute
	// Outputs are values a later task can reference once this task has run
	// (e.g. a command's stdout), besides the attributes themselves.
	Outputs []Attribute
	// Example is a complete task block, shown in docs and tested to validate.
	Example string
	// ReadOnly is true when the module can never change a host's state. Only
	// read-only modules are allowed in runbooks; the engine enforces it.
	ReadOnly bool
	// NeedsFacts is true when Configure needs the host's facts (which
	// package manager, which init system): the engine then gathers them
	// for every play that uses the module.
	NeedsFacts bool
}

// Attribute is one argument of a module.
type Attribute struct {
	Name      string
	Type      cty.Type
	Required  bool
	Default   cty.Value // cty.NilVal when there is none
	Sensitive bool      // its value is masked in every output
	Doc       string
	// Block, for a map attribute, means it is written as a nested block,
	// `NAME { key = value }`, instead of `NAME = { key = value }`.
	Block bool
}

// Config is what Configure receives. It is a struct so it can grow (facts,
// host info) without changing every module.
type Config struct {
	// Values is an object with one attribute per Spec attribute; attributes
	// not set in the playbook hold their Default or a null of their type.
	Values cty.Value
	// Dir is the directory of the playbook file that declared the task, for
	// resolving relative local paths.
	Dir string
	// Root is the playbook's directory: a local path must lead inside it or
	// AllowLocal (see modules.LocalPath). "" means Dir.
	Root string
	// AllowLocal are further directories the operator allowed local paths
	// in (--allow-local).
	AllowLocal []string
	// Host is the inventory name of the target, for messages.
	Host string
	// Functions are the playbook language's functions (go-cty stdlib, file,
	// templatefile, ...), for modules that render templates.
	Functions map[string]function.Function
	// Facts about the host, when the play gathered them (nil otherwise).
	// Modules that depend on the OS (package, service) require them.
	Facts *facts.Facts
	// Name is the task's label (init_service "redis" → "redis"), for
	// modules whose name attribute defaults to it.
	Name string
}

// TemplateVars is implemented by modules whose string attributes are
// templates the module expands itself, once per instance of something it
// manages (init_service's ${instance}). Each returned name is a variable in
// the task's expressions whose value is the literal text "${NAME}", so
// "/etc/redis/${instance}.conf" reaches Configure unchanged and the module
// substitutes it. Only plain interpolation is meaningful: a function applied
// to the variable sees the placeholder text, not an instance name.
type TemplateVars interface {
	TemplateVars() []string
}

// Task is one configured module instance on one host.
type Task interface {
	// Check returns a read-only POSIX sh fragment whose output describes the
	// current state. It runs in a subshell among other tasks' fragments: it
	// must not exit the shell, read stdin, or change anything. Return "" when
	// the task needs no state (it then gets an empty CheckOutput).
	Check() string
	// Diff compares desired state with the output of Check. It is pure.
	Diff(out CheckOutput) (*Plan, error)
}

// Resource is something on a host that tasks create or use, so the engine can
// infer ordering: a file inside a directory another task manages, a file owned
// by a user another task creates.
type Resource struct {
	Kind string // "path", "user", "group", "package", "service"
	Name string // an absolute path, a user name, ...
}

// Relations is implemented by tasks that create or use resources. The engine
// adds an edge from the task that Provides a resource to every task that Uses
// it (for "path", a task using a path also uses every parent directory).
type Relations interface {
	Provides() []Resource
	Uses() []Resource
}

// OrderOnly is implemented by a Relations task some of whose Uses only
// order it: it runs after their providers, but its state read does not
// read them, so a change to them leaves that read fresh and the engine
// does not read it again (a symlink uses its target, and reads only the
// link).
type OrderOnly interface {
	OrdersOnly() []Resource
}

// CheckOutput is what a Check fragment printed and how it exited.
type CheckOutput struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	// Path is what the batched state read (engine/remote) read for a PathChecker task instead of running
	// its fragment; nil otherwise, and when reading it failed (ExitCode and
	// Stderr say why).
	Path *PathState
	// Facts is what the batched read gathered for a FactChecker task (its
	// CheckRest's output is in Stdout); nil otherwise: FactsOf then reads
	// the facts its Check printed.
	Facts *FactSet
	// Shared is what the batched read's shared reads printed for a
	// SharedChecker task, one CheckOutput per key it named, in order (its
	// CheckRest's output is in Stdout); nil otherwise: its Diff then reads
	// what its own Check printed.
	Shared []CheckOutput
}

// Plan is what a task will do on a host. No Changes means the host's state
// stays as it is; Steps still run when there are any (wait_for probes and
// changes nothing), and the task is then reported ok, not changed.
type Plan struct {
	Changes []Change
	Steps   []Step
	// Writes, when set, is what the plan leaves in one regular file once
	// it applied: its whole content (line writes the edited file). A later
	// task of the run that edits the same file (a ContentEditor) is then
	// planned from it instead of reading the file again after this plan
	// ran: the engine keeps such chains of edits in one batch.
	Writes *FileWrite
}

// FileWrite is the whole content a plan leaves in the file at Path.
type FileWrite struct {
	Path    string
	Content []byte
}

// ContentEditor is a task whose plan depends only on the content of the
// one regular file it edits (EditedPath): DiffContent is what Diff returns
// for a state read that found that file holding content. Its step must
// still check, on the host, that the file is that content (line checks
// its SHA-256 and fails with "re-run" otherwise), since the content is a
// prediction from an earlier plan's Writes, not a read.
type ContentEditor interface {
	EditedPath() string
	DiffContent(content []byte) (*Plan, error)
}

// Changed reports whether the plan changes anything.
func (p *Plan) Changed() bool { return p != nil && len(p.Changes) > 0 }

// Action is the kind of a change, as plan output shows it.
type Action int

const (
	Create Action = iota // + create
	Update               // ~ update
	Delete               // - delete
	Run                  // > run (a command that will be executed)
)

func (a Action) Symbol() string {
	return [...]string{"+", "~", "-", ">"}[a]
}

func (a Action) String() string {
	return [...]string{"create", "update", "delete", "run"}[a]
}

// Change is one change a user sees in a plan.
type Change struct {
	Action  Action
	Subject string // what changes, e.g. "/etc/nginx/conf.d/app.conf"
	Attrs   []AttrChange
	// Diff is a unified diff of the content, "" when content does not change
	// or is not text.
	Diff string
	// Sensitive masks Diff and attribute values in every output.
	Sensitive bool
}

// AttrChange is one attribute going from Old to New ("" when absent).
type AttrChange struct {
	Name     string
	Old, New string
}

// Step is one unit of work that applies (part of) a plan. Steps of a task run
// in order; a failed step stops the task.
type Step struct {
	// Uploads are pushed to the host before Script runs.
	Uploads []Upload
	// Script is POSIX sh run with `set -e`; it must be idempotent. Its stdout
	// and stderr are the task's output (see Spec.Outputs).
	Script string
	// Func, when set, is run instead of Script, for work that shell cannot do
	// well. It must be idempotent too. It gets the host's connection.
	Func func(ctx context.Context, conn transport.Conn) (transport.Result, error)
}

// Upload is a file pushed to the host (atomically, by transport.Conn.Put).
type Upload struct {
	Path string      // remote path; usually a temporary name the Script renames
	Mode fs.FileMode // mode of the uploaded file
	// Open returns the content. It is called once per upload.
	Open func() (io.ReadCloser, error)
	Size int64 // for progress and stats; -1 if unknown
}

// NeedsError is returned by Diff when the task cannot be planned because a
// resource it Uses is missing on the host (the line module: the file it
// edits does not exist). When a task that runs earlier in the play Provides
// that resource and has changes, the engine can show this task as known only
// after apply and diff it again then; otherwise it is an ordinary error.
type NeedsError struct {
	Resource Resource
	Err      error
}

func (e *NeedsError) Error() string { return e.Err.Error() }

func (e *NeedsError) Unwrap() error { return e.Err }

// AttrError is a configuration error about one attribute.
type AttrError struct {
	Attr string
	Msg  string
	// Err is the underlying error, when there is one: for a template, the
	// hcl.Diagnostics with the template file's ranges (so the engine can show
	// a source snippet of the template).
	Err error
}

func (e *AttrError) Error() string { return e.Attr + ": " + e.Msg }

func (e *AttrError) Unwrap() error { return e.Err }
