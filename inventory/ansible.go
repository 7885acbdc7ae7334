package inventory

import (
	"fmt"
	"math/big"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// applyAnsibleVar stores one Ansible variable in s: the connection variables
// drover understands become settings, every other variable passes through.
// owner names the host or group for messages ("host \"web1\"").
func applyAnsibleVar(s *settings, key string, v cty.Value, rng hcl.Range, owner string) hcl.Diagnostics {
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid " + key,
			Detail: fmt.Sprintf("%s: %s", owner, detail), Subject: rng.Ptr()}}
	}
	str := func(dst **string, field string) hcl.Diagnostics {
		sv, ok := ctyString(v)
		if !ok {
			return bad("the value must be a string.")
		}
		*dst = &sv
		s.setWhere(field, rng)
		return nil
	}
	switch key {
	case "ansible_host", "ansible_ssh_host":
		return str(&s.Address, "address")
	case "ansible_user", "ansible_ssh_user":
		return str(&s.User, "user")
	case "ansible_become_user", "ansible_sudo_user":
		return str(&s.BecomeUser, "become_user")
	case "ansible_port", "ansible_ssh_port":
		sv, _ := ctyString(v)
		p, err := strconv.Atoi(sv)
		if err != nil || p < 1 || p > 65535 {
			return bad(fmt.Sprintf("%q is not a port number.", sv))
		}
		s.Port = &p
		s.setWhere("port", rng)
	case "ansible_ssh_private_key_file", "ansible_private_key_file":
		var p *string
		if d := str(&p, "identity_file"); d != nil {
			return d
		}
		s.Identities = []string{*p}
	case "ansible_connection":
		sv, _ := ctyString(v)
		switch strings.TrimPrefix(sv, "ansible.builtin.") {
		case "ssh", "smart", "paramiko", "paramiko_ssh":
			c := ConnSSH
			s.Connection = &c
		case "local":
			c := ConnLocal
			s.Connection = &c
		default:
			return bad(fmt.Sprintf("connection %q is not supported; drover connects with ssh or local.", sv))
		}
		s.setWhere("connection", rng)
	case "ansible_become", "ansible_sudo":
		b, ok := ansibleBool(v)
		if !ok {
			return bad("the value must be a boolean (true/false, yes/no).")
		}
		s.Become = &b
		s.setWhere("become", rng)
	case "ansible_become_method":
		sv, _ := ctyString(v)
		if sv != becomeSudo {
			return bad(fmt.Sprintf("become method %q is not supported; drover only runs commands as another user with sudo.", sv))
		}
		s.BecomeMethod = &sv
		s.setWhere("become_method", rng)
	case "ansible_timeout", "ansible_ssh_timeout":
		sv, _ := ctyString(v)
		n, err := strconv.ParseFloat(sv, 64)
		if err != nil || n < 0 {
			return bad(fmt.Sprintf("%q is not a number of seconds.", sv))
		}
		t := time.Duration(n * float64(time.Second))
		s.ConnectTimeout = &t
		s.setWhere("connect_timeout", rng)
	case "ansible_ssh_common_args", "ansible_ssh_extra_args":
		sv, ok := ctyString(v)
		if !ok {
			return bad("the value must be a string.")
		}
		jump, ignored := parseSSHArgs(sv)
		var diags hcl.Diagnostics
		if jump != "" {
			if _, err := parseJumpList(jump); err != nil {
				return bad(err.Error() + ".")
			}
			s.ProxyJump = &jump
			s.setWhere("proxy_jump", rng)
		}
		if len(ignored) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "SSH options ignored",
				Detail: fmt.Sprintf("%s: drover does not use %s from %s; only ProxyJump (-J, -o ProxyJump, or ProxyCommand=\"ssh -W %%h:%%p host\") is understood. Host keys are always verified.",
					owner, strings.Join(ignored, " "), key), Subject: rng.Ptr()})
		}
		return diags
	default:
		s.setVar(key, v)
	}
	return nil
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

// parseSSHArgs finds the jump host in ansible_ssh_common_args: -J hops,
// -o ProxyJump=hops, or -o ProxyCommand="ssh -W %h:%p [opts] [user@]host".
// It returns the other options it does not use.
func parseSSHArgs(args string) (jump string, ignored []string) {
	toks, err := shlexSplit(args)
	if err != nil {
		return "", []string{args}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i]
			}
			return ""
		}
		switch {
		case t == "-J":
			jump = next()
		case strings.HasPrefix(t, "-J"):
			jump = t[2:]
		case t == "-o" || strings.HasPrefix(t, "-o"):
			opt := strings.TrimPrefix(t, "-o")
			if opt == "" {
				opt = next()
			}
			k, val, ok := strings.Cut(opt, "=")
			if !ok {
				k, val, _ = strings.Cut(opt, " ")
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "proxyjump":
				jump = strings.TrimSpace(val)
			case "proxycommand":
				if j := jumpFromProxyCommand(val); j != "" {
					jump = j
				} else {
					ignored = append(ignored, "-o "+opt)
				}
			default:
				ignored = append(ignored, "-o "+opt)
			}
		default:
			ignored = append(ignored, t)
		}
	}
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

// pyLiteral approximates Python's ast.literal_eval, which Ansible applies to
// INI values: numbers, True/False/None, quoted strings, lists, tuples and
// dicts of those. Anything else (web1, 10.0.0.1, yes, true) stays the string
// as written.
func pyLiteral(s string) cty.Value {
	p := &litParser{s: s}
	v, ok := p.value()
	if ok {
		p.space()
		if p.i == len(p.s) || p.s[p.i] == '#' {
			return v
		}
	}
	return cty.StringVal(s)
}

type litParser struct {
	s     string
	i     int
	depth int
}

// maxLiteralDepth bounds nesting, so a pathological value cannot exhaust
// the stack; deeper values stay strings.
const maxLiteralDepth = 64

func (p *litParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *litParser) value() (cty.Value, bool) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxLiteralDepth {
		return cty.NilVal, false
	}
	p.space()
	if p.i >= len(p.s) {
		return cty.NilVal, false
	}
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		return p.str(c)
	case c == '[' || c == '(':
		closer := byte(']')
		if c == '(' {
			closer = ')'
		}
		p.i++
		var elems []cty.Value
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == closer {
				p.i++
				break
			}
			v, ok := p.value()
			if !ok {
				return cty.NilVal, false
			}
			elems = append(elems, v)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == closer {
				p.i++
				break
			}
			return cty.NilVal, false
		}
		if len(elems) == 0 {
			return cty.EmptyTupleVal, true
		}
		return cty.TupleVal(elems), true
	case c == '{':
		p.i++
		attrs := map[string]cty.Value{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				break
			}
			k, ok := p.value()
			if !ok {
				return cty.NilVal, false
			}
			ks, ok := ctyString(k)
			if !ok {
				return cty.NilVal, false
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return cty.NilVal, false
			}
			p.i++
			v, ok := p.value()
			if !ok {
				return cty.NilVal, false
			}
			attrs[ks] = v
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				break
			}
			return cty.NilVal, false
		}
		if len(attrs) == 0 {
			return cty.EmptyObjectVal, true
		}
		return cty.ObjectVal(attrs), true
	default:
		j := p.i
		for j < len(p.s) && strings.IndexByte(" \t,:]})#", p.s[j]) < 0 {
			j++
		}
		word := p.s[p.i:j]
		switch word {
		case "True":
			p.i = j
			return cty.True, true
		case "False":
			p.i = j
			return cty.False, true
		case "None":
			p.i = j
			return cty.NullVal(cty.DynamicPseudoType), true
		}
		if v, ok := pyNumber(word); ok {
			p.i = j
			return v, true
		}
		return cty.NilVal, false
	}
}

func (p *litParser) str(q byte) (cty.Value, bool) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		if c == q {
			p.i++
			return cty.StringVal(b.String()), true
		}
		if c == '\\' && p.i+1 < len(p.s) {
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			continue
		}
		b.WriteByte(c)
	}
	return cty.NilVal, false
}

// pyNumber parses a Python int or float literal (with sign, underscores,
// 0x/0o/0b prefixes; a leading zero on a decimal int is not a number).
func pyNumber(w string) (cty.Value, bool) {
	if w == "" {
		return cty.NilVal, false
	}
	body := strings.TrimLeft(w, "+-")
	if len(w)-len(body) > 1 || body == "" || strings.Contains(body, "__") ||
		strings.HasPrefix(body, "_") || strings.HasSuffix(body, "_") {
		return cty.NilVal, false
	}
	clean := strings.ReplaceAll(w, "_", "")
	lower := strings.ToLower(body)
	if strings.HasPrefix(lower, "0x") || strings.HasPrefix(lower, "0o") || strings.HasPrefix(lower, "0b") {
		n, ok := new(big.Int).SetString(strings.ReplaceAll(clean, "_", ""), 0)
		if !ok {
			return cty.NilVal, false
		}
		return cty.NumberVal(new(big.Float).SetInt(n)), true
	}
	isInt := true
	for _, c := range body {
		if c < '0' || c > '9' {
			if c != '_' {
				isInt = false
			}
		}
	}
	if isInt {
		digits := strings.ReplaceAll(body, "_", "")
		if len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0") != "" {
			return cty.NilVal, false // 0755 is a syntax error in Python 3
		}
		n, ok := new(big.Int).SetString(clean, 10)
		if !ok {
			return cty.NilVal, false
		}
		return cty.NumberVal(new(big.Float).SetInt(n)), true
	}
	if strings.ContainsAny(lower, "abcdfghijklmnopqrstuvwxyz") || !strings.ContainsAny(body, "0123456789") {
		return cty.NilVal, false // "inf", "nan" and names are not literals
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil {
		return cty.NilVal, false
	}
	return cty.NumberFloatVal(f), true
}
