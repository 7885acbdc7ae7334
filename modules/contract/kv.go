package contract

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// KV is check output in the state dialect the modules and the batched facts
// share. Its grammar, one record per line:
//
//	record = pair | blob
//	pair   = KEY "=" VALUE "\n"          KEY has no "=", no newline, no NUL;
//	                                     VALUE is the rest of the line ("="
//	                                     allowed, no newline)
//	blob   = "blob " KEY " " SIZE "\n" BYTES "\n"
//	                                     exactly SIZE bytes, anything in them
//
// Lines that are neither (empty lines, a tool's chatter) are skipped; a later
// pair overwrites an earlier one with the same key. Sizes, not markers,
// delimit blobs, so no content can forge a key. A NUL outside a blob is
// refused: no shell variable can hold one, so it means the output is not
// what the fragment printed.
type KV struct {
	Vals  map[string]string
	Blobs map[string][]byte
}

// Has reports whether the output has a pair with key.
func (k KV) Has(key string) bool { _, ok := k.Vals[key]; return ok }

// ParseKV parses output in the KV dialect.
func ParseKV(out []byte) (KV, error) {
	r := KV{Vals: map[string]string{}, Blobs: map[string][]byte{}}
	for len(out) > 0 {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			nl = len(out)
		}
		line := string(out[:nl])
		out = out[min(nl+1, len(out)):]
		if strings.IndexByte(line, 0) >= 0 {
			return r, fmt.Errorf("NUL byte in state line %q", line)
		}
		if rest, ok := strings.CutPrefix(line, "blob "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 {
				return r, fmt.Errorf("malformed state line %q", line)
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > len(out) {
				return r, fmt.Errorf("malformed or cut state blob %q", line)
			}
			r.Blobs[f[0]] = bytes.Clone(out[:n])
			out = out[n:]
			if len(out) > 0 && out[0] == '\n' {
				out = out[1:]
			}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			r.Vals[k] = v
		}
	}
	return r, nil
}
