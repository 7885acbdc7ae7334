package main

import (
	"github.com/drover-cm/drover/inventory"
)

// shard is --shard, parsed by checkShard before any host is selected.
var shard inventory.Shard

// checkShard parses --shard; a bad value is a usage error (64).
func checkShard() error {
	shard = inventory.Shard{K: 1, N: 1}
	if global.shard == "" {
		return nil
	}
	s, err := inventory.ParseShard(global.shard)
	if err != nil {
		return usageErrorf("%w", err)
	}
	shard = s
	return nil
}

// keepShard narrows a selection to --shard's slice. It reports whether the
// shard emptied a selection that had hosts: with few hosts and many shards
// a shard may own none, which is not the typo "no hosts selected" guards
// against, so callers run nothing and succeed.
func keepShard(u *ui, hosts []*inventory.Host) ([]*inventory.Host, bool) {
	if shard.N <= 1 || len(hosts) == 0 {
		return hosts, false
	}
	kept := shard.Keep(hosts)
	if len(kept) == 0 {
		u.warnf("--shard %s owns none of the %d selected hosts; nothing to do in this shard", shard, len(hosts))
		return nil, true
	}
	return kept, false
}
