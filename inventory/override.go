package inventory

import "time"

// Overrides are the connection settings given on the command line, the
// highest precedence. Zero values leave the host's settings alone. Each is
// the flag of a row of fields (fields.go).
type Overrides struct {
	User           string         // --user
	Become         *bool          // --become (nil: not given)
	BecomeUser     string         // --become-user
	ConnectTimeout *time.Duration // --connect-timeout (nil: not given)
}

// Flag is a command-line flag that overrides a connection setting, for the
// CLI to register.
type Flag struct {
	Name, Shorthand, Usage string
	Default                string
	Bool                   bool // a boolean flag (--become), else a string
}

// Flags are the command-line flags of the connection settings, in the
// table's order.
func Flags() []Flag {
	var out []Flag
	for _, f := range fields {
		if fl := f.flag; fl != nil {
			out = append(out, Flag{Name: fl.name, Shorthand: fl.short, Usage: fl.usage, Default: fl.def, Bool: f.kind == kindBool})
		}
	}
	return out
}

// Set records the value of the flag named flag, as given on the command
// line; the error, for a value the setting cannot take, says what it wants.
func (o *Overrides) Set(flag, value string) error {
	f, ok := byFlag[flag]
	if !ok {
		panic("inventory: no connection setting has the flag --" + flag)
	}
	v, err := f.parseFlag(value)
	if err != nil {
		return err
	}
	o.setValue(f, v)
	return nil
}

// given returns the value of f's flag in o, if it was given.
func (o *Overrides) given(f *field) (any, bool) {
	if f.flag == nil {
		return nil, false
	}
	switch p := f.flag.ov(o).(type) {
	case *string:
		return *p, *p != ""
	case **bool:
		if *p != nil {
			return **p, true
		}
	case **time.Duration:
		if *p != nil {
			return **p, true
		}
	}
	return nil, false
}

// ApplyOverrides applies command-line settings to h. Like Ansible's
// --become-user, BecomeUser does not by itself enable become.
func ApplyOverrides(h *Host, o Overrides) {
	for _, f := range fields {
		if v, ok := o.given(f); ok {
			f.set(h, v)
		}
	}
}

// ForHops keeps the overrides that also apply to ProxyJump hops (such as
// the connect timeout, which is per hop); a --user is for the targets only.
func (o Overrides) ForHops() Overrides {
	var out Overrides
	for _, f := range fields {
		if v, ok := o.given(f); ok && f.flag.hops {
			out.setValue(f, v)
		}
	}
	return out
}

func (o *Overrides) setValue(f *field, v any) {
	switch p := f.flag.ov(o).(type) {
	case *string:
		*p = v.(string)
	case **bool:
		b := v.(bool)
		*p = &b
	case **time.Duration:
		d := v.(time.Duration)
		*p = &d
	}
}
