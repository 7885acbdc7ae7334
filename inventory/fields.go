package inventory

import (
	"errors"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// The connection settings, described once. Each row of fields says how one
// setting is spelled in every source (HCL attribute, Ansible variables,
// ssh_config keywords, the -o options of ansible_ssh_common_args, a
// command-line flag), what type it has, how it is checked and merged, and
// how it reaches a Host. HCL and Ansible decoding, the ssh_config lookup,
// resolution, AddHost, the command-line overrides and the documentation's
// tables (checked by TestFieldDocs) all go through this table, so adding an
// option is a row here plus, where the type is new, a parse function in
// fieldparse.go.

// key identifies one connection setting; a settings layer holds its value
// at vals[key].
type key int

const (
	keyConnection key = iota
	keyAddress
	keyUser
	keyPort
	keyIdentities
	keyProxyJump
	keyKnownHosts
	keyConnectTimeout
	keyBecome
	keyBecomeUser
	keyBecomeMethod
	keyIdentitiesOnly
	keyHostKeyChecking
	numKeys
)

// kind is the Go type of a setting's value: string, int, bool, []string
// (paths) or time.Duration.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindPaths
	kindDuration
)

// scope says which HCL blocks accept a setting's attribute.
type scope int

const (
	inNone scope = iota // not an HCL attribute
	inHost              // host blocks only
	inAll               // defaults, group and host blocks
)

// mergeRule is how a setting's layers combine (lowest first: built-in
// default, ssh_config, the inventory's layers, the command line).
type mergeRule int

const (
	// mergeOver: each layer that sets the value replaces the one below;
	// the inventory beats ssh_config.
	mergeOver mergeRule = iota
	// mergeAlias: the inventory's value is the name ssh_config is looked up
	// by, and ssh_config's value (HostName) then replaces it.
	mergeAlias
)

// field is one connection setting.
type field struct {
	key  key
	name string // the HCL attribute, and the name diagnostics use
	// summary heads a diagnostic about a bad value ("Invalid <name>" when
	// empty).
	summary string
	kind    kind
	hcl     scope
	hclType string   // the HCL type, as docs/inventory.md writes it
	ansible []string // Ansible variables, the current name first
	// ssh are the ssh_config keywords read for it, the documented one
	// first; fromSSH reads them (nil: the first keyword, by kind).
	ssh     []string
	fromSSH func(c sshValues, f *field) (any, error)
	// sshArgs are the -o options of ansible_ssh_common_args/extra_args
	// taken as this setting; fromArg parses one (nil: by kind). An option
	// it returns false for is ignored with the others.
	sshArgs []string
	fromArg func(option, value string) (any, bool)
	// hclCheck is a further check of a value written in HCL.
	hclCheck func(v any) error
	// fromAnsible parses an Ansible variable's value (nil: by kind).
	fromAnsible func(v cty.Value) (any, error)
	merge       mergeRule
	// emptyUnset makes an empty string from the inventory mean "not set":
	// ssh_config or the built-in default then applies.
	emptyUnset bool
	// expand: ~, ${VAR} and OpenSSH's %-tokens in the paths are expanded
	// once the host's address, user and port are known. (Relative paths in
	// an HCL file are made relative to the file when decoded, by kind.)
	expand bool
	// builtin is the built-in default (nil: the zero value); builtinDoc
	// says it for the README's precedence table.
	builtin    func() any
	builtinDoc string
	// check validates a value whatever its source. Its message is an HCL
	// diagnostic's detail; elsewhere it completes "Host "web1": …".
	check func(v any) error
	flag  *flag
	doc   string // what it means, for docs/inventory.md's attribute table
	// get reads the setting from a Host (false when it is the zero value:
	// AddHost then fills it like a host read from a file); set stores it.
	get func(h *Host) (any, bool)
	set func(h *Host, v any)
}

// flag is a command-line flag that overrides a setting, the highest layer.
type flag struct {
	name, short, usage string
	def                string // the flag's default, as text
	// hops: the flag also applies to every ProxyJump hop, not only to the
	// selected hosts (a -u is for the targets; a timeout is per hop).
	hops bool
	// ov points at the setting's field of Overrides: *string ("" not
	// given), **bool or **time.Duration (nil not given).
	ov func(o *Overrides) any
}

// fields, in the order resolve fills a Host: connection first (it decides
// whether ssh_config applies), then address, user and port (the %-tokens of
// the paths after them need them). The order of the ssh_config keywords is
// also the README's.
var fields = [numKeys]*field{
	keyConnection: {
		name: "connection", summary: "Unsupported connection", kind: kindString,
		hcl: inAll, hclType: "string",
		ansible:     []string{"ansible_connection"},
		fromAnsible: ansibleConnection,
		builtin:     func() any { return ConnSSH }, builtinDoc: ConnSSH,
		check: oneOf("Connection %q is not supported; use \"ssh\" or \"local\"", ConnSSH, ConnLocal),
		doc:   "`\"ssh\"` (default) or `\"local\"`",
		get:   func(h *Host) (any, bool) { return h.Connection, h.Connection != "" },
		set:   func(h *Host, v any) { h.Connection = v.(string) },
	},
	keyAddress: {
		name: "address", kind: kindString, hcl: inHost, hclType: "string",
		ansible: []string{"ansible_host", "ansible_ssh_host"},
		ssh:     []string{"HostName"},
		merge:   mergeAlias, emptyUnset: true,
		hclCheck: func(v any) error {
			if v == "" {
				return errors.New("The address must not be empty; leave it out to dial the host name")
			}
			return nil
		},
		doc: "what is dialled; default the host name",
		get: func(h *Host) (any, bool) { return h.Address, h.Address != "" },
		set: func(h *Host, v any) { h.Address = v.(string) },
	},
	keyUser: {
		name: "user", kind: kindString, hcl: inAll, hclType: "string",
		ansible: []string{"ansible_user", "ansible_ssh_user"},
		ssh:     []string{"User"}, sshArgs: []string{"User"},
		emptyUnset: true,
		builtin:    func() any { return currentUser() }, builtinDoc: "the local user",
		flag: &flag{name: "user", short: "u", usage: "log in as this user (overrides the inventory)",
			ov: func(o *Overrides) any { return &o.User }},
		doc: "login user",
		get: func(h *Host) (any, bool) { return h.User, h.User != "" },
		set: func(h *Host, v any) { h.User = v.(string) },
	},
	keyPort: {
		name: "port", kind: kindInt, hcl: inAll, hclType: "number",
		ansible:     []string{"ansible_port", "ansible_ssh_port"},
		fromAnsible: ansiblePort,
		ssh:         []string{"Port"}, sshArgs: []string{"Port"},
		builtin: func() any { return defaultPort }, builtinDoc: "22",
		check: checkPort,
		doc:   "SSH port, 1–65535",
		get:   func(h *Host) (any, bool) { return h.Port, h.Port != 0 },
		set:   func(h *Host, v any) { h.Port = v.(int) },
	},
	keyIdentities: {
		name: "identity_file", kind: kindPaths, hcl: inAll, hclType: "string or list",
		ansible: []string{"ansible_ssh_private_key_file", "ansible_private_key_file"},
		ssh:     []string{"IdentityFile"}, fromSSH: sshIdentities, sshArgs: []string{"IdentityFile"},
		expand: true,
		doc:    "private keys, in order; relative paths are relative to the file",
		get:    func(h *Host) (any, bool) { return h.Identities, len(h.Identities) > 0 },
		set:    func(h *Host, v any) { h.Identities = v.([]string) },
	},
	keyProxyJump: {
		name: "proxy_jump", kind: kindString, hcl: inAll, hclType: "string",
		ssh: []string{"ProxyJump"}, fromSSH: sshProxyJump,
		sshArgs: []string{"ProxyJump", "ProxyCommand"}, fromArg: argProxyJump,
		check: checkJump,
		doc:   "`[user@]host[:port]`, comma-separated hops, outermost first; a hop may name an inventory host; `\"none\"` for direct",
		get:   func(h *Host) (any, bool) { return h.ProxyJump, h.ProxyJump != "" },
		set:   setProxyJump,
	},
	keyKnownHosts: {
		name: "known_hosts_file", kind: kindPaths, hcl: inAll, hclType: "string or list",
		ssh:     []string{"UserKnownHostsFile", "GlobalKnownHostsFile"},
		fromSSH: sshKnownHosts, sshArgs: []string{"UserKnownHostsFile", "GlobalKnownHostsFile"},
		expand: true,
		doc:    "known_hosts files to verify this host's key against, instead of OpenSSH's defaults (`--known-hosts` still overrides); relative paths are relative to the file",
		get:    func(h *Host) (any, bool) { return h.KnownHostsFiles, len(h.KnownHostsFiles) > 0 },
		set:    func(h *Host, v any) { h.KnownHostsFiles = v.([]string) },
	},
	keyConnectTimeout: {
		name: "connect_timeout", kind: kindDuration, hcl: inAll, hclType: "string or number",
		ansible:     []string{"ansible_timeout", "ansible_ssh_timeout"},
		fromAnsible: ansibleSeconds,
		ssh:         []string{"ConnectTimeout"},
		// def is transport.DefaultConnectTimeout, which applies when the
		// flag is not given.
		flag: &flag{name: "connect-timeout", def: "10s", hops: true,
			usage: "time allowed to connect and authenticate, per hop",
			ov:    func(o *Overrides) any { return &o.ConnectTimeout }},
		doc: "`\"10s\"`, `\"1m\"`, or seconds",
		get: func(h *Host) (any, bool) { return h.ConnectTimeout, h.ConnectTimeout != 0 },
		set: func(h *Host, v any) { h.ConnectTimeout = v.(time.Duration) },
	},
	keyBecome: {
		name: "become", kind: kindBool, hcl: inAll, hclType: "bool",
		ansible: []string{"ansible_become", "ansible_sudo"},
		flag: &flag{name: "become", short: "b", usage: "run as another user (root by default) with sudo",
			ov: func(o *Overrides) any { return &o.Become }},
		doc: "run commands as another user with sudo",
		get: func(h *Host) (any, bool) { return h.Become.Enabled, h.Become.Enabled },
		set: func(h *Host, v any) { h.Become.Enabled = v.(bool) },
	},
	keyBecomeUser: {
		name: "become_user", kind: kindString, hcl: inAll, hclType: "string",
		ansible:    []string{"ansible_become_user", "ansible_sudo_user"},
		emptyUnset: true,
		builtin:    func() any { return defaultBecomeUser }, builtinDoc: defaultBecomeUser,
		// Like Ansible's --become-user, it does not by itself enable become.
		flag: &flag{name: "become-user", usage: "user to become (default root)",
			ov: func(o *Overrides) any { return &o.BecomeUser }},
		doc: "default `root`",
		get: func(h *Host) (any, bool) { return h.Become.User, h.Become.User != "" },
		set: func(h *Host, v any) { h.Become.User = v.(string) },
	},
	keyBecomeMethod: {
		name: "become_method", summary: "Unsupported become method", kind: kindString,
		ansible: []string{"ansible_become_method"},
		builtin: func() any { return becomeSudo }, builtinDoc: becomeSudo,
		check: oneOf("Become method %q is not supported; drover only runs commands as another user with sudo", becomeSudo),
		get:   func(h *Host) (any, bool) { return h.Become.Method, h.Become.Method != "" },
		set:   func(h *Host, v any) { h.Become.Method = v.(string) },
	},
	keyIdentitiesOnly: {
		name: "identities_only", kind: kindBool,
		ssh: []string{"IdentitiesOnly"}, sshArgs: []string{"IdentitiesOnly"},
		get: func(h *Host) (any, bool) { return h.IdentitiesOnly, h.IdentitiesOnly },
		set: func(h *Host, v any) { h.IdentitiesOnly = v.(bool) },
	},
	keyHostKeyChecking: {
		name: "strict_host_key_checking", kind: kindString,
		ssh: []string{"StrictHostKeyChecking"}, fromSSH: sshStrictHostKeyChecking,
		sshArgs: []string{"StrictHostKeyChecking"},
		get:     func(h *Host) (any, bool) { return h.StrictHostKeyChecking, h.StrictHostKeyChecking != "" },
		set:     func(h *Host, v any) { h.StrictHostKeyChecking = v.(string) },
	},
}

// Indexes of the table by the name each source uses.
var (
	byAnsible = map[string]*field{}
	bySSHArg  = map[string]*field{} // lower case
	byFlag    = map[string]*field{}
)

func init() {
	for k, f := range fields {
		f.key = key(k)
		for _, n := range f.ansible {
			byAnsible[n] = f
		}
		for _, o := range f.sshArgs {
			bySSHArg[strings.ToLower(o)] = f
		}
		if f.flag != nil {
			byFlag[f.flag.name] = f
		}
	}
}

func (f *field) summaryText() string {
	if f.summary != "" {
		return f.summary
	}
	return "Invalid " + f.name
}

// hclFields are the settings an HCL block accepts: inHost for a host block,
// inAll for defaults and group blocks.
func hclFields(in scope) []*field {
	var out []*field
	for _, f := range fields {
		if f.hcl != inNone && f.hcl >= in {
			out = append(out, f)
		}
	}
	return out
}
