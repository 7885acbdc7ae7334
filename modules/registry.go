package modules

import "github.com/drover-cm/drover/modules/contract"

// builtins lists every module type. Add new modules here.
var builtins = []contract.Module{
	// Files and commands.
	fileModule{},
	directoryModule{},
	copyModule{},
	templateModule{},
	lineModule{},
	iniModule{}, // the worked example of docs/writing-a-module.md
	symlinkModule{},
	commandModule{},
	shellModule{},
	// The OS-facing modules: packages and services. They use the host's
	// facts (package manager, init system) or an attribute that names one;
	// package finds its manager on the host when neither is there.
	packageModule{},
	serviceModule{},
	// Accounts, cron, kernel parameters, fetched files, archives, git
	// checkouts and readiness waits.
	User{}, Group{}, Cron{}, Sysctl{}, Download{}, Archive{}, Git{}, WaitFor{},
	// Generated init integration (modules/initgen) driven through
	// modules/initsys.
	initServiceModule{},
	// Application releases with an atomic current switch, health check and
	// rollback (docs/releases.md).
	releaseModule{},
	// Read-only commands for runbooks (probe.go).
	probeModule{},
}

var catalog = contract.NewCatalog(builtins...)

// Catalog is every built-in module, as the engine takes it (config.LoadFiles
// and the other loaders).
func Catalog() contract.Catalog { return catalog }

// Lookup returns the module with the given type name.
func Lookup(name string) (contract.Module, bool) { return catalog.Lookup(name) }

// All returns every module, sorted by name.
func All() []contract.Module { return catalog.All() }
