package modules

// release: application releases with an atomic current switch, health
// check and rollback (docs/releases.md).
func init() {
	builtins = append(builtins, releaseModule{})
}
