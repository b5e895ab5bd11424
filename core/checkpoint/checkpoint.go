// Package checkpoint translates consumer-group offsets from a flow's source
// to its target, writes MM2's checkpoints and heartbeats, and optionally
// commits the translated offsets to the same groups on the target.
//
// One invocation:
//  1. fences earlier invocations (one transactional id per flow) and reads
//     its state (StateTopic) from the target;
//  2. lists the source's consumer groups (groups / groups.exclude) and their
//     committed offsets for replicated topics;
//  3. reads the offset syncs written since the last run (the mirror writes
//     them in its transactions) into per-partition indexes; until they are
//     read to the end nothing is translated;
//  4. translates with MM2's rules (offsetsync.Index) and, in one transaction
//     on the target, writes the checkpoints that moved (MM2's monotonicity
//     rule), a heartbeat, and the new state;
//  5. with sync.group.offsets.enabled, commits translated offsets to target
//     groups that are empty or absent there, only forward.
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/names"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// Checkpointer runs the checkpoint function for one flow.
type Checkpointer struct {
	Flow                     *config.Flow
	SourceAdmin, TargetAdmin *kadm.Client
	// SourceOpts and TargetOpts are connection options for each side.
	SourceOpts, TargetOpts []kgo.Opt
	Logger                 *slog.Logger
	// MaxSyncs and Dense size each partition's index (offsetsync.Index.Thin).
	MaxSyncs, Dense int
	// TransactionTimeout bounds the state transaction.
	TransactionTimeout time.Duration
	// SafetyMargin: a run ends by its stopAt plus this, whatever the
	// brokers do (every request, and ending the transaction).
	SafetyMargin time.Duration

	end time.Time // the run's end (Run)
}

// Result is one invocation's summary for a flow.
type Result struct {
	Flow           string   `json:"flow"`
	Groups         int      `json:"groups"`
	Partitions     int      `json:"partitions_translated"`
	SyncsRead      int      `json:"syncs_read"`
	Checkpoints    int      `json:"checkpoints"`
	Untranslatable int      `json:"untranslatable"`
	CatchingUp     bool     `json:"catching_up,omitempty"`
	GroupsSynced   int      `json:"groups_synced"`
	OffsetsSynced  int      `json:"offsets_synced"`
	GroupsActive   []string `json:"groups_active_on_target,omitempty"`
	Heartbeats     int      `json:"heartbeats"`
	Fenced         bool     `json:"fenced,omitempty"`
	Skipped        int      `json:"records_skipped,omitempty"`
	TooLong        int      `json:"skipped_too_long,omitempty"`
	Waiting        []string `json:"waiting_for_reconcile,omitempty"`
	Errors         []string `json:"errors,omitempty"`
	// GroupLags is how far each translated group is behind on the target,
	// for failover decisions (see GroupLag).
	GroupLags []GroupLag `json:"group_lags,omitempty"`
}

// GroupLag is how far a group would be behind on the target if it failed
// over now: Records is the sum over its partitions of the remote
// partition's end minus the translated offset where a record is left to
// consume (an upper bound: the target's transaction markers count too);
// Seconds is now minus the
// timestamp of the oldest record it has not consumed yet (the first record
// at or after a translated offset), 0 when it has consumed everything and
// -1 when the timestamps could not all be read this run.
type GroupLag struct {
	Group   string  `json:"group"`
	Records int64   `json:"records"`
	Seconds float64 `json:"seconds"`
}

// ErrWaiting is returned (wrapped) when the target lacks an internal topic
// that reconcile creates.
var ErrWaiting = errors.New("waiting for reconcile")

func (c *Checkpointer) log() *slog.Logger { return c.Logger.With("flow", c.Flow.Name()) }

// Run does one invocation; it stops reading offset syncs at stopAt.
func (c *Checkpointer) Run(ctx context.Context, stopAt time.Time) (*Result, error) {
	f := c.Flow
	res := &Result{Flow: f.Name()}
	// Every request is bounded by the run's end (outside Lambda ctx has
	// no deadline), and ending the transaction too (commit).
	c.end = stopAt.Add(c.SafetyMargin)
	ctx, cancelRun := context.WithDeadline(ctx, c.end)
	defer cancelRun()
	emitCheckpoints, emitHeartbeats, syncGroups := f.EmitCheckpoints, f.EmitHeartbeats, f.SyncGroupOffsets

	var need []string
	if emitCheckpoints {
		need = append(need, f.OffsetSyncsTopic(), StateTopic(f), f.Rules.Policy.CheckpointsTopic(f.Source))
	}
	if emitHeartbeats {
		need = append(need, f.Rules.Policy.HeartbeatsTopic())
	}
	missing, err := missingTopics(ctx, c.TargetAdmin, need)
	if err != nil {
		return res, err
	}
	if len(missing) > 0 {
		res.Waiting = missing
		return res, fmt.Errorf("%w: %s missing on %s", ErrWaiting, strings.Join(missing, ", "), f.Target)
	}

	prod, err := kgo.NewClient(append(append([]kgo.Opt{}, c.TargetOpts...),
		kgo.TransactionalID(names.CheckpointTransactionalID(f.Name())),
		kgo.TransactionTimeout(c.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))...)
	if err != nil {
		return res, fmt.Errorf("target producer: %w", err)
	}
	defer prod.Close()
	// Fence: an earlier invocation's open transaction is aborted and it
	// can no longer commit, so the state read next is the truth.
	if _, _, err := prod.ProducerID(ctx); err != nil {
		return res, fmt.Errorf("fence earlier checkpoint invocations: %w", err)
	}

	if !emitCheckpoints {
		// MM2 runs no checkpoint task then (and so no group offset sync):
		// heartbeats only.
		var records []*kgo.Record
		if emitHeartbeats {
			records = append(records, c.heartbeat())
		}
		return res, c.finish(ctx, prod, records, res, emitHeartbeats, false, nil)
	}

	st := newState()
	if err := c.readTopic(ctx, StateTopic(f), 0, time.Time{}, func(r *kgo.Record) {
		if err := st.apply(string(r.Key), r.Value); err != nil {
			c.log().Warn("skipped a checkpoint state record", "offset", r.Offset, "err", err)
		}
	}); err != nil {
		return res, fmt.Errorf("read state from %s: %w", StateTopic(f), err)
	}

	// Group offsets are read before the syncs, so the syncs are at least
	// as new as the offsets they translate.
	listedAt := time.Now()
	groups, err := c.sourceGroups(ctx, res)
	if err != nil {
		return res, err
	}

	// Offset syncs since the last run.
	start, err := c.syncsStart(ctx, st)
	if err != nil {
		return res, err
	}
	complete := true
	next := start
	err = c.readTopic(ctx, f.OffsetSyncsTopic(), start, stopAt, func(r *kgo.Record) {
		next = r.Offset + 1
		s, err := offsetsync.DecodeOffsetSync(r.Key, r.Value)
		if err != nil {
			res.Skipped++
			c.log().Warn("skipped an offset-sync record that does not decode", "offset", r.Offset, "err", err)
			return
		}
		t := tp{s.Topic, s.Partition}
		x := st.index[t]
		if x == nil {
			x = &offsetsync.Index{}
			st.index[t] = x
		}
		if !addSync(x, s, r) {
			res.Skipped++
			c.log().Warn("ignored an offset sync written outside a transaction for a partition the mirror syncs (not written by mirrorless)",
				"offset", r.Offset, "topic", s.Topic, "partition", s.Partition, "upstream", s.Upstream, "downstream", s.Downstream)
			return
		}
		st.dirtyIndex[t] = true
		res.SyncsRead++
	})
	if errors.Is(err, kafka.ErrStopped) {
		complete = false
	} else if err != nil {
		return res, fmt.Errorf("read offset syncs from %s: %w", f.OffsetSyncsTopic(), err)
	}
	if next > st.position {
		st.position = next
	}
	res.Skipped += st.skipped

	// Translate; checkpoints only once the syncs were read to the end.
	var records []*kgo.Record
	if !complete {
		res.CatchingUp = true
		c.log().Info("offset syncs not read to the end before the time budget; no translation this run", "read", res.SyncsRead)
	} else {
		records = c.translate(ctx, stopAt, st, groups, listedAt, emitCheckpoints, res)
	}
	c.thin(st, groups)
	if complete {
		c.forgetGone(ctx, st)
	}

	// One transaction: checkpoints, heartbeat, state.
	res.Checkpoints = len(records)
	if emitHeartbeats {
		records = append(records, c.heartbeat())
	}
	records = append(records, st.records(f)...)
	return res, c.finish(ctx, prod, records, res, emitHeartbeats, syncGroups && complete, st)
}

// addSync folds one offset-sync record into its partition's index and
// reports whether it was taken. The mirror writes its syncs in its
// replication transactions (read here read_committed), each after the
// first of a transaction naming its predecessor (offsetsync.PrevHeader),
// which lets the index translate exactly. A sync from outside a
// transaction is MirrorMaker 2's (written before the flow was adopted):
// it is taken under MM2's conservative rule while the partition has no
// sync of ours, and refused once it has one — the mirror never writes one,
// so it was forged or written by something else, and it must move nothing.
func addSync(x *offsetsync.Index, s offsetsync.OffsetSync, r *kgo.Record) bool {
	sync := offsetsync.Sync{Up: s.Upstream, Down: s.Downstream}
	if !r.Attrs.IsTransactional() {
		if x.Ours {
			return false
		}
		x.Add(sync)
		return true
	}
	x.Ours = true
	prev := int64(-1)
	for _, h := range r.Headers {
		if h.Key == offsetsync.PrevHeader {
			if p, k, ok := offsetsync.DecodePrev(h.Value); ok {
				prev, sync.Kind = p, k
			}
		}
	}
	x.AddAfter(sync, prev)
	return true
}

// heartbeat is MM2's Heartbeat(source, target, now) for the target's
// `heartbeats` topic.
func (c *Checkpointer) heartbeat() *kgo.Record {
	f := c.Flow
	hb := offsetsync.Heartbeat{Source: f.Source, Target: f.Target, TimestampMs: time.Now().UnixMilli()}
	return &kgo.Record{Topic: f.Rules.Policy.HeartbeatsTopic(), Partition: 0, Key: hb.Key(), Value: hb.Value()}
}

// finish commits the records in one transaction, then writes the reverse
// heartbeat and, if asked, syncs group offsets.
func (c *Checkpointer) finish(ctx context.Context, prod *kgo.Client, records []*kgo.Record, res *Result, heartbeats, syncGroups bool, st *state) error {
	if len(records) > 0 {
		if err := c.commit(ctx, prod, records); err != nil {
			res.Checkpoints = 0
			if kafka.IsFenced(err) {
				res.Fenced = true
				c.log().Warn("fenced: another checkpoint invocation took over", "err", err)
				return nil
			}
			return err
		}
	}
	if heartbeats {
		res.Heartbeats++
		if err := c.reverseHeartbeat(ctx); err != nil {
			res.Errors = append(res.Errors, err.Error())
			c.log().Warn("heartbeat on the source failed", "err", err)
		} else {
			res.Heartbeats++
		}
	}
	if syncGroups {
		if err := c.syncGroupOffsets(ctx, st, res); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	if len(res.Errors) > 0 {
		return errors.New(strings.Join(res.Errors, "; "))
	}
	return nil
}

// groupOffsets is one source group's committed offsets on replicated
// partitions.
type groupOffsets map[tp]kadm.Offset

// sourceGroups lists the flow's groups on the source and their offsets.
// A group is kept if it has an offset on a replicated topic (MM2's rule).
func (c *Checkpointer) sourceGroups(ctx context.Context, res *Result) (map[string]groupOffsets, error) {
	f := c.Flow
	listed, err := c.SourceAdmin.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups on %s: %w", f.Source, err)
	}
	var selected []string
	for _, g := range listed.Groups() {
		if !f.Groups.Match(g) || names.IsOwnGroup(g) {
			continue
		}
		if len(g) > offsetsync.MaxString {
			// Neither MM2's checkpoint key nor a real broker's offset
			// store can hold it; a checkpoint for it could not be read.
			res.TooLong++
			c.log().Warn("group skipped: its id is longer than MM2's checkpoint format can carry (32767 bytes)",
				"group", clip(g), "length", len(g))
			continue
		}
		selected = append(selected, g)
	}
	sort.Strings(selected)
	out := map[string]groupOffsets{}
	if len(selected) == 0 {
		return out, nil
	}
	for g, r := range c.SourceAdmin.FetchManyOffsets(ctx, selected...) {
		if r.Err != nil {
			c.log().Warn("could not read a group's offsets; skipped", "group", g, "err", r.Err)
			continue
		}
		m := groupOffsets{}
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || !f.Rules.ShouldReplicate(o.Topic) && !c.isBack(o.Topic) {
				return
			}
			if len(o.Metadata) > offsetsync.MaxString {
				res.TooLong++
				c.log().Warn("group partition skipped: its offset metadata is longer than MM2's checkpoint format can carry (32767 bytes)",
					"group", clip(g), "topic", o.Topic, "partition", o.Partition, "length", len(o.Metadata))
				return
			}
			m[tp{o.Topic, o.Partition}] = o.Offset
		})
		if len(m) > 0 {
			out[g] = m
		}
	}
	res.Groups = len(out)
	return out, nil
}

// syncsStart is where this run reads the offset-syncs topic from: the
// stored position, or the log start when the topic was truncated or
// recreated under it (then every index is rebuilt).
func (c *Checkpointer) syncsStart(ctx context.Context, st *state) (int64, error) {
	topic := c.Flow.OffsetSyncsTopic()
	starts, err := c.TargetAdmin.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	ends, err := c.TargetAdmin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	s, _ := starts.Lookup(topic, 0)
	e, _ := ends.Lookup(topic, 0)
	if s.Err != nil || e.Err != nil {
		return 0, fmt.Errorf("offsets of %s: %v", topic, errors.Join(s.Err, e.Err))
	}
	if st.position >= 0 && st.position >= s.Offset && st.position <= e.Offset {
		return st.position, nil
	}
	if st.position >= 0 {
		c.log().Warn("the offset-syncs topic was truncated or recreated; rebuilding translation from its start",
			"position", st.position, "log_start", s.Offset, "log_end", e.Offset)
		for t := range st.index {
			delete(st.index, t)
			st.dirtyIndex[t] = true // written as tombstones unless re-filled
		}
	}
	return s.Offset, nil
}

// translate computes every group partition's checkpoint and returns the
// records of those that moved.
func (c *Checkpointer) translate(ctx context.Context, stopAt time.Time, st *state, groups map[string]groupOffsets, listedAt time.Time, emit bool, res *Result) []*kgo.Record {
	f := c.Flow
	empty := c.emptyPartitions(ctx, st, groups)
	back := c.backIndex(ctx, groups)
	var remotes []string
	for _, m := range groups {
		for t := range m {
			remotes = append(remotes, c.targetTopic(t.Topic))
		}
	}
	ends := c.remoteEnds(ctx, remotes)
	behind := map[string][]lagging{}
	lagRecords := map[string]int64{}
	defer func() { res.GroupLags = c.groupLags(ctx, stopAt, lagRecords, behind) }()
	var out []*kgo.Record
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		last := st.groups[g]
		if last == nil {
			last = map[tp]emitted{}
		}
		changed := false
		for t, o := range groups[g] {
			var down int64
			var ok bool
			if c.isBack(t.Topic) {
				if x := back[tp{c.targetTopic(t.Topic), t.Partition}]; x != nil {
					down, ok = x.TranslateBack(o.At)
				}
			} else if x := st.index[t]; x != nil {
				down, ok = x.Translate(o.At)
			}
			if !ok && empty[t] {
				down, ok = 0, true
			}
			end, known := ends[tp{c.targetTopic(t.Topic), t.Partition}]
			if !ok || !known {
				res.Untranslatable++
				continue
			}
			if down > end {
				// Never past the remote partition's end, whatever the
				// offset syncs say (a target truncated or recreated under
				// the history): resuming at the end skips nothing there.
				c.log().Warn("translation past the remote partition's end; bounded by it",
					"group", g, "topic", t.Topic, "partition", t.Partition, "offset", down, "end", end)
				down = end
			}
			res.Partitions++
			rt := tp{c.targetTopic(t.Topic), t.Partition}
			if down < end {
				behind[g] = append(behind[g], lagging{at{rt, down}, end - down})
			}
			lagRecords[g] += end - down
			prev, seen := last[t]
			// MM2's rule: first checkpoint, the group rewound, or the
			// translation moved forward. Anything else would rewind a
			// checkpoint the group did not rewind.
			if seen && !(o.At < prev.Up || down > prev.Down) {
				continue
			}
			last[t] = emitted{o.At, down}
			changed = true
			if emit {
				cp := offsetsync.Checkpoint{Group: g, Topic: c.targetTopic(t.Topic), Partition: t.Partition,
					Upstream: o.At, Downstream: down, Metadata: o.Metadata}
				if err := cp.Check(); err != nil {
					// sourceGroups dropped what is too long; a record
					// MM2 could not read is never written.
					res.TooLong++
					c.log().Warn("checkpoint skipped", "group", clip(g), "topic", t.Topic, "partition", t.Partition, "err", err)
					continue
				}
				out = append(out, &kgo.Record{Topic: f.Rules.Policy.CheckpointsTopic(f.Source), Partition: 0,
					Key: cp.Key(), Value: cp.Value(), Timestamp: listedAt})
			}
		}
		for t := range last {
			if _, ok := groups[g][t]; !ok {
				delete(last, t) // the group no longer has an offset there
				changed = true
			}
		}
		if changed {
			st.groups[g] = last
			st.dirtyGroups[g] = true
		}
	}
	for g := range st.groups {
		if _, ok := groups[g]; !ok {
			delete(st.groups, g) // gone from the source: forget it
			st.dirtyGroups[g] = true
		}
	}
	return out
}

// remoteEnds returns the end offset of every partition of the remote
// topics on the target; a partition missing from it has no known end, and
// gets no translation this run.
func (c *Checkpointer) remoteEnds(ctx context.Context, topics []string) map[tp]int64 {
	out := map[tp]int64{}
	if len(topics) == 0 {
		return out
	}
	ends, err := c.TargetAdmin.ListEndOffsets(ctx, topics...)
	if err != nil {
		c.log().Warn("could not read the end offsets of remote topics; no translation for them this run", "err", err)
		return out
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	return out
}

// emptyPartitions finds the group partitions that have no sync because the
// source partition holds no records (nothing to copy, e.g. a partition
// that never had data): a group at its end translates to offset 0 of an
// empty remote partition (MM2's empty-partition scenario).
func (c *Checkpointer) emptyPartitions(ctx context.Context, st *state, groups map[string]groupOffsets) map[tp]bool {
	f := c.Flow
	var cand []tp
	seen := map[tp]bool{}
	for _, m := range groups {
		for t := range m {
			if x := st.index[t]; (x == nil || len(x.Syncs) == 0) && !seen[t] && !c.isBack(t.Topic) {
				seen[t] = true
				cand = append(cand, t)
			}
		}
	}
	out := map[tp]bool{}
	if len(cand) == 0 {
		return out
	}
	var srcTopics, remoteTopics []string
	for t := range seen {
		srcTopics = append(srcTopics, t.Topic)
		remoteTopics = append(remoteTopics, f.Rules.RemoteTopic(t.Topic))
	}
	ss, err1 := c.SourceAdmin.ListStartOffsets(ctx, srcTopics...)
	se, err2 := c.SourceAdmin.ListEndOffsets(ctx, srcTopics...)
	te, err3 := c.TargetAdmin.ListEndOffsets(ctx, remoteTopics...)
	if err := errors.Join(err1, err2, err3); err != nil {
		c.log().Warn("could not check partitions without offset syncs", "err", err)
		return out
	}
	for _, t := range cand {
		s, ok1 := ss.Lookup(t.Topic, t.Partition)
		e, ok2 := se.Lookup(t.Topic, t.Partition)
		r, ok3 := te.Lookup(f.Rules.RemoteTopic(t.Topic), t.Partition)
		if ok1 && ok2 && ok3 && s.Err == nil && e.Err == nil && r.Err == nil && s.Offset == e.Offset && r.Offset == 0 {
			for _, m := range groups {
				if o, ok := m[t]; ok && o.At == e.Offset {
					out[t] = true
				}
			}
		}
	}
	return out
}

// thin bounds every index, keeping the syncs the current group offsets use.
func (c *Checkpointer) thin(st *state, groups map[string]groupOffsets) {
	maxSyncs, dense := c.MaxSyncs, c.Dense
	if maxSyncs <= 0 {
		maxSyncs, dense = offsetsync.DefaultMaxSyncs, offsetsync.DefaultDense
	}
	keep := map[tp][]int64{}
	for _, m := range groups {
		for t, o := range m {
			keep[t] = append(keep[t], o.At)
		}
	}
	for t, x := range st.index {
		if len(x.Syncs) > maxSyncs {
			x.Thin(maxSyncs, dense, keep[t])
			st.dirtyIndex[t] = true
		}
	}
}

// forgetGone drops the indexes of source partitions that no longer exist
// or are no longer replicated, so the state does not keep what was deleted.
func (c *Checkpointer) forgetGone(ctx context.Context, st *state) {
	if len(st.index) == 0 {
		return
	}
	var topics []string
	seen := map[string]bool{}
	for t := range st.index {
		if !seen[t.Topic] {
			seen[t.Topic] = true
			topics = append(topics, t.Topic)
		}
	}
	td, err := c.SourceAdmin.ListTopics(ctx, topics...)
	if err != nil {
		return // next run
	}
	for t := range st.index {
		d, ok := td[t.Topic]
		if !ok || d.Err != nil || !c.Flow.Rules.ShouldReplicate(t.Topic) || int(t.Partition) >= len(d.Partitions) {
			delete(st.index, t)
			st.dirtyIndex[t] = true
		}
	}
}

// records are the state changes to write: the position, changed indexes
// and groups (nil values delete).
func (st *state) records(f *config.Flow) []*kgo.Record {
	topic := StateTopic(f)
	out := []*kgo.Record{{Topic: topic, Partition: 0, Key: []byte(keyPosition), Value: encodePosition(max(st.position, 0))}}
	for t := range st.dirtyIndex {
		r := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(indexKey(t))}
		if x := st.index[t]; x != nil {
			r.Value, _ = x.MarshalBinary()
		}
		out = append(out, r)
	}
	for g := range st.dirtyGroups {
		r := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(prefixGroup + g)}
		if m, ok := st.groups[g]; ok {
			r.Value = encodeGroup(m)
		}
		out = append(out, r)
	}
	return out
}

// commit writes records in one transaction. Ending it uses a context the
// caller's deadline does not cancel, so no transaction is left open.
func (c *Checkpointer) commit(ctx context.Context, prod *kgo.Client, records []*kgo.Record) error {
	if err := prod.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	// Ending the transaction is not cancelled with ctx (the Lambda
	// runtime cancels it at the deadline) but is bounded by the run's end,
	// with at least a second for a run already past it.
	endCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), endBy(c.end))
	defer cancel()
	// kgo does not fail an idempotent producer's records while their
	// request is in flight, whatever ctx says: the wait for them is
	// bounded by ctx here, or a target that accepts Produce and never
	// answers holds the run without end (ProduceSync did).
	e := kgo.AbortingFirstErrPromise(prod)
	for _, r := range records {
		prod.Produce(ctx, r, e.Promise())
	}
	done := make(chan error, 1)
	go func() { done <- e.Err() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		// Records the target holds keep AbortBufferedRecords waiting:
		// half the time left goes to it, the rest to the EndTxn.
		left, _ := endCtx.Deadline()
		bufCtx, bufCancel := context.WithTimeout(endCtx, time.Until(left)/2)
		_ = prod.AbortBufferedRecords(bufCtx)
		bufCancel()
		_ = prod.EndTransaction(endCtx, kgo.TryAbort)
		return fmt.Errorf("write checkpoints and state: %w", err)
	}
	if err := kafka.Commit(endCtx, prod); err != nil {
		// An unknown outcome is harmless here: the next run fences this
		// producer and reads whichever state committed.
		return fmt.Errorf("commit checkpoints and state: %w", err)
	}
	return nil
}

// endBy is when ending a transaction must be done: within 10 s and by the
// run's end, but at least a second from now.
func endBy(end time.Time) time.Time {
	now := time.Now()
	by := now.Add(10 * time.Second)
	if !end.IsZero() && end.Before(by) {
		by = end
	}
	if min := now.Add(time.Second); by.Before(min) {
		by = min
	}
	return by
}

// reverseHeartbeat writes Heartbeat(target, source) into `heartbeats` on
// the source, as MM2's heartbeat connector of the reverse pair does, so the
// mirror copies it and `<source>.heartbeats` appears on the target, where
// MM2's MirrorClient finds upstream clusters by topic name.
func (c *Checkpointer) reverseHeartbeat(ctx context.Context) error {
	f := c.Flow
	topic := f.Rules.Policy.HeartbeatsTopic()
	missing, err := missingTopics(ctx, c.SourceAdmin, []string{topic})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		resp, err := c.SourceAdmin.CreateTopic(ctx, 1, f.HeartbeatsReplicationFactor, map[string]*string{"cleanup.policy": ptr("compact")}, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s on %s: %w", topic, f.Source, err)
		}
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, c.SourceOpts...), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	hb := offsetsync.Heartbeat{Source: f.Target, Target: f.Source, TimestampMs: time.Now().UnixMilli()}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: hb.Key(), Value: hb.Value()}).FirstErr(); err != nil {
		return fmt.Errorf("heartbeat to %s on %s: %w", topic, f.Source, err)
	}
	return nil
}

func ptr(s string) *string { return &s }

// clip shortens a name from the source for a log line: its first 64
// bytes (cut on a rune boundary) and an ellipsis.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func missingTopics(ctx context.Context, adm *kadm.Client, topics []string) ([]string, error) {
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var missing []string
	for _, t := range topics {
		if d, ok := td[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
