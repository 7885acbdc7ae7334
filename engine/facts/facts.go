// Package facts gathers what drover knows about a host before planning: OS,
// kernel, architecture, resources, init system, package manager, addresses.
// Facts are read once per host per run, in the same round trip as task state.
package facts

// Facts describe one host. Zero values mean "unknown".
type Facts struct {
	Hostname       string   `json:"hostname"`
	OSFamily       string   `json:"os_family"`  // debian, redhat, alpine, arch, suse, ...
	OSID           string   `json:"os_id"`      // ID from /etc/os-release: debian, ubuntu, fedora, ...
	OSVersion      string   `json:"os_version"` // VERSION_ID: 12, 22.04, 3.20, ...
	OSCodename     string   `json:"os_codename"`
	OSPretty       string   `json:"os_pretty"`
	Kernel         string   `json:"kernel"` // uname -r
	Arch           string   `json:"arch"`   // uname -m
	CPUs           int      `json:"cpus"`
	MemoryMB       int      `json:"memory_mb"`
	InitSystem     string   `json:"init_system"`     // systemd, openrc, sysv, none
	PackageManager string   `json:"package_manager"` // apt, dnf, yum, apk, ""
	Addresses      []string `json:"addresses"`       // primary (non-loopback) addresses
	User           string   `json:"user"`            // the login user
}
