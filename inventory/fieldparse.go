package inventory

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The parse and check functions the rows of fields (fields.go) name, and
// the by-kind defaults used when a row names none.

// settings is one layer of connection settings and variables, as written in
// one place (the defaults block, a group, a host, a vars file, ssh_config).
// A nil value is "not set here", so layers merge in precedence order.
type settings struct {
	vals [numKeys]any
	Vars map[string]cty.Value
	// where records the source range of each setting (by its field name),
	// for diagnostics about the resolved value.
	where map[string]hcl.Range
}

func (s *settings) put(f *field, v any, rng hcl.Range) {
	s.vals[f.key] = v
	s.setWhere(f.name, rng)
}

func (s *settings) setWhere(name string, rng hcl.Range) {
	if s.where == nil {
		s.where = map[string]hcl.Range{}
	}
	s.where[name] = rng
}

func (s *settings) setVar(name string, v cty.Value) {
	if s.Vars == nil {
		s.Vars = map[string]cty.Value{}
	}
	s.Vars[name] = v
}

// merge lays src over s: every setting src sets replaces s's. Variables
// merge key by key (Ansible's default hash_behaviour=replace: a map-valued
// variable is replaced whole, not deep-merged).
func (s *settings) merge(src *settings) {
	if src == nil {
		return
	}
	for k, v := range src.vals {
		if v != nil {
			s.vals[k] = v
		}
	}
	for k, v := range src.Vars {
		s.setVar(k, v)
	}
	for k, r := range src.where {
		s.setWhere(k, r)
	}
}

// decodeHCL decodes the attribute a of setting f into s. dir is the
// directory of the file, which relative paths are relative to.
func (f *field) decodeHCL(a *hcl.Attribute, s *settings, dir string) hcl.Diagnostics {
	var v any
	switch f.kind {
	case kindString:
		var sv string
		if d := decodeExpr(a.Expr, nil, &sv); d.HasErrors() {
			return d
		}
		v = sv
	case kindInt:
		var n int
		if d := decodeExpr(a.Expr, nil, &n); d.HasErrors() {
			return d
		}
		v = n
	case kindBool:
		var b bool
		if d := decodeExpr(a.Expr, nil, &b); d.HasErrors() {
			return d
		}
		v = b
	case kindDuration, kindPaths:
		cv, d := a.Expr.Value(nil)
		if d.HasErrors() {
			return d
		}
		if f.kind == kindDuration {
			t, err := durationValue(f.name, cv)
			if err != nil {
				return hcl.Diagnostics{attrErr(a, f.summaryText(), err.Error())}
			}
			v = t
			break
		}
		ps, err := stringOrList(cv)
		if err != nil {
			return hcl.Diagnostics{attrErr(a, f.summaryText(), f.name+" must be a path or a list of paths.")}
		}
		for i, p := range ps {
			if !filepath.IsAbs(p) && p != "~" && !hasPrefixAny(p, "~/", "%d", "$") {
				ps[i] = filepath.Join(dir, p)
			}
		}
		v = ps
	}
	for _, check := range []func(any) error{f.hclCheck, f.check} {
		if check == nil {
			continue
		}
		if err := check(v); err != nil {
			return hcl.Diagnostics{attrErr(a, f.summaryText(), err.Error()+".")}
		}
	}
	s.put(f, v, a.Expr.Range())
	return nil
}

// parseAnsible parses an Ansible variable's value for f.
func (f *field) parseAnsible(v cty.Value) (any, error) {
	var out any
	if f.fromAnsible != nil {
		var err error
		if out, err = f.fromAnsible(v); err != nil {
			return nil, err
		}
	} else {
		switch f.kind {
		case kindBool:
			b, ok := ansibleBool(v)
			if !ok {
				return nil, errors.New("the value must be a boolean (true/false, yes/no)")
			}
			out = b
		case kindString, kindPaths:
			sv, ok := ctyString(v)
			if !ok {
				return nil, errors.New("the value must be a string")
			}
			out = sv
			if f.kind == kindPaths {
				out = []string{sv}
			}
		default:
			panic("inventory: no Ansible parser for " + f.name)
		}
	}
	if f.check != nil {
		if err := f.check(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func ansibleConnection(v cty.Value) (any, error) {
	sv, _ := ctyString(v)
	switch strings.TrimPrefix(sv, "ansible.builtin.") {
	case "ssh", "smart", "paramiko", "paramiko_ssh":
		return ConnSSH, nil
	case "local":
		return ConnLocal, nil
	}
	return nil, fmt.Errorf("connection %q is not supported; drover connects with ssh or local", sv)
}

func ansiblePort(v cty.Value) (any, error) {
	sv, _ := ctyString(v)
	p, err := strconv.Atoi(sv)
	if err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("%q is not a port number", sv)
	}
	return p, nil
}

func ansibleSeconds(v cty.Value) (any, error) {
	sv, _ := ctyString(v)
	n, err := strconv.ParseFloat(sv, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%q is not a number of seconds", sv)
	}
	return time.Duration(n * float64(time.Second)), nil
}

// sshValues reads ssh_config keywords for one alias, or the value of one
// -o option; values are trimmed and raw (tokens are not expanded).
type sshValues interface {
	one(keyword string) string
	all(keyword string) []string
}

// sshValueError is a value ssh_config or an -o option gives that is not
// what the keyword takes.
type sshValueError struct{ raw, want string }

func (e *sshValueError) Error() string { return fmt.Sprintf("%q is not %s", e.raw, e.want) }

// parseSSH reads f from ssh_config values (nil: not set there).
func (f *field) parseSSH(c sshValues) (any, error) {
	if f.fromSSH != nil {
		return f.fromSSH(c, f)
	}
	raw := c.one(f.ssh[0])
	if raw == "" {
		return nil, nil
	}
	switch f.kind {
	case kindString:
		return raw, nil
	case kindInt: // the port is the one integer setting
		n, err := strconv.Atoi(raw)
		if err != nil || f.check != nil && f.check(n) != nil {
			return nil, &sshValueError{raw, "a port number"}
		}
		return n, nil
	case kindDuration:
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return nil, &sshValueError{raw, "a number of seconds"}
		}
		return time.Duration(n) * time.Second, nil
	case kindPaths:
		return strings.Fields(raw), nil
	case kindBool:
		switch strings.ToLower(raw) {
		case "yes", "true":
			return true, nil
		case "no", "false":
			return false, nil
		}
		return nil, &sshValueError{raw, "yes or no"}
	}
	panic("inventory: no ssh_config parser for " + f.name)
}

func sshIdentities(c sshValues, f *field) (any, error) {
	var ids []string
	for _, id := range c.all(f.ssh[0]) {
		if id != "" && !strings.EqualFold(id, "none") {
			ids = append(ids, id)
		}
	}
	if ids == nil {
		return nil, nil
	}
	return ids, nil
}

func sshProxyJump(c sshValues, f *field) (any, error) {
	j := c.one(f.ssh[0])
	if j == "" || strings.EqualFold(j, "none") {
		return nil, nil
	}
	return j, nil
}

// sshKnownHosts is UserKnownHostsFile (OpenSSH's defaults when only the
// global files are given) followed by GlobalKnownHostsFile.
func sshKnownHosts(c sshValues, f *field) (any, error) {
	user := strings.Fields(c.one(f.ssh[0]))
	global := strings.Fields(c.one(f.ssh[1]))
	if len(user) == 0 && len(global) == 0 {
		return nil, nil
	}
	if len(user) == 0 {
		user = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	return append(user, global...), nil
}

// parseArg reads f from the options of ansible_ssh_common_args; false
// means drover does not use the option as written.
func (f *field) parseArg(opts argValues) (any, bool, error) {
	if f.fromArg != nil {
		for _, o := range f.sshArgs {
			if vs := opts.all(o); len(vs) > 0 {
				v, ok := f.fromArg(o, vs[0])
				return v, ok, nil
			}
		}
		return nil, false, nil
	}
	v, err := f.parseSSH(opts)
	return v, v != nil, err
}

// argValues are the options of ansible_ssh_common_args seen as ssh_config:
// by lower-case keyword, in the order given. As with ssh -o, the first value
// of a keyword wins (IdentityFile accumulates).
type argValues map[string][]string

func (a argValues) add(option, value string) {
	k := strings.ToLower(option)
	a[k] = append(a[k], strings.TrimSpace(value))
}

func (a argValues) one(kw string) string {
	if vs := a[strings.ToLower(kw)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (a argValues) all(kw string) []string { return a[strings.ToLower(kw)] }

// sshStrictHostKeyChecking reads OpenSSH's StrictHostKeyChecking: yes (and
// ask: drover never prompts) verify, accept-new records new keys, no/off is
// taken as accept-new (a changed key is still refused; see docs/inventory.md).
func sshStrictHostKeyChecking(c sshValues, f *field) (any, error) {
	raw := c.one(f.ssh[0])
	switch strings.ToLower(raw) {
	case "":
		return nil, nil
	case "yes", "ask", "true":
		return HostKeyVerify, nil
	case "accept-new":
		return HostKeyAcceptNew, nil
	case "no", "off", "false":
		return HostKeyNo, nil
	}
	return nil, &sshValueError{raw, "yes, accept-new or no"}
}

// argProxyJump takes -o ProxyJump=hops, and the usual bastion ProxyCommand
// (jumpFromProxyCommand).
func argProxyJump(option, value string) (any, bool) {
	if strings.EqualFold(option, "ProxyCommand") {
		j := jumpFromProxyCommand(value)
		return j, j != ""
	}
	return strings.TrimSpace(value), true
}

// parseFlag parses a command-line flag's value for f.
func (f *field) parseFlag(value string) (any, error) {
	switch f.kind {
	case kindString:
		return value, nil
	case kindBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: want true or false", f.flag.name, value)
		}
		return b, nil
	case kindDuration:
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--%s %q: want a duration such as 10s or 1m30s", f.flag.name, value)
		}
		return d, nil
	}
	panic("inventory: no flag parser for " + f.name)
}

func checkPort(v any) error {
	if p := v.(int); p < 1 || p > 65535 {
		return fmt.Errorf("Port %d is not between 1 and 65535", p)
	}
	return nil
}

func checkJump(v any) error {
	j := v.(string)
	if j == "" || strings.EqualFold(j, "none") {
		return nil
	}
	_, err := parseJumpList(j)
	return err
}

// oneOf checks that a string is one of allowed; format has one %q.
func oneOf(format string, allowed ...string) func(any) error {
	return func(v any) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf(format, v)
	}
}

// setProxyJump stores a resolved ProxyJump: "none" is direct, and so is a
// jump through the host itself (proxy_jump set for every host in defaults or
// group all, the bastion included) or a host with connection local.
func setProxyJump(h *Host, v any) {
	j := v.(string)
	if strings.EqualFold(j, "none") || h.Connection == ConnLocal {
		j = ""
	}
	if hops, err := parseJumpList(j); j != "" && err == nil && len(hops) == 1 && hops[0].host == h.Name {
		j = ""
	}
	h.ProxyJump = j
}

// lowerFirst turns a check's message into the rest of a sentence.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}
