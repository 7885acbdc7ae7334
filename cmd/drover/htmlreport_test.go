package main

import (
	"testing"
)

func TestFilesDigest(t *testing.T) {
	files := map[string]string{"a/site.hcl": "play {}", "b/site.hcl": "play {}", "a/other.hcl": "x", "b/other.hcl": "y"}
	read := func(p string) ([]byte, error) { return []byte(files[p]), nil }
	tests := []struct {
		name string
		a, b []string
		same bool
	}{
		{"same files from another directory", []string{"a/site.hcl"}, []string{"b/site.hcl"}, true},
		{"order does not matter", []string{"a/site.hcl", "a/other.hcl"}, []string{"a/other.hcl", "a/site.hcl"}, true},
		{"a changed file", []string{"a/site.hcl", "a/other.hcl"}, []string{"b/site.hcl", "b/other.hcl"}, false},
		{"a file more", []string{"a/site.hcl"}, []string{"a/site.hcl", "a/other.hcl"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := filesDigest(tc.a, read), filesDigest(tc.b, read)
			if (a == b) != tc.same || len(a) != len("sha256:")+64 {
				t.Errorf("digests %s and %s, want same=%v", a, b, tc.same)
			}
		})
	}
}
