// Package lang is the expression side of drover's playbook language: the
// functions playbooks can call and the evaluation contexts (var, local, host,
// each, count, other tasks) that engine/run builds per host.
package lang

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/drover-cm/drover/engine/localpath"
)

// maxFileSize bounds what file() and templatefile() read: playbook files are
// configuration, and a mistaken path to a disk image should fail clearly.
const maxFileSize = 16 << 20

// TemplateFunctions returns the functions available inside templates: all
// of Functions but templatefile, so that rendering cannot recurse. Modules
// that render templates get these (contract.Config.Functions).
func TemplateFunctions(dir string, allow ...string) map[string]function.Function {
	fs := Functions(dir, allow...)
	delete(fs, "templatefile")
	return fs
}

// Functions returns the functions of the playbook language. File functions
// read only inside dir (the playbook's root directory) and the directories
// the operator allowed (--allow-local), by the one local path rule
// (engine/localpath); relative paths are resolved against dir, and
// templatefile cannot call itself.
func Functions(dir string, allow ...string) map[string]function.Function {
	fs := baseFunctions()
	g := &guard{rule: localpath.Rule{Root: dir, Allow: allow}}
	fs["file"] = g.fileFunc()
	fs["fileexists"] = g.fileExistsFunc()
	// Templates get every function but templatefile, so a template cannot
	// render another template (or itself) without bound.
	inner := baseFunctions()
	inner["file"] = fs["file"]
	inner["fileexists"] = fs["fileexists"]
	fs["templatefile"] = g.templateFileFunc(inner)
	return fs
}

func baseFunctions() map[string]function.Function {
	return map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"base64decode":    base64DecodeFunc,
		"base64encode":    base64EncodeFunc,
		"can":             tryfunc.CanFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"sensitive":       sensitiveFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"sha256":          sha256Func,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"startswith":      startsWithFunc,
		"endswith":        endsWithFunc,
		"strcontains":     strContainsFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":        stdlib.MakeToFunc(cty.String),
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"try":             tryfunc.TryFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
	}
}

var base64EncodeFunc = function.New(&function.Spec{
	Description: "Encodes a string with standard base64.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

var base64DecodeFunc = function.New(&function.Spec{
	Description: "Decodes a standard base64 string that holds UTF-8 text.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := base64.StdEncoding.DecodeString(args[0].AsString())
		if err != nil {
			return cty.NilVal, fmt.Errorf("not valid base64: %w", err)
		}
		if !utf8.Valid(b) {
			return cty.NilVal, fmt.Errorf("the decoded bytes are not UTF-8 text")
		}
		return cty.StringVal(string(b)), nil
	},
})

func stringPredicate(desc string, f func(s, sub string) bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	startsWithFunc  = stringPredicate("Reports whether str starts with substr.", strings.HasPrefix)
	endsWithFunc    = stringPredicate("Reports whether str ends with substr.", strings.HasSuffix)
	strContainsFunc = stringPredicate("Reports whether str contains substr.", strings.Contains)
)

var sha256Func = function.New(&function.Spec{
	Description: "Returns the SHA-256 of a string, in hexadecimal.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s := sha256.Sum256([]byte(args[0].AsString()))
		return cty.StringVal(hex.EncodeToString(s[:])), nil
	},
})

var sensitiveFunc = function.New(&function.Spec{
	Description: "Marks a value as sensitive: it is masked in every output.",
	Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowNull: true, AllowUnknown: true}},
	Type:        func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return Sensitive(args[0]), nil
	},
})

// guard resolves local paths for file functions with the local path rule,
// after Nomad's guardFS: a playbook from someone else must not be able to
// read ~/.ssh/id_ed25519 into a file it then pushes to a host.
type guard struct{ rule localpath.Rule }

// resolve returns the path of p to read (relative paths are relative to the
// playbook directory), refusing anything the rule does not allow.
func (g *guard) resolve(p string) (string, error) {
	return g.rule.Resolve("", p)
}

func (g *guard) read(p string) (string, error) {
	full, err := g.resolve(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(full)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", p, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory, not a file", p)
	}
	if st.Size() > maxFileSize {
		return "", fmt.Errorf("%s is %d bytes, larger than the %d bytes a playbook file may be; use a copy task for large files", p, st.Size(), maxFileSize)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", p, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not UTF-8 text; use a copy task for binary files", p)
	}
	return string(b), nil
}

func (g *guard) fileFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file inside the playbook directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s, err := g.read(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(s), nil
		},
	})
}

func (g *guard) fileExistsFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a file exists inside the playbook directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			full, err := g.resolve(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			st, err := os.Stat(full)
			return cty.BoolVal(err == nil && st.Mode().IsRegular()), nil
		},
	})
}

func (g *guard) templateFileFunc(funcs map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a template file inside the playbook directory with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType, AllowMarked: true},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			src, err := g.read(path)
			if err != nil {
				return cty.NilVal, err
			}
			return RenderTemplate(path, src, args[1], funcs)
		},
	})
}

// RenderTemplate renders HCL template source with vars (an object or map)
// and funcs. Sensitive vars make the result sensitive.
func RenderTemplate(name, src string, vars cty.Value, funcs map[string]function.Function) (cty.Value, error) {
	expr, diags := hclsyntax.ParseTemplate([]byte(src), name, hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("template %s: %s", name, diagsString(diags))
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: funcs}
	if !vars.IsNull() {
		vars, marks := vars.Unmark()
		ty := vars.Type()
		if !ty.IsObjectType() && !ty.IsMapType() {
			return cty.NilVal, fmt.Errorf("template %s: vars must be an object such as { port = 80 }, not %s", name, ty.FriendlyName())
		}
		if !vars.IsWhollyKnown() {
			// Values known only on a host count as given, but the names
			// of an object are known: a variable missing from them is an
			// error now (validate), not on every host.
			if ty.IsObjectType() {
				for _, tr := range expr.Variables() {
					if !ty.HasAttribute(tr.RootName()) {
						return cty.NilVal, missingTemplateVar(name, tr)
					}
				}
			}
			return cty.UnknownVal(cty.String).WithMarks(marks), nil
		}
		for it := vars.ElementIterator(); it.Next(); {
			k, v := it.Element()
			key := k.AsString()
			if !hclsyntax.ValidIdentifier(key) {
				return cty.NilVal, fmt.Errorf("template %s: variable name %q is not a valid identifier", name, key)
			}
			ctx.Variables[key] = v.WithMarks(marks)
		}
	}
	// A reference to a missing variable is an error naming it.
	for _, tr := range expr.Variables() {
		if _, ok := ctx.Variables[tr.RootName()]; !ok {
			return cty.NilVal, missingTemplateVar(name, tr)
		}
	}
	val, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("template %s: %s", name, diagsString(diags))
	}
	return val, nil
}

func missingTemplateVar(name string, tr hcl.Traversal) error {
	r := tr.SourceRange()
	return fmt.Errorf("template %s:%d,%d: variable %q is not in vars; pass it in templatefile's second argument (or the template task's vars)", name, r.Start.Line, r.Start.Column, tr.RootName())
}

func diagsString(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = fmt.Sprintf("%d,%d: %s", d.Subject.Start.Line, d.Subject.Start.Column, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
