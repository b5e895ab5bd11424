package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
)

// One target transaction of a work group: the records of any of its
// lanes, their offset syncs and the lanes' new positions, committed or
// aborted together.

// txn is the data side of one open transaction.
type txn struct {
	g       *groupRun
	began   time.Time
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	errLane *lane // the lane whose partition caused err, if one did
	taken   int   // records taken from the fetched ones, control records too
	records int64 // data records sent
	bytes   int64 // key, value and header bytes of the data records
	lanes   map[*lane]*laneTxn
	order   []*laneTxn
}

// laneTxn is one lane's part of a transaction.
type laneTxn struct {
	l       *lane
	next    int64 // source offset after the last record taken
	epoch   int32 // the source leader epoch of the last record taken
	records int64
	bytes   int64
	stamps  []takenStamps

	// Written by the records' promises, which kgo calls in produce order
	// for one partition; read after wait. prevUp and prevDown are the
	// source and target offsets of the last record acknowledged; syncs
	// the offset syncs decided for them (copied), and lastSynced whether
	// the last one has its sync.
	prevUp, prevDown int64
	syncs            []txnSync
	lastSynced       bool
}

type takenStamps struct {
	taken  time.Time
	stamps stamps
}

// lane is l's part of t, made on first use.
func (t *txn) lane(l *lane) *laneTxn {
	lt := t.lanes[l]
	if lt == nil {
		lt = &laneTxn{l: l, next: l.pos.Next, epoch: -1, prevUp: l.pos.LastUpstream, prevDown: l.pos.LastDownstream, lastSynced: true}
		if l.pos.HasEpoch {
			lt.epoch = l.pos.Epoch
		}
		// The last record copied before this transaction has its sync
		// (the last of its transaction); a sync never follows one of an
		// aborted transaction.
		l.lastSyncUp, l.lastSyncDown = l.pos.LastUpstream, l.pos.LastDownstream
		t.lanes[l] = lt
		t.order = append(t.order, lt)
	}
	return lt
}

// commit copies what the lanes hold in one transaction. While some lane
// is known to have more on the source (its planned end is not reached)
// and the transaction's limits allow, it goes on with the records fetched
// meanwhile. On success the lanes' positions move past the transaction;
// on any error the transaction is aborted (or found committed, when the
// commit's outcome was unknown) and the error is returned.
//
// parent is the invocation's context: only its values are used, since the
// Lambda runtime cancels it at the deadline and a transaction must end
// cleanly regardless.
func (g *groupRun) commit(parent context.Context) error {
	m := g.m
	if !g.anyDirty() && g.onlyFirstControls() {
		return nil
	}
	// Transaction work may run a little past stopAt; it must end well
	// before the deadline.
	deadline := g.stopAt.Add(m.Settings.SafetyMargin / 2)
	ctx, cancel := context.WithDeadline(context.WithoutCancel(parent), deadline)
	defer cancel()

	if g.stale {
		// A raw EndTxn ended the last transaction (see abort): a new
		// producer, the assignment and the positions checked again.
		if err := g.reinit(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: %w", errDeadline, err)
			}
			return err
		}
	}
	t0 := time.Now()
	if err := g.prod.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	g.open = openTxn{}
	group := ProgressGroup(m.Flow)
	// The first transaction after an InitProducerID adds the group
	// explicitly even where the target would do it on the
	// TxnOffsetCommit: right after InitProducerID the coordinator can
	// still be busy with the epoch bump, and AddOffsetsToTxn waits that
	// out in milliseconds, where a produce meeting CONCURRENT_TRANSACTIONS
	// is retried by kgo after a metadata refresh (seen: 5 s stalls).
	if !m.offsetsImplicit || g.fresh {
		g.open.offsetsAdded = true
		if err := addProgressGroup(ctx, g.prod, g.txnID, group); err != nil {
			return g.abort(parent, err, deadline)
		}
	}
	t := &txn{g: g, began: t0, lanes: map[*lane]*laneTxn{}}
	// Every record's promise has run before commit returns, whatever the
	// path (the promises give the fetch budget back), unless the target
	// holds them past the run's end: the run ends regardless, and closing
	// the producer runs them.
	defer func() {
		ctx, cancel := endContext(parent, g.end, time.Until(g.end))
		defer cancel()
		_ = t.wait(ctx)
	}()
	for {
		g.sendHeld(ctx, t)
		if !g.more(t) {
			break
		}
	}
	for _, l := range g.lanes {
		if l.dirty && !l.stopped && t.lanes[l] == nil {
			t.lane(l) // a refresh: its last sync again, its position again
		}
	}
	if err := t.wait(ctx); err != nil {
		cause := fmt.Errorf("produce to %s: %w", g, err)
		if t.errLane != nil {
			cause = fmt.Errorf("produce to %s: %w", t.errLane.u.Unit, err)
		}
		err := g.abort(parent, cause, deadline)
		if t.errLane != nil && !kafka.IsFenced(err) && !errors.Is(err, context.DeadlineExceeded) {
			return &laneError{l: t.errLane, err: err}
		}
		return err
	}

	// The lanes' new positions, and the syncs that go with them.
	now := time.Now()
	var (
		syncs   []txnSync
		offsets []kafka.TxnOffset
		moved   = map[*lane]Position{}
		known   []*lane // those whose position the transaction commits
	)
	for _, lt := range t.order {
		l := lt.l
		p := l.pos
		p.Next = lt.next
		p.Epoch, p.HasEpoch = lt.epoch, lt.epoch >= 0
		p.Committed = now
		if lt.records > 0 {
			p.LastUpstream, p.LastDownstream = lt.prevUp, lt.prevDown
			syncs = append(syncs, lt.finishSyncs()...)
		} else if l.pos.LastUpstream >= 0 {
			// Control records only (or a refresh): re-emit the last sync,
			// which names itself, so the transaction has a record for the
			// lane's position to go with.
			syncs = append(syncs, lt.resync())
		} else {
			// Control records only and nothing ever copied: there is no
			// valid sync to write; the position moves in memory, and the
			// next transaction with data covers it.
			moved[l] = p
			continue
		}
		moved[l] = p
		known = append(known, l)
		offsets = append(offsets, l.offset(p))
	}
	tProduced := time.Now()
	// Each step that registers something with the transaction coordinator
	// (a partition's first produce, the offsets' verification) runs after
	// the previous one: concurrent registrations for one transactional id
	// are refused with CONCURRENT_TRANSACTIONS, which Kafka reports as
	// NOT_ENOUGH_REPLICAS on produce, and cost seconds of backoff.
	e2 := kgo.AbortingFirstErrPromise(g.prod)
	syncTopic := m.Flow.OffsetSyncsTopic()
	if len(syncs) > 0 {
		g.open.produced = true
	}
	for _, s := range syncs {
		g.prod.Produce(ctx, s.record(syncTopic), e2.Promise())
	}
	if err := waitErr(ctx, e2.Err); err != nil {
		return g.abort(parent, fmt.Errorf("produce offset syncs to %s: %w", syncTopic, err), deadline)
	}
	tSyncs := time.Now()
	if err := kafka.TxnOffsetCommit(ctx, g.prod, g.txnID, group, offsets...); err != nil {
		return g.abort(parent, fmt.Errorf("commit progress in transaction: %w", err), deadline)
	}
	tOffsets := time.Now()

	endCtx, endCancel := endContext(parent, g.end, m.endTimeout())
	defer endCancel()
	if len(syncs) == 0 {
		// Nothing was produced, and there is no offset either: nothing to
		// commit (abort ends the transaction if it added the group). A
		// lane due for a refresh that has copied nothing since a reset
		// cannot have one (no sync can go with its position): it is not
		// dirty any more, or the group would repeat this transaction
		// until its stop time.
		for l, p := range moved {
			l.pos = p
			l.dirty = false
		}
		return g.abort(parent, nil, deadline)
	}
	if err := kafka.Commit(endCtx, g.prod); err != nil {
		if kafka.IsFenced(err) {
			return g.abort(parent, fmt.Errorf("commit: %w", err), deadline)
		}
		// The outcome is unknown: the commit may have landed. Never retry
		// blindly; find out from the committed positions.
		return g.resolveUnknown(parent, err, t, moved)
	}
	g.log.Debug("committed", "lanes", len(t.order), "records", t.records, "took", time.Since(t0),
		"produce", tProduced.Sub(t0), "syncs", tSyncs.Sub(tProduced), "offsets", tOffsets.Sub(tSyncs), "end", time.Since(tOffsets))
	g.committed(t, moved, time.Now())
	for _, l := range known {
		p := l.pos
		l.known = &p
	}
	return nil
}

// committed moves the lanes past a committed transaction.
func (g *groupRun) committed(t *txn, moved map[*lane]Position, at time.Time) {
	g.txns++
	g.fresh = false
	var advanced int64
	for _, lt := range t.order {
		l := lt.l
		p, ok := moved[l]
		if !ok {
			continue
		}
		advanced += p.Next - l.pos.Next
		l.pos = p
		l.dirty = false
		l.res.Records += lt.records
		l.res.Bytes += lt.bytes
		l.res.Transactions++
		for _, s := range lt.stamps {
			l.res.Timing.note(s.taken, at, s.stamps)
		}
	}
	g.m.meter.AddRecords(t.records, t.bytes)
	g.m.meter.AddDone(advanced)
}

// onlyFirstControls handles lanes whose held records are control records
// only and that never copied anything: no valid offset sync exists for
// them, so their position moves in memory (the next transaction with
// data covers it). It reports whether nothing else is held, in which case
// no transaction is needed.
func (g *groupRun) onlyFirstControls() bool {
	only := true
	for _, l := range g.lanes {
		if len(l.rest) == 0 || l.stopped {
			continue
		}
		if l.pos.LastUpstream >= 0 || hasData(l.rest) {
			only = false
			continue
		}
		last := l.rest[len(l.rest)-1]
		l.pos.Next = last.Offset + 1
		l.pos.Epoch, l.pos.HasEpoch = last.LeaderEpoch, last.LeaderEpoch >= 0
		g.release(sliceBytes(l.rest))
		clear(l.rest)
		l.rest = nil
	}
	return only
}

// hasData: the batch holds a record that is not a control record.
func hasData(batch []*kgo.Record) bool {
	for _, r := range batch {
		if !r.Attrs.IsControl() {
			return true
		}
	}
	return false
}

// sendHeld produces what the lanes hold into t, up to the transaction's
// limits, a lane at a time: first the lanes behind their end, then those
// past it (outside tail mode, records fetched past the planned end), and
// beginning one lane further with each committed transaction. A lane
// holding more than a transaction takes (a partition written to faster
// than the group copies) would otherwise fill every transaction and hold
// the group's other lanes back until the run's end.
func (g *groupRun) sendHeld(ctx context.Context, t *txn) {
	s := g.m.Settings
	lanes := len(g.lanes)
	for _, behind := range []bool{true, false} {
		for i := range lanes {
			l := g.lanes[(g.txns+i)%lanes]
			if len(l.rest) == 0 || l.stopped || l.behind(t) != behind {
				continue
			}
			maxRecs, maxBytes := s.BatchRecords-t.taken, s.BatchBytes-int(t.bytes)
			if maxRecs <= 0 || maxBytes <= 0 {
				return
			}
			n, bytes := 0, 0
			for n < len(l.rest) && n < maxRecs && bytes < maxBytes {
				bytes += recordBytes(l.rest[n])
				n++
			}
			chunk := l.rest[:n:n]
			if n == len(l.rest) {
				l.rest = nil
			} else {
				l.rest = l.rest[n:]
			}
			t.send(ctx, l, chunk)
		}
	}
}

// more waits for more records for the open transaction t while some lane
// is known to have them on the source and the transaction's limits
// allow; false when it should commit.
func (g *groupRun) more(t *txn) bool {
	s := g.m.Settings
	// A transaction open for long holds back what read_committed
	// consumers of the remote partitions see, and must end well inside
	// the transaction timeout.
	until := t.began.Add(s.TransactionTimeout / 3)
	if g.stopAt.Before(until) {
		until = g.stopAt
	}
	if t.taken >= s.BatchRecords || t.bytes >= int64(s.BatchBytes) || !time.Now().Before(until) || t.failed() {
		return false
	}
	if g.anyRest() {
		return true
	}
	if !g.anyBehind(t) {
		return false
	}
	timer := time.NewTimer(min(time.Until(until), moreWait))
	defer timer.Stop()
	select {
	case c, ok := <-g.in:
		if !ok {
			return false
		}
		g.absorb(c)
		g.drain()
		return g.anyRest()
	case <-timer.C:
		return false
	}
}

// moreWait bounds how long an open transaction waits for records the
// source is known to hold; a fetch normally brings them in milliseconds.
const moreWait = 500 * time.Millisecond

// send produces a lane's chunk of fetched records into the open
// transaction without waiting for them.
func (t *txn) send(ctx context.Context, l *lane, chunk []*kgo.Record) {
	g := t.g
	lt := t.lane(l)
	held := sliceBytes(chunk)
	if first := chunk[0].Offset; first < lt.next {
		// The consumer went back (a fetch position reset under it): these
		// records, or some, are taken already. Nothing is copied twice:
		// the transaction is aborted and the next run resumes from the
		// committed position.
		g.release(held)
		clear(chunk)
		t.fail(fmt.Errorf("%w: the source returned offset %d of %s/%d after the transaction had taken up to %d", ErrSourceRewound, first, l.u.SourceTopic, l.u.Partition, lt.next-1), nil)
		return
	}
	t.taken += len(chunk)
	lt.next = chunk[len(chunk)-1].Offset + 1
	lt.epoch = chunk[len(chunk)-1].LeaderEpoch
	var data []*kgo.Record
	for _, r := range chunk {
		if !r.Attrs.IsControl() {
			data = append(data, r)
		}
	}
	t.records += int64(len(data))
	lt.records += int64(len(data))
	lt.stamps = append(lt.stamps, takenStamps{time.Now(), stampsOf(data)})
	if len(data) == 0 {
		g.release(held)
		clear(chunk)
		return
	}
	g.open.produced = true
	left := &atomic.Int64{}
	left.Store(int64(len(data)))
	remote := l.u.Unit.Topic
	for _, r := range data {
		n := int64(recordBytes(r))
		t.bytes += n
		lt.bytes += n
		up := r.Offset
		t.wg.Add(1)
		// The fetched record is produced as it is, its source-side fields
		// cleared (an allocation per record saved): the same partition
		// number, key, value, headers and timestamp.
		*r = kgo.Record{
			Topic:     remote,
			Partition: l.u.Partition,
			Key:       r.Key,
			Value:     r.Value,
			Headers:   r.Headers,
			Timestamp: r.Timestamp,
			Context:   ctx,
		}
		g.prod.Produce(ctx, r, func(out *kgo.Record, err error) {
			defer t.wg.Done()
			if err != nil {
				t.fail(err, l)
			} else {
				lt.copied(up, out.Offset)
			}
			if left.Add(-1) == 0 {
				g.release(held)
			}
		})
	}
	// The records are in the producer's hands: the chunk's references
	// would only keep their memory alive after the target has them.
	clear(data)
	clear(chunk)
}

// fail keeps the first produce error and, like kgo's aborting promise,
// fails the records still buffered so the transaction aborts quickly. l
// is the lane whose record failed, if one did: when the error is one of
// its partition's (partitionError), the group goes on without it.
func (t *txn) fail(err error, l *lane) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	t.err = err
	if l != nil && partitionError(err) {
		t.errLane = l
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		ctx, cancel := endContext(context.Background(), t.g.end, time.Until(t.g.end))
		defer cancel()
		_ = t.g.prod.AbortBufferedRecords(ctx)
	}()
}

func (t *txn) failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// partitionError: the target refused a record for a reason of its
// partition or topic, not of the transaction or the connection.
func partitionError(err error) bool {
	for _, e := range []error{kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.MessageTooLarge, kerr.RecordListTooLarge,
		kerr.InvalidRecord, kerr.CorruptMessage, kerr.TopicAuthorizationFailed, kerr.InvalidTopicException, kerr.PolicyViolation,
		kerr.InvalidRequiredAcks, kerr.InvalidTimestamp} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// wait returns once every record sent has its promise run, with the first
// produce error, or ctx's error if it ends first: a produce request the
// target holds is not failed by kgo while it is in flight (an idempotent
// producer must know its fate), so waiting for it is bounded here.
func (t *txn) wait(ctx context.Context) error {
	return waitErr(ctx, func() error {
		t.wg.Wait()
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.err
	})
}

// waitErr runs wait (which waits on record promises) and returns its
// error, or ctx's if ctx ends first; wait then finishes on its own.
func waitErr(ctx context.Context, wait func() error) error {
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("wait for the target: %w", ctx.Err())
	}
}

// abort ends the open transaction without committing and returns cause.
// A cause that is the end of the transaction's time (its context past
// deadline) becomes errDeadline: the next invocation copies the batch
// again, and that is no failure.
//
// kgo ends no transaction in which it produced nothing, but one that
// added the progress group (a raw AddOffsetsToTxn) is open on the
// coordinator all the same, and would stay Ongoing until the transaction
// timeout or the group's next InitProducerID: abort ends it with a raw
// EndTxn, after which the producer is stale (kafka.EndTxn) and the next
// transaction initialises a new one. A fenced producer ends nothing: the
// transactional id is another invocation's.
func (g *groupRun) abort(parent context.Context, cause error, deadline time.Time) error {
	ctx, cancel := endContext(parent, g.end, g.m.endTimeout())
	defer cancel()
	// Records the target holds in flight keep AbortBufferedRecords
	// waiting: half the time left goes to it, the rest to the EndTxn.
	left, _ := ctx.Deadline()
	bufCtx, bufCancel := context.WithTimeout(ctx, time.Until(left)/2)
	defer bufCancel()
	_ = g.prod.AbortBufferedRecords(bufCtx)
	if err := g.prod.EndTransaction(ctx, kgo.TryAbort); err != nil && !kafka.IsFenced(cause) {
		g.log.Warn("abort transaction", "err", err)
		if cause == nil {
			cause = fmt.Errorf("abort transaction: %w", err)
		}
	}
	// Before transaction version 2 (no implicit add: !offsetsImplicit)
	// kgo ends no transaction in which it registered no partition either,
	// although it was handed records: all of them failed on the client or
	// before their AddPartitionsToTxn (a deleted remote topic). The raw
	// EndTxn goes there after every abort of a transaction that added the
	// group; when kgo did end it, the coordinator takes it as a retry of
	// the same abort.
	if open := g.open; open.offsetsAdded && (!open.produced || !g.m.offsetsImplicit) && !kafka.IsFenced(cause) {
		g.stale = true
		err := kafka.EndTxn(ctx, g.prod, g.txnID, false)
		switch {
		case kafka.IsFenced(err) && cause == nil:
			cause = fmt.Errorf("abort transaction: %w", err)
		case kafka.IsFenced(err):
			cause = fmt.Errorf("%w; abort transaction: %w", cause, err)
		case err != nil:
			// The new producer's InitProducerID aborts it, if the group
			// has another transaction; the transaction timeout otherwise.
			// It holds no offset.
			g.log.Warn("abort transaction holding the progress group", "err", err, "produced", open.produced)
		case open.produced:
			g.log.Debug("aborted a transaction that added the progress group with a raw EndTxn as well")
		default:
			g.log.Debug("aborted a transaction holding only the progress group")
		}
	}
	g.open = openTxn{}
	if errors.Is(cause, context.DeadlineExceeded) && !time.Now().Before(deadline) {
		g.log.Info("time budget ended inside a transaction; aborted it")
		return fmt.Errorf("%w: %w", errDeadline, cause)
	}
	return cause
}

// resolveUnknown settles a commit whose outcome is unknown: a fresh
// producer with the same transactional id fences this one and lets the
// coordinator finish or abort the transaction, and a stable read of the
// lanes' positions then says which happened. The group stops either way
// (errStopUnit): the positions are known and committed.
func (g *groupRun) resolveUnknown(parent context.Context, cause error, t *txn, moved map[*lane]Position) error {
	m := g.m
	// Bounded by the run's end: what is not resolved by then, the next
	// invocation resolves the same way when it fences the group and reads
	// its positions.
	ctx, cancel := endContext(parent, g.end, 2*m.Settings.SafetyMargin+5*time.Second)
	defer cancel()
	g.log.Warn("commit outcome unknown; resolving from the committed positions", "err", cause)
	g.prod.Close()
	prod, err := m.initProducer(ctx, g.txnID)
	if err != nil {
		return fmt.Errorf("commit outcome unknown (%v); resolve: %w", cause, err)
	}
	g.prod = prod
	stable := map[lease.Unit]bool{}
	for l := range moved {
		stable[l.u.Unit] = true
	}
	progress, err := readProgress(ctx, m.TargetAdmin, ProgressGroup(m.Flow), stable)
	if err != nil {
		return fmt.Errorf("commit outcome unknown (%v); %w", cause, err)
	}
	// A position must be the one this commit wrote (its metadata holds
	// the commit time): another invocation that took the group may have
	// committed the same offset since.
	landed := len(moved) > 0
	for l, want := range moved {
		if l.pos.LastUpstream < 0 && want.LastUpstream < 0 {
			continue // moved in memory only, never committed
		}
		got, ok := progress[l.u.Unit]
		landed = landed && ok && got.same(want)
	}
	if landed {
		g.log.Info("commit had landed")
		g.committed(t, moved, time.Now())
	} else {
		g.log.Info("commit had not landed; the next invocation copies the batch again")
	}
	return errStopUnit
}

// errStopUnit ends a group's work for this invocation without it being a
// failure (the positions are known and committed).
var errStopUnit = errors.New("work group stopped after resolving an unknown commit")
