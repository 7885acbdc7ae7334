package modules

// The OS-facing modules: packages and services. They need the host's facts
// (package manager, init system) or an attribute that names one.
func init() {
	builtins = append(builtins, packageModule{}, serviceModule{})
}
