// Package config loads drover playbooks: HCL files into source structs.
//
// Nothing here is evaluated. Expressions stay hcl.Expression and task bodies
// stay hcl.Body, because drover evaluates them once per host (host variables
// and facts differ); engine/run does that with contexts from engine/lang.
// What can be checked without values is checked here, with diagnostics that
// point at the offending range: unknown module types and attributes, undeclared
// variables, locals and tasks, duplicate names, misplaced each/count.
package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/drover-cm/drover/modules/contract"
)

// Playbook is what one or more playbook files declare.
type Playbook struct {
	// Dir is the playbook's root directory: the directory of the first file.
	// Local files (file(), templatefile(), a copy's source, ...) may be read
	// only inside it and AllowLocal (engine/localpath).
	Dir string
	// AllowLocal are further directories local files may be read in. Only the
	// operator sets them (--allow-local), never the playbook.
	AllowLocal []string
	Variables  map[string]*Variable
	// VariableOrder lists variable names in declaration order.
	VariableOrder []string
	Locals        map[string]*Local
	LocalOrder    []string
	Plays         []*Play
	// Provisions are the provision blocks (see provision.go), applied
	// before the plays.
	Provisions []*Provision
	// modules are the module types the playbook was loaded with.
	modules contract.Catalog
}

// Variable is a `variable "name" {}` block.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint; cty.DynamicPseudoType when the
	// block has no type.
	Type cty.Type
	// TypeDefaults fills optional(attr, default) object attributes.
	TypeDefaults *typeexpr.Defaults
	// Default is cty.NilVal when there is none (the variable is then required).
	Default     cty.Value
	Sensitive   bool
	Validations []*Validation
	DeclRange   hcl.Range
}

// Validation is a `validation {}` block inside a variable.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one attribute of a `locals {}` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Play is a `play "name" {}` block: tasks to run on the hosts it selects.
type Play struct {
	Name string
	// Hosts is an inventory pattern expression ("web:&prod"); it may use
	// var.* and local.* but not host.*.
	Hosts      hcl.Expression
	Become     hcl.Expression // nil when not set
	BecomeUser hcl.Expression // nil when not set
	// Serial (a count or a percentage of the play's hosts) makes the play a
	// rolling update in batches; MaxFail is how many hosts (count or
	// percentage) may fail before no further batch starts. Nil when not set.
	Serial  hcl.Expression
	MaxFail hcl.Expression
	// Tasks and Handlers are the play's own and, once loaded, those of the
	// stacks it calls (Task.Call set), each where its call is written;
	// tasks inside blocks are there too (Task.Blocks says where).
	Tasks    []*Task
	Handlers []*Task
	// Blocks are the play's block blocks (block.go), outer before inner.
	Blocks []*Block
	// Calls are the play's stack calls; AllCalls every call, nested ones
	// too, each after the call holding it.
	Calls     []*StackCall
	AllCalls  []*StackCall
	DeclRange hcl.Range
	// stack: this is a stack's unit, not a play.
	stack bool
}

// describe names the play, or the stack, in messages.
func (p *Play) describe() string {
	if p.stack {
		return fmt.Sprintf("Stack %s", p.Name)
	}
	return fmt.Sprintf("Play %q", p.Name)
}

// Task returns the play's own task (not a stack's) with the given type and
// name, or nil.
func (p *Play) Task(typ, name string) *Task {
	for _, t := range p.Tasks {
		if t.Type == typ && t.Name == name && t.Call == nil {
			return t
		}
	}
	return nil
}

// Handler returns the play's own handler with the given name, or nil.
func (p *Play) Handler(name string) *Task {
	for _, h := range p.Handlers {
		if h.Name == name && h.Call == nil {
			return h
		}
	}
	return nil
}

// Call returns the play's stack call named name, or nil.
func (p *Play) Call(name string) *StackCall {
	for _, c := range p.Calls {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Task is a `<module type> "<name>" {}` block in a play, or the task inside a
// `handler "<name>" {}` block (then Handler is true and Name is the handler's).
type Task struct {
	Type   string // module type, e.g. "template"
	Name   string
	Module contract.Module
	// Spec decodes Body; it is built from the module's attributes.
	Spec hcldec.Spec
	// Body holds the module's attributes, meta-arguments removed.
	Body hcl.Body

	// Meta-arguments, nil when not set.
	When       hcl.Expression
	ForEach    hcl.Expression
	Count      hcl.Expression
	Sensitive  hcl.Expression
	Become     hcl.Expression
	BecomeUser hcl.Expression
	// RunOnce (a bool) runs the task on the first host of the play's batch
	// only, the others taking its outcome; DelegateTo (a host name) runs it
	// over another host's connection. See engine/run/once.go and
	// delegate.go.
	RunOnce    hcl.Expression
	DelegateTo hcl.Expression
	DependsOn  []Ref
	Notify     []Ref
	// Failure handling and conditions on results (block.go): OnFailure is
	// "" (stop) or "continue"; the others are nil when not set.
	OnFailure   string
	Retries     hcl.Expression
	RetryDelay  hcl.Expression
	Until       hcl.Expression
	ChangedWhen hcl.Expression
	FailedWhen  hcl.Expression
	// Blocks are the blocks around the task, outermost first, with the
	// section it is in; empty for a task directly in the play.
	Blocks []BlockPos

	// Refs are the other tasks this one's expressions refer to (in its body
	// and meta-arguments), in source order, without duplicates; StackRefs
	// the outputs of stack calls they use.
	Refs      []Ref
	StackRefs []StackRef
	// Call is the stack call the task belongs to, nil for a play's own:
	// its references resolve among the call's tasks.
	Call *StackCall

	Handler bool
	// Dir is the directory of the file that declares the task.
	Dir       string
	DeclRange hcl.Range // the block header
	TypeRange hcl.Range
	NameRange hcl.Range
}

// Addr is the task's address as the language writes it: "template.site", or
// "handler.reload" for a handler.
func (t *Task) Addr() string {
	if t.Call != nil {
		return t.Call.Addr() + "." + t.LocalAddr()
	}
	return t.LocalAddr()
}

// LocalAddr is the address within the task's play or stack: template.site.
func (t *Task) LocalAddr() string {
	if t.Handler {
		return "handler." + t.Name
	}
	return blockPrefix(t.Blocks) + t.Type + "." + t.Name
}

// Ref is a reference to a task (directory.app) or handler (handler.reload).
type Ref struct {
	Type  string // module type, or "handler"
	Name  string
	Range hcl.Range
}

// Addr is "type.name".
func (r Ref) Addr() string { return r.Type + "." + r.Name }

// Convert converts a value given for the variable to its type, filling the
// defaults of optional object attributes.
func (v *Variable) Convert(val cty.Value) (cty.Value, error) {
	if v.TypeDefaults != nil && !val.IsNull() {
		val = v.TypeDefaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}
