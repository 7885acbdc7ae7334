package inventory

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{in: "1/3", want: Shard{1, 3}},
		{in: " 3/3 ", want: Shard{3, 3}},
		{in: "1/1", want: Shard{1, 1}},
		{in: "0/3", err: "K must be from 1 to N"},
		{in: "4/3", err: "K must be from 1 to N"},
		{in: "1/0", err: "K must be from 1 to N"},
		{in: "-1/3", err: "K must be from 1 to N"},
		{in: "x", err: "want K/N"},
		{in: "1/x", err: "want K/N"},
		{in: "", err: "want K/N"},
		{in: "1/2/3", err: "want K/N"},
	} {
		got, err := ParseShard(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseShard(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func hostsNamed(n int, prefix string) []*Host {
	hs := make([]*Host, n)
	for i := range hs {
		hs[i] = &Host{Name: fmt.Sprintf("%s%04d", prefix, i)}
	}
	return hs
}

// Every host is in exactly one shard, the shards are near even, and adding
// hosts never moves a host that was there before.
func TestShardPartitionStableBalanced(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		hosts := hostsNamed(1000, "web")
		owner := map[string]int{}
		for k := 1; k <= n; k++ {
			part := Shard{k, n}.Keep(hosts)
			if want := 1000 / n; len(part) < want*8/10 || len(part) > want*12/10 {
				t.Errorf("shard %d/%d has %d of 1000 hosts; want about %d", k, n, len(part), want)
			}
			for _, h := range part {
				if prev, dup := owner[h.Name]; dup {
					t.Fatalf("%s in shards %d and %d of %d", h.Name, prev, k, n)
				}
				owner[h.Name] = k
			}
		}
		if len(owner) != len(hosts) {
			t.Fatalf("N=%d: %d of %d hosts in a shard", n, len(owner), len(hosts))
		}
		more := append(hostsNamed(1000, "web"), hostsNamed(300, "db")...)
		for k := 1; k <= n; k++ {
			for _, h := range (Shard{k, n}).Keep(more) {
				if o, was := owner[h.Name]; was && o != k {
					t.Errorf("adding hosts moved %s from shard %d to %d of %d", h.Name, o, k, n)
				}
			}
		}
	}
}

// Going from N to N+1 shards moves only about 1/(N+1) of the hosts, all to
// the new shard.
func TestShardGrowMovesFew(t *testing.T) {
	hosts := hostsNamed(1000, "h")
	moved := 0
	for _, h := range hosts {
		a, b := Shard{1, 4}.Of(h.Name), Shard{1, 5}.Of(h.Name)
		if a != b {
			moved++
			if b != 5 {
				t.Errorf("%s moved from %d to %d, not to the new shard", h.Name, a, b)
			}
		}
	}
	if moved > 260 {
		t.Errorf("4→5 shards moved %d of 1000 hosts; want about 200", moved)
	}
}
