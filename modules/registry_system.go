package modules

// The OS-facing modules: packages and services. They use the host's facts
// (package manager, init system) or an attribute that names one; package
// finds its manager on the host when neither is there.
func init() {
	builtins = append(builtins, packageModule{}, serviceModule{})
}
