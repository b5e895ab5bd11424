package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// Claiming a work group: leases on the partitions to work, the group's
// producer (fencing the previous holder), the assignment checked after
// it, and each partition's committed position, now stable, checked
// against the source before anything is copied.

// claim takes leases on up to n of units (one work group's partitions
// with work, most overdue first), passing over those another invocation
// holds, and renews them every third of their TTL until the returned
// release is called, which gives them back. Leases only keep
// invocations from working the same partitions; fencing decides who
// may commit.
func (m *Mirror) claim(ctx, parent context.Context, leases *lease.Store, units []*unit, n int, end time.Time, log *slog.Logger) ([]lease.Unit, func(), error) {
	want := make([]lease.Unit, len(units))
	for i, u := range units {
		want[i] = u.Unit
	}
	// Another invocation holding some of the group's partitions holds
	// the group: both initialising the group's id would fence each
	// other's transactions, copying little. The group is passed over.
	// (Invocations that claim at the same moment do not see each other
	// here: they take disjoint partitions and fencing sorts them out.)
	ttl := m.Settings.LeaseTTL
	claimed, heldUnit, held, err := leases.TakeUnlessHeld(ctx, want, n, ttl)
	if held {
		log.Info("another invocation holds part of this work group; passing it over", "partition", heldUnit)
	}
	if err != nil || len(claimed) == 0 {
		return nil, func() {}, err
	}
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
			}
			got, err := leases.Claim(renewCtx, claimed, ttl)
			switch {
			case err != nil && renewCtx.Err() == nil:
				log.Warn("renew leases", "err", err)
			case err == nil && len(got) < len(claimed):
				log.Warn("leases taken by another invocation", "held", len(got), "claimed", len(claimed))
			}
		}
	}()
	return claimed, func() {
		stopRenew()
		<-renewed
		rctx, cancel := endContext(parent, end, 5*time.Second)
		defer cancel()
		if err := leases.Release(rctx, claimed); err != nil {
			log.Warn("release leases", "err", err)
		}
	}, nil
}

// start fences the group's previous writer with a fresh producer, checks
// the assignment it works under, and reads the claimed partitions'
// positions, now stable, deciding where each resumes. Lanes that cannot
// start are returned with their status and left out of the run. With an
// error that comes after the lanes' positions were decided (an anchor's),
// left holds those stopped and those whose anchor committed (their
// positions moved): see withStarted.
func (g *groupRun) start(ctx context.Context, p *plan, claimed []lease.Unit) (ready, left []*lane, err error) {
	m := g.m
	if err := g.initProducer(ctx); err != nil {
		return nil, nil, err
	}
	m.offsetsImplicit = offsetsAddedImplicitly(ctx, m.TargetAdmin)
	var lanes []*lane
	stable := map[lease.Unit]bool{}
	for _, lu := range claimed {
		u := p.find(lu)
		lanes = append(lanes, &lane{u: u, lastSyncUp: -1, lastSyncDown: -1, offsetLagMax: m.Flow.OffsetLagMax, log: g.log.With("topic", u.SourceTopic, "partition", u.Partition)})
		stable[lu] = true
	}
	progress, err := readProgress(ctx, m.TargetAdmin, ProgressGroup(m.Flow), stable)
	if err != nil {
		return nil, nil, err
	}
	var fresh []*unit
	for _, l := range lanes {
		if p, ok := progress[l.u.Unit]; ok {
			l.known = &p
		} else {
			fresh = append(fresh, l.u)
		}
	}
	bounds, err := remoteBounds(ctx, m.TargetAdmin, fresh)
	if err != nil {
		return nil, nil, err
	}
	if err := m.checkEpochs(ctx, lanes, progress); err != nil {
		return nil, nil, err
	}
	var anchors []*lane
	for _, l := range lanes {
		anchor, err := g.position(ctx, l, progress, bounds[l.u.Unit])
		switch {
		case errors.Is(err, errUnitTaken):
			l.log.Info("another invocation took this partition while it started; passing it over")
		case err != nil:
			l.stop(err)
			left = append(left, l)
		case anchor:
			anchors = append(anchors, l)
		default:
			ready = append(ready, l)
		}
	}
	if len(anchors) > 0 {
		ok, failed, err := g.anchor(ctx, anchors)
		if err != nil {
			return nil, append(left, failed...), err
		}
		if ready, err = g.unmoved(ctx, ready); err != nil {
			return nil, append(left, ok...), err
		}
		ready = append(ready, ok...)
		left = append(left, failed...)
	}
	return ready, left, nil
}

// unmoved is lanes without those whose committed position is no longer
// the one this run read (l.known), read again now: the anchor's raw EndTxn
// leaves the group's id unfenced until its new producer's InitProducerID,
// so another invocation may have taken the group, copied and committed
// meanwhile (and is fenced now). Such a lane is that invocation's work,
// and its position here is behind: it is passed over, as an anchored lane
// is when another invocation committed after its anchor.
func (g *groupRun) unmoved(ctx context.Context, lanes []*lane) ([]*lane, error) {
	if len(lanes) == 0 {
		return lanes, nil
	}
	moved, err := g.movedOn(ctx, lanes)
	if err != nil {
		return nil, err
	}
	var out []*lane
	for _, l := range lanes {
		if got, ok := moved[l]; ok {
			l.log.Info("another invocation committed while the group's anchor ended; passing it over", "position", got.Next)
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// movedOn reads the lanes' committed positions again (stable) and
// returns those that are not what this run last knew of them (l.known):
// another invocation committed them. The position is the zero one when
// the target holds none.
func (g *groupRun) movedOn(ctx context.Context, lanes []*lane) (map[*lane]Position, error) {
	stable := map[lease.Unit]bool{}
	for _, l := range lanes {
		stable[l.u.Unit] = true
	}
	progress, err := readProgress(ctx, g.m.TargetAdmin, ProgressGroup(g.m.Flow), stable)
	if err != nil {
		return nil, err
	}
	moved := map[*lane]Position{}
	for _, l := range lanes {
		got, ok := progress[l.u.Unit]
		if l.known == nil && ok || l.known != nil && (!ok || !got.same(*l.known)) {
			moved[l] = got
		}
	}
	return moved, nil
}

// reinit initialises a new producer for the group after a raw EndTxn
// made the old one stale (see abort). Between that EndTxn and the new
// InitProducerID the group's id is not fenced: another invocation may
// have taken the group, copied and committed, and the new producer
// fences it in turn. The lanes' positions are read again (stable, now
// that the new producer has ended any transaction of the group): one
// that is not what this run last knew of it is another invocation's
// work, and the group stops (errTakenOver) rather than copy from its
// own positions, which are behind.
func (g *groupRun) reinit(ctx context.Context) error {
	if err := g.initProducer(ctx); err != nil {
		return err
	}
	moved, err := g.movedOn(ctx, g.lanes)
	if err != nil {
		return err
	}
	for _, l := range g.lanes {
		if got, ok := moved[l]; ok && !l.stopped {
			return fmt.Errorf("%w: %s at offset %d", errTakenOver, l.u.Unit, got.Next)
		}
	}
	return nil
}

// errTakenOver: another invocation committed positions of the group
// while this run's producer was being re-initialised.
var errTakenOver = errors.New("another invocation took the work group over and committed")

// initProducer (re)initialises the group's producer, fencing whoever held
// the group's id, and then checks that the assignment is still the one
// the run took its partitions from: a changer's fence may have come
// before this InitProducerID, and then this check sees its new
// assignment (see assign.go).
func (g *groupRun) initProducer(ctx context.Context) error {
	if g.prod != nil {
		g.prod.Close()
		g.prod = nil
	}
	prod, err := g.m.initProducer(ctx, g.txnID)
	if err != nil {
		return fmt.Errorf("fence earlier writers of work group %d: %w", g.id, err)
	}
	g.prod = prod
	g.fresh, g.stale = true, false
	a, ok, err := g.m.readAssignment(ctx)
	if err == nil && (!ok || !a.Ready || !a.same(g.assign)) {
		err = fmt.Errorf("%w (generation %d, now %d)", errReassigned, g.assign.Gen, a.Gen)
	}
	if err != nil {
		// Not checked: whatever would commit next must initialise again.
		g.stale = true
	}
	return err
}

// checkEpochs asks the source where the leader epoch of each starting
// lane's position ends (OffsetForLeaderEpoch, one request per source
// broker), as a consumer validates its position since KIP-320. An epoch
// the source does not know, or one that ends before the position, means
// the source's log diverged from what was copied: an unclean leader
// election made a replica leader that lacked records already copied, and
// new records took their offsets. The lane is marked for position, which
// stops it. A partition the source cannot answer for fails this run.
func (m *Mirror) checkEpochs(ctx context.Context, lanes []*lane, progress map[lease.Unit]Position) error {
	var req kadm.OffsetForLeaderEpochRequest
	byTP := map[string]map[int32]*unit{}
	for _, l := range lanes {
		pos, ok := progress[l.u.Unit]
		if !ok || !pos.HasEpoch || pos.SourceID != "" && pos.SourceID != l.u.SourceID {
			continue // a recreated topic is stopped as such
		}
		req.Add(l.u.SourceTopic, l.u.Partition, pos.Epoch)
		if byTP[l.u.SourceTopic] == nil {
			byTP[l.u.SourceTopic] = map[int32]*unit{}
		}
		byTP[l.u.SourceTopic][l.u.Partition] = l.u
	}
	if len(byTP) == 0 {
		return nil
	}
	resp, err := m.SourceAdmin.OffsetForLeaderEpoch(ctx, req)
	if err != nil && len(resp) == 0 {
		return fmt.Errorf("check the source leader epochs of the positions: %w", err)
	}
	for t, ps := range byTP {
		for p, u := range ps {
			pos := progress[u.Unit]
			o, ok := resp[t][p]
			switch {
			case !ok || o.Err != nil:
				e := o.Err
				if !ok {
					e = err
				}
				u.epochErr = fmt.Errorf("check the source leader epoch %d of the position %d of %s/%d: %v", pos.Epoch, pos.Next, t, p, e)
			case o.EndOffset < 0:
				u.divergedAt = -1
				u.diverged = fmt.Sprintf("source log diverged: the leader of %s/%d has no record of leader epoch %d, in which the records before the position %d were copied (an unclean leader election to a replica without them?); its records from some offset below %d on may not be the ones copied", t, p, pos.Epoch, pos.Next, pos.Next)
			case o.EndOffset < pos.Next:
				u.divergedAt = o.EndOffset
				u.diverged = fmt.Sprintf("source log diverged: leader epoch %d of %s/%d ends at offset %d on the source, before the position %d: offsets %d..%d were replaced after they were copied (an unclean leader election)", pos.Epoch, t, p, o.EndOffset, pos.Next, o.EndOffset, pos.Next-1)
			}
		}
	}
	return nil
}

// sourceEnd is a source partition's last stable offset now.
func sourceEnd(ctx context.Context, adm *kadm.Client, topic string, partition int32) (int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list source end offsets of %s: %w", topic, err)
	}
	o, ok := ends.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return 0, fmt.Errorf("list source end offset of %s/%d: %v", topic, partition, o.Err)
	}
	return o.Offset, nil
}

// errUnitTaken: while this invocation started a lane, another one fenced
// its group and committed the lane's first transaction.
var errUnitTaken = errors.New("unit taken by another invocation")

// position decides where a lane resumes, refusing to guess: a committed
// position the source no longer has is data loss, and a remote partition
// that holds records without any progress was written by something else.
// anchor says the position must be committed before anything is copied
// (g.anchor): a first position under auto.offset.reset=latest, a reset
// by the reset policy (to the log start, or past a truncation), or the
// refresh of an idle position with nothing copied since it was set.
func (g *groupRun) position(ctx context.Context, l *lane, progress map[lease.Unit]Position, remote [2]int64) (anchor bool, _ error) {
	m, u := g.m, l.u
	if pos, ok := progress[u.Unit]; ok {
		u.Progress = &pos
		l.pos = pos
		l.pos.SourceID = u.SourceID
		if pos.Next > u.End {
			// Another invocation that planned later may have fenced this
			// one and copied past the end this one saw: ask the source
			// again before calling the position impossible (with the reset
			// policy, a wrong call here would copy records twice).
			end, err := sourceEnd(ctx, m.SourceAdmin, u.SourceTopic, u.Partition)
			if err != nil {
				return false, err
			}
			u.End = max(u.End, end)
		}
		var problem string
		var kind error
		switch {
		case pos.SourceID != "" && pos.SourceID != u.SourceID:
			kind = ErrSourceRecreated
			problem = fmt.Sprintf("source topic %s was deleted and recreated (topic id %s, now %s): its offsets are not the ones copied so far", u.SourceTopic, pos.SourceID, u.SourceID)
		case pos.Next < u.LogStart:
			kind = ErrSourceDataLost
			problem = fmt.Sprintf("source data lost: offsets %d..%d of %s/%d were deleted (retention or DeleteRecords) before they were copied", pos.Next, u.LogStart-1, u.SourceTopic, u.Partition)
		case pos.Next > u.End:
			kind = ErrSourceTruncated
			problem = fmt.Sprintf("progress %d is past the source end %d of %s/%d: the source partition was truncated or the topic recreated", pos.Next, u.End, u.SourceTopic, u.Partition)
		case u.epochErr != nil:
			return false, u.epochErr
		case u.diverged != "":
			kind = ErrSourceDiverged
			problem = u.diverged
		case pos.LastUpstream < 0 && pos.Next >= u.End && u.refreshDue(m.Settings.ProgressRefresh):
			// An idle position with nothing copied since it was set (a
			// reset, a latest start) is due for its refresh: no offset
			// sync can go with it, so it is committed again as an anchor,
			// before offsets.retention.minutes expires it (a reset one
			// expired would leave the remote's records without progress).
			l.pos.Committed = time.Now()
			return true, nil
		default:
			return false, nil
		}
		if m.Settings.ResetPolicy != config.ResetEarliest {
			return false, fmt.Errorf("%w: %w; the partition stays stopped (set MIRROR_RESET_POLICY=earliest to resume from the source's earliest offset)", ErrPartitionStopped, stopReason{kind, problem})
		}
		if kind == ErrSourceDiverged {
			// The reset policy after a divergence: the target keeps what
			// was copied, and the copy goes on from the position with the
			// source's new history; the source offsets between where the
			// copied epoch ends and the position are skipped (their new
			// records are not copied), when the source says where.
			l.pos.HasEpoch = false
			l.res.Reset = fmt.Sprintf("%s; resumed at offset %d by MIRROR_RESET_POLICY=earliest", problem, pos.Next)
			if u.divergedAt >= 0 {
				l.res.Skipped = pos.Next - max(u.divergedAt, u.LogStart)
			}
			l.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", pos.Next, "skipped", l.res.Skipped)
			return false, nil
		}
		if kind == ErrSourceTruncated {
			// The reset policy after a truncation (same topic, its end now
			// before the position: an unclean election to a shorter
			// replica): resume at the source's end, not its start, which
			// would copy every retained record a second time. The records
			// the source had at offsets end..position-1 were copied and are
			// gone from it (the target keeps the copies); those offsets
			// are counted as skipped, and records written to them from now
			// on are copied. The new position is committed at once (as an
			// anchor, fenced): left at the old one, the next run would
			// reset again past records written in between. The next copied
			// record gets an offset sync, so translation stays right.
			l.pos = Position{Next: u.End, LastUpstream: -1, LastDownstream: -1, SourceID: u.SourceID, Committed: time.Now()}
			l.res.Skipped = pos.Next - u.End
			l.res.Reset = fmt.Sprintf("%s; offsets %d..%d were lost from the source after they were copied; resumed at the source end %d by MIRROR_RESET_POLICY=earliest", problem, u.End, pos.Next-1, u.End)
			l.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", u.End, "skipped", l.res.Skipped)
			return true, nil
		}
		// The reset policy: resume at the source's log start. The next
		// copied record gets an offset sync (an upstream gap or rewind), so
		// translation stays right on both sides of the jump.
		// The last copied record is of the old history (a recreated topic,
		// deleted data): forgotten, so that no sync or position of the new
		// one names it (a position with up past its offset is refused),
		// and so is the leader epoch of the record before the old position.
		// The new position is committed at once (as an anchor, fenced), as
		// after a truncation: a lane with nothing to copy at the log start
		// (a topic recreated empty) has no record to carry it, and the
		// refresh of its old position, due, could not be written without a
		// last copied record; the run went on trying until its stop time,
		// and the next run reset the partition again.
		l.pos = Position{Next: u.LogStart, LastUpstream: -1, LastDownstream: -1, SourceID: u.SourceID, Committed: time.Now()}
		l.res.Reset = fmt.Sprintf("%s; reset to offset %d by MIRROR_RESET_POLICY=earliest", problem, u.LogStart)
		if pos.Next < u.LogStart && (pos.SourceID == "" || pos.SourceID == u.SourceID) {
			l.res.Skipped = u.LogStart - pos.Next
		}
		l.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", u.LogStart, "skipped", l.res.Skipped)
		return true, nil
	}
	has, err := hasCommittedRecords(ctx, m.TargetOpts, u.Unit.Topic, u.Partition, remote[0], remote[1])
	if err != nil {
		return false, err
	}
	if has {
		// Another invocation may have fenced this one and committed its
		// first transaction (records and progress together) after the
		// progress was read: then the progress is there now, and the
		// lane is that invocation's, not a stopped partition.
		again, err := readProgress(ctx, m.TargetAdmin, ProgressGroup(m.Flow), map[lease.Unit]bool{u.Unit: true})
		if err != nil {
			return false, err
		}
		if _, ok := again[u.Unit]; ok {
			return false, errUnitTaken
		}
		return false, fmt.Errorf("%w: %w", ErrPartitionStopped, stopReason{ErrForeignRecords, fmt.Sprintf("remote partition %s/%d already holds records but has no mirrorless progress (group %s): it was written by another tool or the progress was deleted; refusing to copy duplicates",
			u.Unit.Topic, u.Partition, ProgressGroup(m.Flow))})
	}
	l.pos = Position{Next: u.LogStart, LastUpstream: -1, LastDownstream: -1, SourceID: u.SourceID}
	if m.Flow.StartFrom == "latest" {
		l.pos.Next = u.End
		l.pos.Committed = time.Now()
		return true, nil
	}
	return false, nil
}

// anchor commits the positions of lanes that must have one before
// anything is copied (position says which) in one transaction of the
// group's producer holding only those offsets, so that an invocation
// fenced before its anchor lands cannot rewind the progress others
// committed since (issue 18 item 1). The anchor's EndTxn leaves the
// producer unusable (kafka.EndTxn), so a fresh one takes over; its
// InitProducerID also settles an anchor whose outcome is unknown, and the
// progress read after it says where each lane stands.
//
// No anchor begins after the run's stop time; one that began ends its
// transaction, and settles it, with a context the run's deadline does not
// cancel, bounded by the run's end (endContext).
func (g *groupRun) anchor(ctx context.Context, lanes []*lane) (ready, left []*lane, _ error) {
	m := g.m
	if !time.Now().Before(g.stopAt) {
		g.log.Debug("no time left to anchor; left for the next run", "partitions", len(lanes))
		return nil, nil, nil
	}
	group := ProgressGroup(m.Flow)
	offsets := make([]kafka.TxnOffset, len(lanes))
	stable := map[lease.Unit]bool{}
	for i, l := range lanes {
		offsets[i] = l.offset(l.pos)
		stable[l.u.Unit] = true
	}
	err := addProgressGroup(ctx, g.prod, g.txnID, group)
	if err == nil {
		err = kafka.TxnOffsetCommit(ctx, g.prod, g.txnID, group, offsets...)
	}
	ectx, cancel := endContext(ctx, g.end, g.m.endTimeout())
	if err != nil {
		// AddOffsetsToTxn may have begun the transaction on the
		// coordinator although its answer was lost: abort it.
		_ = kafka.EndTxn(ectx, g.prod, g.txnID, false)
		err = fmt.Errorf("anchor progress: %w", err)
	} else if err = kafka.EndTxn(ectx, g.prod, g.txnID, true); err != nil {
		err = fmt.Errorf("anchor progress: commit: %w", err)
	}
	cancel()
	if kafka.IsFenced(err) {
		return nil, nil, err
	}
	// An anchor whose EndTxn committed has moved its lanes' positions
	// (resets among them) whatever fails next: they are returned with
	// the error, for the run to report them (see withStarted).
	landed := func() []*lane {
		if err != nil {
			return nil
		}
		return lanes
	}
	if perr := g.initProducer(ctx); perr != nil {
		return nil, landed(), errors.Join(err, fmt.Errorf("after the anchor: %w", perr))
	}
	progress, rerr := readProgress(ctx, m.TargetAdmin, group, stable)
	if rerr != nil {
		return nil, landed(), errors.Join(err, rerr)
	}
	for _, l := range lanes {
		got, ok := progress[l.u.Unit]
		switch {
		case ok && got.same(l.pos):
			l.u.Progress = &got
			l.known = &got
			ready = append(ready, l) // the anchor landed
		case ok:
			// Another invocation committed after the anchor (and was
			// fenced by the fresh producer): passed over this run.
			l.log.Info("another invocation committed after the anchor; passing it over")
		case err != nil:
			l.stop(err)
			left = append(left, l)
		default:
			l.stop(fmt.Errorf("anchor progress of %s: committed but not found in group %s", l.u.Unit, group))
			left = append(left, l)
		}
	}
	return ready, left, nil
}

// newProducer is a transactional producer for txnID with the mirror's
// settings; it is not initialised yet.
func (m *Mirror) newProducer(txnID string) (*kgo.Client, error) {
	opts := append([]kgo.Opt{
		kgo.TransactionTimeout(m.Settings.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(m.Settings.BatchRecords + 1000),
		kgo.ProducerLinger(0),
		// Batches up to kgo's default 1,000,012 bytes, Kafka's default
		// max.message.bytes: a smaller cap refuses any record larger than
		// it on the client (a 256 KiB cap stopped partitions holding 300
		// KiB records, which the broker and MM2 accept). Memory stays
		// bounded by the fetch budget: only records fetched and not yet
		// acknowledged are encoded. The user's batch.size still wins.
		// Uncompressed unless the user's producer compression.type says
		// otherwise, as MM2's Java producer writes (its default is none),
		// rather than kgo's snappy, whose encoder was a third of the
		// mirror's CPU (docs/benchmarks.md). The target's topic-level
		// compression.type, which reconcile copies from the source, still
		// applies on the broker.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Transaction-coordinator contention (CONCURRENT_TRANSACTIONS while
		// the previous commit's markers are written) clears in
		// milliseconds; kgo's default backoff starts at 250ms.
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(5*time.Millisecond<<min(tries, 7), 250*time.Millisecond)
		}),
		// kgo retries a produce that met CONCURRENT_TRANSACTIONS after a
		// metadata refresh, which the default 5 s minimum metadata age
		// turns into a 5 s stall.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, m.TargetOpts...)
	opts = append(opts, kgo.TransactionalID(txnID))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("target producer: %w", err)
	}
	return cl, nil
}

// groupTxnID is work group g's transactional id.
func (m *Mirror) groupTxnID(g int) string { return names.GroupTransactionalID(m.Flow.Name(), g) }
