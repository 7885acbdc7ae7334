package inventory

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

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
