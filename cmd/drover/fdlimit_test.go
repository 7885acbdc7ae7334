package main

import "testing"

func TestForksWithin(t *testing.T) {
	for _, tc := range []struct {
		soft    uint64
		want    int
		got     int
		lowered bool
	}{
		{soft: 20000, want: 500, got: 500},
		{soft: 1024, want: 10, got: 10},
		{soft: 1024, want: 500, got: 240, lowered: true},
		{soft: 1024, want: 240, got: 240},
		{soft: 256, want: 100, got: 48, lowered: true},
		{soft: 60, want: 5, got: 1, lowered: true},
		{soft: 60, want: 1, got: 1},
		{soft: 1 << 40, want: 500, got: 500},
	} {
		got, lowered := forksWithin(tc.soft, tc.want)
		if got != tc.got || lowered != tc.lowered {
			t.Errorf("forksWithin(%d, %d) = %d, %v; want %d, %v", tc.soft, tc.want, got, lowered, tc.got, tc.lowered)
		}
	}
}
