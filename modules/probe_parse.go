package modules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/drover-cm/drover/modules/contract"
)

// ParseOptions say how a probe's output becomes values.
type ParseOptions struct {
	Format    string // text, lines, table, kv, number, json
	Columns   []string
	Header    bool
	Separator string
	Regex     *regexp.Regexp
}

// Parsed is a probe's output as values (see the probe Spec's outputs).
type Parsed struct {
	Lines  cty.Value // list(string)
	Rows   cty.Value // list(map(string))
	Values cty.Value // map(string)
	Value  cty.Value // dynamic
}

// ParseProbeOutput parses out. The error says what could not be parsed; the
// result then holds what could (lines always).
func ParseProbeOutput(out string, o ParseOptions) (Parsed, error) {
	var lines []string
	for _, l := range strings.Split(strings.ToValidUTF8(out, "\uFFFD"), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	p := Parsed{
		Lines:  stringList(lines),
		Rows:   cty.ListValEmpty(cty.Map(cty.String)),
		Values: cty.MapValEmpty(cty.String),
		Value:  cty.NullVal(cty.DynamicPseudoType),
	}
	var err error
	if o.Regex != nil {
		var rows []map[string]string
		for _, l := range lines {
			m := o.Regex.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			row := map[string]string{}
			for i, name := range o.Regex.SubexpNames() {
				if i == 0 {
					continue
				}
				if name == "" {
					name = strconv.Itoa(i)
				}
				row[name] = m[i]
			}
			if len(m) == 1 {
				row["0"] = m[0]
			}
			if len(rows) == 0 {
				first := m[0]
				if len(m) > 1 {
					first = m[1]
				}
				p.Value = scalar(first)
			}
			rows = append(rows, row)
		}
		p.Rows = rowList(rows)
		return p, nil
	}
	switch o.Format {
	case "", "text":
		p.Value = cty.StringVal(strings.TrimSpace(out))
	case "lines":
		p.Value = cty.NumberIntVal(int64(len(lines)))
	case "number":
		f, ok := contract.ParseNumber(out)
		if !ok {
			err = fmt.Errorf("no number in the output")
		} else {
			p.Value = cty.NumberFloatVal(f)
		}
	case "table":
		p.Rows = rowList(parseTable(lines, o))
		p.Value = cty.NumberIntVal(int64(len(p.Rows.AsValueSlice())))
	case "kv":
		m := map[string]cty.Value{}
		for _, l := range lines {
			k, v, ok := splitKV(l, o.Separator)
			if ok {
				m[k] = cty.StringVal(v)
			}
		}
		if len(m) > 0 {
			p.Values = cty.MapVal(m)
		}
	case "json":
		b := []byte(out)
		ty, e := ctyjson.ImpliedType(b)
		if e != nil {
			err = fmt.Errorf("output is not JSON: %w", e)
			break
		}
		v, e := ctyjson.Unmarshal(b, ty)
		if e != nil {
			err = fmt.Errorf("output is not JSON: %w", e)
			break
		}
		p.Value = v
	default:
		err = fmt.Errorf("unknown format %q", o.Format)
	}
	return p, err
}

func scalar(s string) cty.Value {
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return cty.NumberFloatVal(f)
	}
	return cty.StringVal(s)
}

func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

func rowList(rows []map[string]string) cty.Value {
	if len(rows) == 0 {
		return cty.ListValEmpty(cty.Map(cty.String))
	}
	vs := make([]cty.Value, len(rows))
	for i, r := range rows {
		m := map[string]cty.Value{}
		for k, v := range r {
			m[k] = cty.StringVal(v)
		}
		if len(m) == 0 {
			vs[i] = cty.MapValEmpty(cty.String)
		} else {
			vs[i] = cty.MapVal(m)
		}
	}
	return cty.ListVal(vs)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// columnName turns a header word into a key: "Use%" → "use", "1K-blocks" →
// "1k_blocks".
func columnName(s string) string {
	return strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

func splitFields(l, sep string, n int) []string {
	if sep != "" {
		f := strings.SplitN(l, sep, max(n, 1))
		if n <= 0 {
			f = strings.Split(l, sep)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	f := strings.Fields(l)
	if n > 0 && len(f) > n {
		// The last column takes the rest of the line, as it was written.
		rest := l
		for i := 0; i < n-1; i++ {
			rest = strings.TrimLeft(rest, " \t")
			rest = rest[len(f[i]):]
		}
		f = append(f[:n-1], strings.TrimSpace(rest))
	}
	return f
}

func parseTable(lines []string, o ParseOptions) []map[string]string {
	cols := append([]string(nil), o.Columns...)
	body := lines
	if len(cols) == 0 {
		if len(lines) == 0 {
			return nil
		}
		if o.Header {
			for _, h := range splitFields(lines[0], o.Separator, 0) {
				cols = append(cols, columnName(h))
			}
			body = lines[1:]
		}
	} else if o.Header && len(lines) > 0 {
		body = lines[1:]
	}
	seen := map[string]int{}
	for i, c := range cols {
		if c == "" {
			c = strconv.Itoa(i + 1)
		}
		if seen[c] > 0 {
			c = fmt.Sprintf("%s_%d", c, seen[c]+1)
		}
		seen[cols[i]]++
		cols[i] = c
	}
	var rows []map[string]string
	for _, l := range body {
		f := splitFields(l, o.Separator, len(cols))
		row := map[string]string{}
		for i, v := range f {
			name := strconv.Itoa(i + 1)
			if i < len(cols) {
				name = cols[i]
			}
			row[name] = v
		}
		for _, c := range cols {
			if _, ok := row[c]; !ok {
				row[c] = ""
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func splitKV(l, sep string) (string, string, bool) {
	i := -1
	w := 1
	if sep != "" {
		i, w = strings.Index(l, sep), len(sep)
	} else {
		i = strings.IndexAny(l, ":=")
	}
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(l[:i]), strings.TrimSpace(l[i+w:]), true
}

// mutatingRe finds commands that change a host. A probe's command is the
// user's shell code: drover cannot prove it only reads, but it can point at
// the obvious mistakes.
var mutatingRe = regexp.MustCompile(`(?:^|[;&|(\s])(rm|rmdir|mv|cp|dd|mkfs(?:\.\w+)?|shred|truncate|chmod|chown|chgrp|ln|mkdir|touch|tee|sed\s+-i|kill|pkill|killall|reboot|shutdown|halt|poweroff|useradd|userdel|usermod|passwd|apt|apt-get|yum|dnf|apk|rpm\s+-[eiU]|dpkg\s+-[iPr]|pip|systemctl\s+(?:start|stop|restart|reload|enable|disable|mask|kill|isolate|daemon-reload)|service\s+\S+\s+(?:start|stop|restart|reload)|iptables\s+-[ADIFRPXN]|ip\s+(?:link|addr|route)\s+(?:add|del|set|flush)|mount|umount|swapoff|swapon|sysctl\s+-w|crontab\s+-[er]|git\s+(?:pull|push|reset|checkout|clean))(?:\s|$|;|&|\|)`)

// redirectRe finds output redirected into a file other than /dev/null.
var redirectRe = regexp.MustCompile(`(?:^|[^0-9&<>])>>?\s*([^\s&|;>]+)`)

// numericRe: "> 1" is far more often a comparison (awk, test) than a file.
var numericRe = regexp.MustCompile(`^[0-9.]+$`)

// MutatingHint returns why a probe command looks like it changes the host,
// or "" when nothing obvious is seen. It is a heuristic, not a guarantee.
func MutatingHint(cmd string) string {
	if m := mutatingRe.FindStringSubmatch(cmd); m != nil {
		return fmt.Sprintf("the command runs %q, which can change the host", strings.Join(strings.Fields(m[1]), " "))
	}
	for _, m := range redirectRe.FindAllStringSubmatch(cmd, -1) {
		if !strings.HasPrefix(m[1], "/dev/") && !numericRe.MatchString(m[1]) {
			return fmt.Sprintf("the command writes to %s", m[1])
		}
	}
	return ""
}
