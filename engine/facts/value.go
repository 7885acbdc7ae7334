package facts

import "github.com/zclconf/go-cty/cty"

// Type is the type of Value: the same attributes on every host, so that a
// playbook can refer to any of them whatever the host answered.
var Type = cty.Object(map[string]cty.Type{
	"hostname":        cty.String,
	"os_family":       cty.String,
	"os_id":           cty.String,
	"os_id_like":      cty.List(cty.String),
	"os_version":      cty.String,
	"os_codename":     cty.String,
	"os_pretty":       cty.String,
	"kernel":          cty.String,
	"arch":            cty.String,
	"cpus":            cty.Number,
	"memory_mb":       cty.Number,
	"init_system":     cty.String,
	"package_manager": cty.String,
	"addresses":       cty.List(cty.String),
	"user":            cty.String,
	"effective_user":  cty.String,
})

// Value returns the facts as the object `host.facts` of the playbook
// language. Strings and numbers the host did not reveal are null; lists are
// empty. A nil *Facts (facts not gathered) gives a null object of Type.
func (f *Facts) Value() cty.Value {
	if f == nil {
		return cty.NullVal(Type)
	}
	str := func(s string) cty.Value {
		if s == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(s)
	}
	num := func(n int) cty.Value {
		if n <= 0 {
			return cty.NullVal(cty.Number)
		}
		return cty.NumberIntVal(int64(n))
	}
	list := func(l []string) cty.Value {
		if len(l) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		vs := make([]cty.Value, len(l))
		for i, s := range l {
			vs[i] = cty.StringVal(s)
		}
		return cty.ListVal(vs)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"hostname":        str(f.Hostname),
		"os_family":       str(f.OSFamily),
		"os_id":           str(f.OSID),
		"os_id_like":      list(f.OSIDLike),
		"os_version":      str(f.OSVersion),
		"os_codename":     str(f.OSCodename),
		"os_pretty":       str(f.OSPretty),
		"kernel":          str(f.Kernel),
		"arch":            str(f.Arch),
		"cpus":            num(f.CPUs),
		"memory_mb":       num(f.MemoryMB),
		"init_system":     str(f.InitSystem),
		"package_manager": str(f.PackageManager),
		"addresses":       list(f.Addresses),
		"user":            str(f.User),
		"effective_user":  str(f.EffectiveUser),
	})
}
