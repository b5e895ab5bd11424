package checkpoint

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// syncGroupOffsets commits the translated offsets (the last checkpoints)
// to the same groups on the target (sync.group.offsets.enabled). A group
// is written only when it is empty or absent on the target, checked
// explicitly first, and a partition only forward: never over a live
// consumer, never rewinding what the target group already has.
func (c *Checkpointer) syncGroupOffsets(ctx context.Context, st *state, res *Result) error {
	f := c.Flow
	listed, err := c.TargetAdmin.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("list groups on %s: %w", f.Target, err)
	}
	states := map[string]string{}
	for _, g := range listed {
		states[g.Group] = g.State
	}
	var names []string
	for g := range st.groups {
		names = append(names, g)
	}
	sort.Strings(names)
	var writable []string
	for _, g := range names {
		s, exists := states[g]
		if exists && s != "Empty" && s != "Dead" {
			res.GroupsActive = append(res.GroupsActive, g)
			continue
		}
		writable = append(writable, g)
	}
	if len(writable) == 0 {
		return nil
	}
	var remotes []string
	for _, g := range writable {
		for t := range st.groups[g] {
			remotes = append(remotes, c.targetTopic(t.Topic))
		}
	}
	ends := c.remoteEnds(ctx, remotes)
	current := c.TargetAdmin.FetchManyOffsets(ctx, writable...)
	var errs []string
	for _, g := range writable {
		have := map[tp]int64{}
		if r, ok := current[g]; ok && r.Err == nil {
			r.Fetched.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil {
					have[tp{o.Topic, o.Partition}] = o.At
				}
			})
		}
		os := kadm.Offsets{}
		n := 0
		for t, e := range st.groups[g] {
			remote := tp{c.targetTopic(t.Topic), t.Partition}
			if at, ok := have[remote]; ok && at >= e.Down {
				continue // only forward
			}
			if end, ok := ends[remote]; !ok || e.Down > end {
				continue // never past the remote partition's end
			}
			os.Add(kadm.Offset{Topic: remote.Topic, Partition: remote.Partition, At: e.Down, LeaderEpoch: -1})
			n++
		}
		if n == 0 {
			continue
		}
		resp, err := c.TargetAdmin.CommitOffsets(ctx, g, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			// A consumer that joined since the check makes the broker
			// refuse the commit: the group is live, which is fine.
			c.log().Warn("could not commit translated offsets to the target group", "group", g, "err", err)
			errs = append(errs, fmt.Sprintf("group %s: %v", g, err))
			continue
		}
		res.GroupsSynced++
		res.OffsetsSynced += n
	}
	if len(errs) > 0 {
		return fmt.Errorf("sync group offsets: %v", errs)
	}
	return nil
}
