package contract

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// KV is check output in the state dialect every module's Check and the
// batched facts share (the one check-output dialect). Its grammar, one
// record per line:
//
//	record = pair | blob | tail
//	pair   = KEY "=" VALUE "\n"          KEY has no "=", no newline, no NUL;
//	                                     VALUE is the rest of the line ("="
//	                                     allowed, no newline)
//	blob   = "blob " KEY " " SIZE "\n" BYTES "\n"
//	                                     exactly SIZE bytes, anything in them
//	tail   = "tail " KEY "\n" BYTES      the rest of the output, to its end:
//	                                     the last record
//
// Lines that are neither (empty lines, a tool's chatter) are skipped; a later
// pair overwrites an earlier one with the same key. Sizes, not markers,
// delimit blobs, so no content can forge a key. A tail is for bytes whose
// size the fragment cannot know before it prints them without another
// process (a file's content, cat'ed after a stat that a write may race; a
// link's target): nothing follows it, so it needs no size and no content can
// forge a key either. A list of lines (a tool's output, read line by line
// with builtins) is the pairs KEY.1 … KEY.N (see List). A NUL outside a blob
// or tail is refused: no shell variable can hold one, so it means the output
// is not what the fragment printed.
type KV struct {
	Vals  map[string]string
	Blobs map[string][]byte // blobs and the tail
}

// Has reports whether the output has a pair with key.
func (k KV) Has(key string) bool { _, ok := k.Vals[key]; return ok }

// List is the values of the pairs KEY.1, KEY.2, … up to the first missing
// number: the lines a fragment numbered (ShList prints them).
func (k KV) List(key string) []string {
	var l []string
	for i := 1; ; i++ {
		v, ok := k.Vals[key+"."+strconv.Itoa(i)]
		if !ok {
			return l
		}
		l = append(l, v)
	}
}

// ShList is a POSIX sh fragment printing the lines of the variable named
// varName (empty lines left out) as the list key (KV.List), with builtins
// only: it forks nothing. key is a constant of the caller's, never a user's
// value.
func ShList(key, varName string) string {
	return "_n=0; set -f; IFS='\n'\nfor _l in $" + varName + "; do _n=$((_n + 1)); printf '" + key + ".%d=%s\\n' \"$_n\" \"$_l\"; done\nunset IFS; set +f\n"
}

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
		if key, ok := strings.CutPrefix(line, "tail "); ok && !strings.ContainsAny(key, " =") && key != "" {
			r.Blobs[key] = bytes.Clone(out)
			return r, nil
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
