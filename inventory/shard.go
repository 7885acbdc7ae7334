package inventory

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one slice of a host selection, K of N (1-based), so that N
// controllers (a CI matrix, batch jobs) can each run a part of a fleet.
type Shard struct{ K, N int }

// ParseShard reads "K/N" with 1 ≤ K ≤ N.
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	ki, kerr := strconv.Atoi(k)
	ni, nerr := strconv.Atoi(n)
	if !ok || kerr != nil || nerr != nil {
		return Shard{}, fmt.Errorf("--shard %q: want K/N, such as 2/5 for the second of five shards", s)
	}
	if ni < 1 || ki < 1 || ki > ni {
		return Shard{}, fmt.Errorf("--shard %q: K must be from 1 to N (N ≥ 1), such as 1/%d to %d/%d", s, max(ni, 1), max(ni, 1), max(ni, 1))
	}
	return Shard{K: ki, N: ni}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Of returns the shard (1..N) that owns the host named name. It is
// rendezvous hashing: the shard with the highest hash of (name, shard)
// wins. A host's shard depends only on its name and N, so adding or
// removing hosts never moves the others (index modulo would shift every
// host after the change), and going from N to N+1 shards moves only the
// hosts the new shard wins.
func (s Shard) Of(name string) int {
	best, bestScore := 1, uint64(0)
	for j := 1; j <= s.N; j++ {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s", j, name)
		// FNV alone mixes the last bytes weakly; finish with a
		// splitmix64 step so that the scores of one name are independent.
		if sc := mix64(h.Sum64()); j == 1 || sc > bestScore {
			best, bestScore = j, sc
		}
	}
	return best
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Keep returns the hosts this shard owns, in their order.
func (s Shard) Keep(hosts []*Host) []*Host {
	if s.N <= 1 {
		return hosts
	}
	var out []*Host
	for _, h := range hosts {
		if s.Of(h.Name) == s.K {
			out = append(out, h)
		}
	}
	return out
}
