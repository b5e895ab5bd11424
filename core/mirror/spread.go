package mirror

import (
	"cmp"
	"slices"
)

// spread orders the candidates of one invocation of a fanned-out tick so
// that the tick's invocations, started at the same moment, prefer disjoint
// partitions: every invocation sorts them the same way (least recently
// committed first, then by name, without the random tie-break a lone
// invocation uses), and the one with index i starts its preference i*per
// further down, wrapping round. Which partitions end up claimed is still
// decided by the leases; this only keeps invocations from all reaching for
// the head of the same list.
func spread(cands []*unit, index, per int) []*unit {
	out := slices.Clone(cands)
	slices.SortStableFunc(out, func(a, b *unit) int {
		return cmp.Or(cmp.Compare(committedAt(a), committedAt(b)), cmp.Compare(a.SourceTopic, b.SourceTopic), cmp.Compare(a.Partition, b.Partition))
	})
	if len(out) == 0 || index <= 0 || per <= 0 {
		return out
	}
	k := (index % len(out)) * per % len(out)
	return append(out[k:], out[:k]...)
}
