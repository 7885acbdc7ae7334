// Package modules holds drover's module implementations (file, directory,
// template, command, package, user, release, ...) and the catalog that
// lists them (registry.go). What a module is, and the values it exchanges
// with the engine, is package modules/contract; the engine runs the steps
// of a plan with engine/remote.
//
// Adding a module: write a type with Spec and Configure, a Task with Check and
// Diff, add it to the list in registry.go, and a test that applies it twice
// on a fleet host (the second apply must report no change).
package modules

import "github.com/drover-cm/drover/modules/contract"

// The contract's types under the short names the implementations here use.
// Code outside this package names them contract.X.
type (
	Module       = contract.Module
	Spec         = contract.Spec
	Attribute    = contract.Attribute
	Config       = contract.Config
	TemplateVars = contract.TemplateVars
	Task         = contract.Task
	Resource     = contract.Resource
	Relations    = contract.Relations
	CheckOutput  = contract.CheckOutput
	Plan         = contract.Plan
	Action       = contract.Action
	Change       = contract.Change
	AttrChange   = contract.AttrChange
	Step         = contract.Step
	Upload       = contract.Upload
	NeedsError   = contract.NeedsError
	AttrError    = contract.AttrError
	PathChecker  = contract.PathChecker
	PathCheck    = contract.PathCheck
	PathState    = contract.PathState
	StepError    = contract.StepError
)

const (
	Create = contract.Create
	Update = contract.Update
	Delete = contract.Delete
	Run    = contract.Run
)
