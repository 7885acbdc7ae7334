package contract

import "sort"

// Catalog is the set of module types a playbook can use. The engine is
// handed it as a value (cmd/drover passes modules.Catalog()), the way
// Terraform's core is handed its providers' schemas: no engine package
// imports a module implementation, and tests give their own modules.
type Catalog interface {
	// Lookup returns the module with the given type name.
	Lookup(name string) (Module, bool)
	// All returns every module, sorted by name.
	All() []Module
}

// NewCatalog is the catalog of the given modules.
func NewCatalog(ms ...Module) Catalog {
	all := append([]Module(nil), ms...)
	sort.Slice(all, func(i, j int) bool { return all[i].Spec().Name < all[j].Spec().Name })
	return listCatalog(all)
}

type listCatalog []Module

func (c listCatalog) Lookup(name string) (Module, bool) {
	for _, m := range c {
		if m.Spec().Name == name {
			return m, true
		}
	}
	return nil, false
}

func (c listCatalog) All() []Module { return append([]Module(nil), c...) }
