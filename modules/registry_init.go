package modules

// init_service: generated init integration (modules/initgen) driven through
// modules/initsys.
func init() {
	builtins = append(builtins, initServiceModule{})
}
