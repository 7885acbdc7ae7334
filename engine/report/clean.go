package report

import "reflect"

// Every writer treats values at one depth, before it encodes or renders
// them: it copies the value (an Event, its Detail, a runbook report) with
// each string replaced, and only then encodes. Masking the encoded text
// instead misses secrets the encoding changed: JSON writes & as \u0026 and
// html/template as &amp;, a renderer splits a multi-line value and indents
// it. Escaping control characters has to happen before rendering too, since
// the renderers add colour sequences of their own.

// Clean is what every writer for people does to a string from a host or a
// run: secrets masked first (a secret may itself hold control characters),
// then control characters escaped.
func Clean(m *Masker, s string) string { return Escape(m.String(s)) }

// masked returns a copy of v with every secret masked: what JSON writers
// encode.
func masked[T any](m *Masker, v T) T {
	if m == nil {
		return v
	}
	return mapStrings(v, m.String)
}

// cleaned returns a copy of v with every string Cleaned: what writers for
// people render.
func cleaned[T any](m *Masker, v T) T {
	return mapStrings(v, func(s string) string { return Clean(m, s) })
}

// mapStrings returns a deep copy of v in which every string (and []byte) in
// exported struct fields, map keys and values, slices, arrays, pointers and
// interfaces is f(s). The engine's enumerations (Kind, Status) are kept:
// renderers switch on them, and they never hold data from outside.
func mapStrings[T any](v T, f func(string) string) T {
	out, _ := mapValue(reflect.ValueOf(&v).Elem(), f, 0).Interface().(T)
	return out // the zero T when v is a nil interface
}

// maxDepth bounds the walk; values are trees, so only a cycle reaches it.
// A value that deep is dropped rather than written unmasked.
const maxDepth = 64

var (
	kindType   = reflect.TypeOf(Kind(""))
	statusType = reflect.TypeOf(Status(""))
)

func mapValue(v reflect.Value, f func(string) string, depth int) reflect.Value {
	t := v.Type()
	if depth > maxDepth {
		return reflect.Zero(t)
	}
	switch v.Kind() {
	case reflect.String:
		if t == kindType || t == statusType {
			return v
		}
		return reflect.ValueOf(f(v.String())).Convert(t)
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(mapValue(v.Elem(), f, depth+1))
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(t).Elem()
		out.Set(mapValue(v.Elem(), f, depth+1))
		return out
	case reflect.Struct:
		out := reflect.New(t).Elem()
		out.Set(v) // unexported fields as they are: no writer reads them
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				out.Field(i).Set(mapValue(v.Field(i), f, depth+1))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return reflect.ValueOf([]byte(f(string(v.Bytes())))).Convert(t)
		}
		out := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(mapValue(v.Index(i), f, depth+1))
		}
		return out
	case reflect.Array:
		out := reflect.New(t).Elem()
		for i := range v.Len() {
			out.Index(i).Set(mapValue(v.Index(i), f, depth+1))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(t, v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(mapValue(it.Key(), f, depth+1), mapValue(it.Value(), f, depth+1))
		}
		return out
	}
	return v
}
