package inventory

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// sshArgsVars are the Ansible variables holding extra ssh arguments, whose
// options (-o Keyword=value, -J) are read as ssh_config keywords.
var sshArgsVars = []string{"ansible_ssh_common_args", "ansible_ssh_extra_args"}

// applyAnsibleVar stores one Ansible variable in s: the connection variables
// drover understands (fields.go) become settings, every other variable
// passes through. owner names the host or group for messages ("host
// \"web1\"").
func applyAnsibleVar(s *settings, key string, v cty.Value, rng hcl.Range, owner string) hcl.Diagnostics {
	bad := func(err error) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + key,
			Detail: fmt.Sprintf("%s: %s.", owner, lowerFirst(err.Error())), Subject: rng.Ptr()}}
	}
	if f, ok := byAnsible[key]; ok {
		val, err := f.parseAnsible(v)
		if err != nil {
			return bad(err)
		}
		s.put(f, val, rng)
		return nil
	}
	if !slices.Contains(sshArgsVars, key) {
		s.setVar(key, v)
		return nil
	}
	sv, ok := ctyString(v)
	if !ok {
		return bad(errors.New("the value must be a string"))
	}
	var layer settings
	ignored, err := readSSHArgs(sv, &layer, rng)
	if err != nil {
		return bad(err)
	}
	// A setting's own variable (ansible_port, ansible_user…) beats the same
	// option in the ssh arguments, whichever is written first.
	for k, v := range layer.vals {
		if v != nil && s.vals[k] == nil {
			s.put(fields[k], v, rng)
		}
	}
	var diags hcl.Diagnostics
	if layer.vals[keyHostKeyChecking] == HostKeyNo {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
			Summary: "StrictHostKeyChecking=no is taken as accept-new",
			Detail:  fmt.Sprintf("%s: drover never turns host key verification off. The key of a host not yet in its known_hosts file is recorded there on first connection (trust on first use) and verified from then on; a changed key is refused. Write -o StrictHostKeyChecking=accept-new to say so and silence this warning.", owner),
			Subject: rng.Ptr()})
	}
	// One warning per option, whatever its value: Load keeps the first, so
	// an option set for many groups is named once per run.
	for _, ig := range ignored {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning,
			Summary: fmt.Sprintf("SSH option %s ignored", ig.name),
			Detail: fmt.Sprintf("%s: drover does not use %s from %s; it understands -J, -i, -l, -p and -o %s. Host keys are always verified.",
				owner, ig.written, key, strings.Join(understoodArgs(), ", -o ")), Subject: rng.Ptr()})
	}
	return diags
}

// ansibleBool follows Ansible's boolean(): yes/no, true/false, on/off, y/n,
// t/f, 1/0, case-insensitive.
func ansibleBool(v cty.Value) (bool, bool) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return false, false
	}
	if v.Type() == cty.Bool {
		return v.True(), true
	}
	sv, ok := ctyString(v)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(sv)) {
	case "yes", "on", "1", "true", "y", "t", "1.0":
		return true, true
	case "no", "off", "0", "false", "n", "f", "0.0":
		return false, true
	}
	return false, false
}

// ctyString renders a primitive value as Ansible would use it in a string
// context.
func ctyString(v cty.Value) (string, bool) {
	v, _ = v.UnmarkDeep() // a connection setting from a !vault value
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			i, _ := bf.Int(nil)
			return i.String(), true
		}
		return bf.Text('g', -1), true
	case cty.Bool:
		if v.True() {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// understoodArgs are the -o options fields take, for messages.
func understoodArgs() []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.sshArgs...)
	}
	return out
}

// ignoredArg is an argument of ansible_ssh_common_args drover does not use:
// name is the option ("-o ForwardAgent", "-A"), written the whole argument.
type ignoredArg struct{ name, written string }

// readSSHArgs reads ansible_ssh_common_args into s: its options, -o
// Keyword=value (also -oKeyword=value and "-o Keyword value"), -J hops
// (ProxyJump), -i file (IdentityFile), -l user (User) and -p port (Port),
// are ssh_config keywords, and those of fields that take them (their
// sshArgs) become settings. It returns the arguments it does not use.
func readSSHArgs(args string, s *settings, rng hcl.Range) (ignored []ignoredArg, err error) {
	toks, err := shlexSplit(args)
	if err != nil {
		return []ignoredArg{{args, args}}, nil
	}
	opts := argValues{}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if flagOpt, ok := sshFlagOptions[t[:min(2, len(t))]]; ok {
			value := t[2:]
			if value == "" && i+1 < len(toks) {
				i++
				value = toks[i]
			}
			opts.add(flagOpt, value)
			continue
		}
		if !strings.HasPrefix(t, "-o") {
			ignored = append(ignored, ignoredArg{t, t})
			continue
		}
		opt := strings.TrimPrefix(t, "-o")
		if opt == "" && i+1 < len(toks) {
			i++
			opt = toks[i]
		}
		option, value, ok := strings.Cut(opt, "=")
		if !ok {
			option, value, _ = strings.Cut(strings.TrimSpace(opt), " ")
		}
		option = strings.TrimSpace(option)
		written := "-o " + opt
		if bySSHArg[strings.ToLower(option)] == nil {
			ignored = append(ignored, ignoredArg{"-o " + option, written})
			continue
		}
		opts.add(option, value)
	}
	for _, f := range fields {
		if len(f.sshArgs) == 0 {
			continue
		}
		v, understood, err := f.parseArg(opts)
		if err == nil && understood && f.check != nil {
			err = f.check(v)
		}
		switch {
		case err != nil:
			return nil, err
		case understood:
			s.put(f, v, rng)
		case f.key == keyProxyJump && opts.one("ProxyCommand") != "":
			// Connecting directly instead would bypass the bastion the
			// inventory names, so this is an error, not a warning.
			return nil, fmt.Errorf("-o ProxyCommand=%q is not supported: drover dials with its own SSH client and takes a ProxyCommand only in the form \"ssh -W %%h:%%p [-p port] [-l user] [user@]bastion\"; write -J [user@]bastion[:port] instead", opts.one("ProxyCommand"))
		}
	}
	return ignored, nil
}

// sshFlagOptions are the ssh flags read from ansible_ssh_common_args, as
// the ssh_config keyword each sets.
var sshFlagOptions = map[string]string{"-J": "ProxyJump", "-i": "IdentityFile", "-l": "User", "-p": "Port"}

// parseSSHArgs returns the jump host ansible_ssh_common_args names and the
// arguments drover does not use.
func parseSSHArgs(args string) (jump string, ignored []string) {
	var s settings
	ig, _ := readSSHArgs(args, &s, hcl.Range{})
	for _, a := range ig {
		ignored = append(ignored, a.written)
	}
	jump, _ = s.vals[keyProxyJump].(string)
	return jump, ignored
}

// jumpFromProxyCommand recognises the usual bastion ProxyCommand,
// "ssh -W %h:%p [-q] [-p port] [-l user] [user@]host", and returns the
// equivalent ProxyJump hop, or "".
func jumpFromProxyCommand(cmd string) string {
	toks, err := shlexSplit(cmd)
	if err != nil || len(toks) < 2 || path.Base(toks[0]) != "ssh" {
		return ""
	}
	var host, user, port string
	sawW := false
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t == "-W" && i+1 < len(toks):
			i++
			if toks[i] != "%h:%p" && toks[i] != "[%h]:%p" {
				return ""
			}
			sawW = true
		case t == "-p" && i+1 < len(toks):
			i++
			port = toks[i]
		case t == "-l" && i+1 < len(toks):
			i++
			user = toks[i]
		case t == "-q" || t == "-4" || t == "-6" || t == "-C" || t == "-T":
		case strings.HasPrefix(t, "-"):
			return ""
		default:
			if host != "" {
				return ""
			}
			host = t
		}
	}
	if !sawW || host == "" {
		return ""
	}
	if user != "" && !strings.Contains(host, "@") {
		host = user + "@" + host
	}
	if port != "" {
		host += ":" + port
	}
	return host
}

// shlexSplit splits like Python's shlex.split(s, comments=True) in POSIX
// mode, which Ansible uses for INI host lines: quotes group, backslash
// escapes, and '#' outside quotes starts a comment.
func shlexSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inTok := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inTok {
				out = append(out, cur.String())
				cur.Reset()
				inTok = false
			}
		case c == '#':
			if inTok {
				out = append(out, cur.String())
			}
			return out, nil
		case c == '\\':
			inTok = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == '\'':
			inTok = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("no closing quotation")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inTok = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("no closing quotation")
			}
		default:
			inTok = true
			cur.WriteByte(c)
		}
	}
	if inTok {
		out = append(out, cur.String())
	}
	return out, nil
}

// expandHostPattern expands Ansible host ranges, "web[01:03].example.com",
// "db-[a:c]", "[1:10:2]", several ranges in one name, and splits off a
// ":port" suffix (also "[ipv6]:port").
func expandHostPattern(s string) (names []string, port int, err error) {
	host := s
	// [ipv6] or [ipv6]:port
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 && strings.Count(s[1:end], ":") >= 2 {
			host = s[1:end]
			rest := s[end+1:]
			if rest != "" {
				if !strings.HasPrefix(rest, ":") {
					return nil, 0, fmt.Errorf("%q: unexpected %q after the IPv6 address", s, rest)
				}
				if port, err = parsePort(rest[1:]); err != nil {
					return nil, 0, fmt.Errorf("%q: %w", s, err)
				}
			}
			return []string{host}, port, nil
		}
	}
	// host:port, where ':' is outside brackets and the name is not IPv6.
	outside := 0
	depth := 0
	last := -1
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				outside++
				last = i
			}
		}
	}
	if outside == 1 {
		host = s[:last]
		if port, err = parsePort(s[last+1:]); err != nil {
			return nil, 0, fmt.Errorf("%q: %w", s, err)
		}
	} else if outside > 1 {
		return []string{s}, 0, nil // a bare IPv6 address
	}
	names, err = expandRanges(host)
	if err != nil {
		return nil, 0, fmt.Errorf("%q: %w", s, err)
	}
	return names, port, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return p, nil
}

// maxRangeHosts bounds the expansion of one host pattern.
const maxRangeHosts = 100000

func expandRanges(s string) ([]string, error) {
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if strings.ContainsRune(s, ']') {
			return nil, fmt.Errorf("unbalanced ]")
		}
		return []string{s}, nil
	}
	closeIdx := strings.IndexByte(s[open:], ']')
	if closeIdx < 0 {
		return nil, fmt.Errorf("unclosed [")
	}
	closeIdx += open
	head, spec, tail := s[:open], s[open+1:closeIdx], s[closeIdx+1:]
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("range [%s] must be [start:end] or [start:end:step]", spec)
	}
	beg, end := parts[0], parts[1]
	step := 1
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("range [%s]: step %q must be a positive number", spec, parts[2])
		}
		step = n
	}
	if beg == "" {
		beg = "0"
	}
	var items []string
	if isLetter(beg) && isLetter(end) {
		if beg > end {
			return nil, fmt.Errorf("range [%s] starts after it ends", spec)
		}
		for c := beg[0]; c <= end[0]; c += byte(step) {
			items = append(items, string(c))
			if int(c)+step > 255 {
				break
			}
		}
	} else {
		b, err1 := strconv.Atoi(beg)
		e, err2 := strconv.Atoi(end)
		if err1 != nil || err2 != nil || b < 0 {
			return nil, fmt.Errorf("range [%s] must be numbers or single letters", spec)
		}
		if b > e {
			return nil, fmt.Errorf("range [%s] starts after it ends", spec)
		}
		if (e-b)/step+1 > maxRangeHosts {
			return nil, fmt.Errorf("range [%s] expands to more than %d hosts", spec, maxRangeHosts)
		}
		width := 0
		if strings.HasPrefix(beg, "0") && len(beg) > 1 {
			width = len(beg)
		}
		for i := b; i <= e; i += step {
			items = append(items, fmt.Sprintf("%0*d", width, i))
		}
	}
	rest, err := expandRanges(tail)
	if err != nil {
		return nil, err
	}
	if len(items)*len(rest) > maxRangeHosts {
		return nil, fmt.Errorf("host pattern expands to more than %d hosts", maxRangeHosts)
	}
	var out []string
	for _, it := range items {
		for _, r := range rest {
			out = append(out, head+it+r)
		}
	}
	return out, nil
}

func isLetter(s string) bool {
	return len(s) == 1 && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}
