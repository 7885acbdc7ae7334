package modules

import "sort"

// builtins lists every module type. Add new modules here.
var builtins = []Module{
	fileModule{},
	directoryModule{},
	copyModule{},
	templateModule{},
	lineModule{},
	symlinkModule{},
	commandModule{},
	shellModule{},
}

// Lookup returns the module with the given type name.
func Lookup(name string) (Module, bool) {
	for _, m := range builtins {
		if m.Spec().Name == name {
			return m, true
		}
	}
	return nil, false
}

// All returns every module, sorted by name.
func All() []Module {
	out := append([]Module(nil), builtins...)
	sort.Slice(out, func(i, j int) bool { return out[i].Spec().Name < out[j].Spec().Name })
	return out
}
