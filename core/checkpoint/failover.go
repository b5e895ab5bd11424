package checkpoint

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// Translation is one partition of a failover plan.
type Translation struct {
	Topic     string `json:"topic"` // the remote topic on the target
	Partition int32  `json:"partition"`
	Upstream  int64  `json:"source_offset"` // the group's offset on the source
	Offset    int64  `json:"offset"`        // where the group resumes on the target
	Metadata  string `json:"metadata,omitempty"`
	// Current is the group's committed offset on the target, -1 if none.
	Current int64 `json:"target_committed"`
	End     int64 `json:"target_end"`
	// ReReadMax bounds the records the group re-reads after resuming at
	// Offset (records it had processed on the source); -1 when unknown
	// (checkpoints written by another tool, or translation history gone).
	ReReadMax int64  `json:"reread_max"`
	Action    string `json:"action"` // commit, committed, in place, ahead (left), end unknown (left)
}

// FailoverPlan is what the failover command prints (and applies).
type FailoverPlan struct {
	Flow        string        `json:"flow"`
	Group       string        `json:"group"`
	TargetState string        `json:"target_group_state"`
	Partitions  []Translation `json:"partitions"`
	Applied     bool          `json:"applied"`
}

// Failover reads the group's latest checkpoints from the target, the way
// MM2's RemoteClusterUtils.translateOffsets does (the last record per
// partition wins), so it needs only the target cluster and works with
// checkpoints written by MM2 too. With apply, it commits the offsets to
// the group on the target, only when the group has no active members
// there and only forward.
func (c *Checkpointer) Failover(ctx context.Context, group string, apply bool) (*FailoverPlan, error) {
	f := c.Flow
	plan := &FailoverPlan{Flow: f.Name(), Group: group}
	cps := map[tp]offsetsync.Checkpoint{}
	ours := map[tp]bool{}
	topic := f.Rules.Policy.CheckpointsTopic(f.Source)
	if missing, err := missingTopics(ctx, c.TargetAdmin, []string{topic}); err != nil {
		return nil, err
	} else if len(missing) > 0 {
		return nil, fmt.Errorf("%s does not exist on %s: no checkpoints were written for flow %s", topic, f.Target, f.Name())
	}
	if err := c.readTopic(ctx, topic, 0, timeZero, func(r *kgo.Record) {
		cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value)
		if err != nil {
			c.log().Warn("skipped a checkpoint record that does not decode", "offset", r.Offset, "err", err)
			return
		}
		if cp.Group != group {
			return
		}
		// Checkpoints of ours are written in transactions; one from
		// outside a transaction after them is not ours (MM2's, written
		// before adoption, come first) and moves nothing.
		t := tp{cp.Topic, cp.Partition}
		if !r.Attrs.IsTransactional() && ours[t] {
			c.log().Warn("ignored a checkpoint written outside a transaction after mirrorless' own", "offset", r.Offset, "topic", cp.Topic, "partition", cp.Partition)
			return
		}
		ours[t] = ours[t] || r.Attrs.IsTransactional()
		cps[t] = cp
	}); err != nil {
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	// The translation history, for the re-read bound.
	st := newState()
	if missing, _ := missingTopics(ctx, c.TargetAdmin, []string{StateTopic(f)}); len(missing) == 0 {
		_ = c.readTopic(ctx, StateTopic(f), 0, timeZero, func(r *kgo.Record) { _ = st.apply(string(r.Key), r.Value) })
	}
	positions, err := mirror.Positions(ctx, c.TargetAdmin, f)
	if err != nil {
		c.log().Warn("could not read the mirror's positions; re-read bounds past the newest sync stay loose", "err", err)
	}
	byRemote := map[tp]*offsetsync.Index{}
	for t, x := range st.index {
		byRemote[tp{f.Rules.RemoteTopic(t.Topic), t.Partition}] = x
	}

	listed, err := c.TargetAdmin.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups on %s: %w", f.Target, err)
	}
	plan.TargetState = "Dead"
	for _, g := range listed {
		if g.Group == group {
			plan.TargetState = g.State
		}
	}
	current := map[tp]int64{}
	if r := c.TargetAdmin.FetchManyOffsets(ctx, group)[group]; r.Err == nil {
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				current[tp{o.Topic, o.Partition}] = o.At
			}
		})
	}
	var topics []string
	for t := range cps {
		topics = append(topics, t.Topic)
	}
	ends, err := c.TargetAdmin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets on %s: %w", f.Target, err)
	}
	commit := kadm.Offsets{}
	for t, cp := range cps {
		tr := Translation{Topic: t.Topic, Partition: t.Partition, Upstream: cp.Upstream, Offset: cp.Downstream,
			Metadata: cp.Metadata, Current: -1, End: -1, ReReadMax: -1, Action: "none"}
		if e, ok := ends.Lookup(t.Topic, t.Partition); ok && e.Err == nil {
			tr.End = e.Offset
		}
		if x := byRemote[t]; x != nil {
			if d, ok := x.Translate(cp.Upstream); ok && d == cp.Downstream {
				tr.ReReadMax = x.ReRead(cp.Upstream)
				// Past the newest sync, the index alone cannot tell the
				// source's markers from records not copied yet; the
				// mirror's position can: if its last copied record is
				// that sync's and it has passed the group's offset,
				// nothing between was copied, and nothing is re-read.
				if n := len(x.Syncs); tr.ReReadMax > 0 && n > 0 && cp.Upstream > x.Syncs[n-1].Up {
					if p, ok := positions[lease.Unit{Topic: t.Topic, Partition: t.Partition}]; ok && p.LastUpstream == x.Syncs[n-1].Up && p.Next >= cp.Upstream {
						tr.ReReadMax = 0
					}
				}
			}
		}
		if tr.End >= 0 && tr.Offset > tr.End {
			// Never past the remote partition's end, whatever the
			// checkpoints topic holds.
			tr.Offset = tr.End
		}
		if tr.End >= 0 && tr.Offset >= tr.End {
			tr.ReReadMax = 0 // resuming at the end re-reads nothing
		}
		if at, ok := current[t]; ok {
			tr.Current = at
		}
		switch {
		case tr.End < 0:
			tr.Action = "end unknown (left)"
		case tr.Current == tr.Offset:
			tr.Action = "in place"
		case tr.Current > tr.Offset:
			tr.Action = "ahead (left)"
		default:
			tr.Action = "commit"
			commit.Add(kadm.Offset{Topic: t.Topic, Partition: t.Partition, At: tr.Offset, LeaderEpoch: -1, Metadata: cp.Metadata})
		}
		plan.Partitions = append(plan.Partitions, tr)
	}
	sort.Slice(plan.Partitions, func(i, j int) bool {
		a, b := plan.Partitions[i], plan.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	if !apply || len(commit) == 0 {
		return plan, nil
	}
	if s := plan.TargetState; s != "Empty" && s != "Dead" {
		return plan, fmt.Errorf("group %s is %s on %s (it has active members): stop its consumers there first; nothing was committed", group, s, f.Target)
	}
	resp, err := c.TargetAdmin.CommitOffsets(ctx, group, commit)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return plan, fmt.Errorf("commit offsets of %s on %s: %w", group, f.Target, err)
	}
	for i := range plan.Partitions {
		if plan.Partitions[i].Action == "commit" {
			plan.Partitions[i].Action = "committed"
		}
	}
	plan.Applied = true
	return plan, nil
}
