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
