package modules

// probe: read-only commands for runbooks (see probe.go).
func init() {
	builtins = append(builtins, probeModule{})
}
