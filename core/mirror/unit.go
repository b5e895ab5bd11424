package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// UnitStatus is how a unit's work in one invocation ended.
type UnitStatus string

// The unit statuses, as written in the summary's detail.
const (
	UnitDone     UnitStatus = "done"     // caught up with the end planned
	UnitDeadline UnitStatus = "deadline" // time ran out; the next invocation goes on
	UnitResolved UnitStatus = "resolved" // a commit's unknown outcome was read back; the next invocation goes on
	UnitFenced   UnitStatus = "fenced"   // another invocation took the unit over
	UnitFailed   UnitStatus = "error"    // failed: Error says why
)

// UnitResult is what one invocation did to one unit.
type UnitResult struct {
	Topic        string     `json:"topic"`
	Partition    int32      `json:"partition"`
	From         int64      `json:"from"`
	To           int64      `json:"to"`
	Records      int64      `json:"records"`
	Bytes        int64      `json:"bytes"`
	Transactions int        `json:"transactions"`
	Status       UnitStatus `json:"status"`
	Error        string     `json:"error,omitempty"`
	// Reset says why and where the reset policy moved the position;
	// Skipped counts the source offsets it skipped (deleted before they
	// were copied, replaced after, or lost from a truncated source after
	// they were copied), exactly the offsets named in Reset.
	Reset   string `json:"reset,omitempty"`
	Skipped int64  `json:"skipped,omitempty"`
	Timing
}

// worker copies one unit: fetched records arrive on in; each batch is one
// target transaction holding the records, their offset syncs and the new
// progress.
type worker struct {
	m     *Mirror
	u     *unit
	txnID string
	prod  *kgo.Client
	log   *slog.Logger

	pos  Position
	in   chan []*kgo.Record
	quit chan struct{} // closed when the worker stops
	rest []*kgo.Record // fetched but not yet in a transaction
	// inflight is the invocation's budget of fetched bytes; held is this
	// worker's share of it (records received and not yet acknowledged by
	// the target; the records' promises give it back).
	inflight *budget
	held     atomic.Int64
	// fetchErr is set by the poller before it closes in.
	fetchErr error
	// err is why the unit failed (Status UnitFailed), for Run's caller.
	err error
	// deadline bounds the work of a transaction (not its end); end bounds
	// everything, ending a transaction too: the run's end (stopAt plus
	// the safety margin).
	deadline   time.Time
	end        time.Time
	lastCommit time.Time

	// the newest offset sync written (or being written) for the unit's
	// partition, -1 for none: each sync names its predecessor.
	lastSyncUp, lastSyncDown int64

	res UnitResult
}

func (w *worker) run(parent context.Context, stopAt time.Time) {
	defer close(w.quit)
	defer func() {
		// Give back what was fetched and not produced, and whatever the
		// poller still queues for this worker until it closes in.
		w.rest = nil
		w.inflight.release(w.held.Swap(0))
		go func() {
			for recs := range w.in {
				w.inflight.release(sliceBytes(recs))
			}
		}()
	}()
	w.res.From = w.pos.Next
	defer func() { w.res.To = w.pos.Next }()
	w.end = stopAt.Add(w.m.Settings.SafetyMargin)
	if w.pos.Next >= w.u.End && w.u.refreshDue(w.m.Settings.ProgressRefresh) {
		if err := w.refresh(parent, stopAt); err != nil {
			w.fail(err)
			return
		}
	}
	for {
		if w.pos.Next >= w.u.End {
			w.res.Status = UnitDone
			return
		}
		if !time.Now().Before(stopAt) {
			w.res.Status = UnitDeadline
			return
		}
		batch, open := w.collect(stopAt)
		if len(batch) == 0 {
			if !open {
				w.res.Status = UnitDeadline
				return
			}
			continue
		}
		if err := w.commit(parent, batch, stopAt); err != nil {
			w.fail(err)
			return
		}
	}
}

// collect waits for the first fetched records of a transaction, then
// takes whatever else is already there, up to the transaction's limits.
func (w *worker) collect(stopAt time.Time) (batch []*kgo.Record, open bool) {
	if len(w.rest) == 0 {
		t := time.NewTimer(time.Until(stopAt))
		defer t.Stop()
		select {
		case recs, ok := <-w.in:
			if !ok {
				return nil, false
			}
			w.hold(recs)
		case <-t.C:
			return nil, true
		}
	}
	return w.take(w.m.Settings.BatchRecords, w.m.Settings.BatchBytes), true
}

// take returns fetched records up to maxRecs and about maxBytes (at least
// one record), from what is held and what the poller has already queued.
func (w *worker) take(maxRecs, maxBytes int) (batch []*kgo.Record) {
	bytes := 0
	for {
		for len(w.rest) > 0 && len(batch) < maxRecs && bytes < maxBytes {
			r := w.rest[0]
			w.rest = w.rest[1:]
			batch = append(batch, r)
			bytes += recordBytes(r)
		}
		if len(batch) >= maxRecs || bytes >= maxBytes {
			return batch
		}
		select {
		case recs, ok := <-w.in:
			if !ok {
				return batch
			}
			w.hold(recs)
		default:
			return batch
		}
	}
}

// hold takes a fetched slice from the poller: its records are this
// worker's until produced, and their budget its share.
func (w *worker) hold(recs []*kgo.Record) {
	w.rest = recs
	w.held.Add(sliceBytes(recs))
}

// recordOverhead is what a fetched record costs besides its key, value
// and headers: the kgo.Record itself, its header slice and the share of
// the decompressed batch it keeps alive. Counting it in the fetch budget
// keeps small records (100 B) from filling memory with per-record structs.
const recordOverhead = 256

// sliceBytes is what records weigh against the invocation's fetch budget.
func sliceBytes(recs []*kgo.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(recordBytes(r)) + recordOverhead
	}
	return n
}

func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// commit copies records in one transaction, starting with batch. While
// the source is known to hold more (the unit's planned end is not reached)
// and the transaction's limits allow, it goes on with the records fetched
// meanwhile: a transaction is not bounded by what one fetch brings or by
// the fetch budget, whose bytes come back as soon as each record is
// acknowledged by the target. On success the worker's position moves past
// the transaction; on any error the transaction is aborted (or found
// committed, when the commit's outcome was unknown) and the error is
// returned.
// parent is the invocation's context: only its values are used, since the
// Lambda runtime cancels it at the deadline and a transaction must end
// cleanly regardless.
func (w *worker) commit(parent context.Context, batch []*kgo.Record, stopAt time.Time) error {
	if w.pos.LastUpstream < 0 && !hasData(batch) {
		// Only control records, and nothing was ever copied: there is no
		// valid offset sync to write, so nothing to commit. The position
		// moves in memory; the next batch with data covers it.
		last := batch[len(batch)-1]
		w.pos.Next = last.Offset + 1
		w.pos.Epoch, w.pos.HasEpoch = last.LeaderEpoch, last.LeaderEpoch >= 0
		w.produced(batch)
		return nil
	}

	// Transaction work may run a little past stopAt; it must end well
	// before the deadline, and the invocation's context must not cut the
	// commit short (the Lambda runtime cancels it at the deadline).
	margin := w.m.Settings.SafetyMargin
	w.deadline = stopAt.Add(margin / 2)
	ctx, cancel := context.WithDeadline(context.WithoutCancel(parent), w.deadline)
	defer cancel()

	t0 := time.Now()
	if err := w.prod.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	group := ProgressGroup(w.m.Flow)
	// A unit's first transaction after fencing adds the group explicitly
	// even where the target would do it on the TxnOffsetCommit: right
	// after InitProducerID the coordinator can still be busy with the
	// epoch bump, and AddOffsetsToTxn waits that out in milliseconds,
	// where a produce meeting CONCURRENT_TRANSACTIONS is retried by kgo
	// after a metadata refresh (seen: 5 s stalls over 64 fresh units).
	if !w.m.offsetsImplicit || w.res.Transactions == 0 {
		if err := addProgressGroup(ctx, w.prod, w.txnID, group); err != nil {
			return w.abort(parent, err)
		}
	}
	tAdded := time.Now()
	// The last record copied before this transaction has its sync (the
	// last of its transaction); a sync never follows one of an aborted
	// transaction.
	w.lastSyncUp, w.lastSyncDown = w.pos.LastUpstream, w.pos.LastDownstream
	t := &txn{w: w, next: w.pos.Next, began: t0, prevUp: w.pos.LastUpstream, prevDown: w.pos.LastDownstream, lastSynced: true}
	// Every record's promise has run before commit returns, whatever the
	// path (the promises give the fetch budget back), unless the target
	// holds them past the run's end: the run ends regardless, and closing
	// the producer runs them.
	defer func() {
		ctx, cancel := endContext(parent, w.end, time.Until(w.end))
		defer cancel()
		_ = t.wait(ctx)
	}()
	for {
		t.send(ctx, batch)
		batch = w.more(t, stopAt)
		if batch == nil {
			break
		}
	}
	if err := t.wait(ctx); err != nil {
		return w.abort(parent, fmt.Errorf("produce to %s: %w", w.u.Unit, err))
	}
	tProduced := time.Now()

	newPos := w.pos
	newPos.Next = t.next
	newPos.Epoch, newPos.HasEpoch = t.epoch, t.epoch >= 0
	newPos.Committed = time.Now()
	syncs := t.finishSyncs()
	records := int(t.records)
	if records > 0 {
		newPos.LastUpstream, newPos.LastDownstream = t.prevUp, t.prevDown
	}
	if records == 0 {
		// Control records only: re-emit the last sync so the transaction
		// has a record (kgo ends a transaction with no records as a no-op).
		syncs = []txnSync{{OffsetSync: offsetsync.OffsetSync{Topic: w.u.SourceTopic, Partition: w.u.Partition, Upstream: w.pos.LastUpstream, Downstream: w.pos.LastDownstream}, prev: -1}}
	}
	// Each step that registers something with the transaction coordinator
	// (a partition's first produce, the offsets' verification) runs after
	// the previous one: concurrent registrations for one transactional id
	// are refused with CONCURRENT_TRANSACTIONS, which Kafka reports as
	// NOT_ENOUGH_REPLICAS on produce, and cost seconds of backoff.
	e2 := kgo.AbortingFirstErrPromise(w.prod)
	syncTopic := w.m.Flow.OffsetSyncsTopic()
	for _, s := range syncs {
		w.prod.Produce(ctx, s.record(syncTopic), e2.Promise())
	}
	if err := waitErr(ctx, e2.Err); err != nil {
		return w.abort(parent, fmt.Errorf("produce offset syncs to %s: %w", syncTopic, err))
	}
	tSyncs := time.Now()
	if err := commitProgress(ctx, w.prod, w.txnID, group, w.u.Unit, w.u.RemoteID, newPos); err != nil {
		return w.abort(parent, err)
	}
	tOffsets := time.Now()

	endCtx, endCancel := endContext(parent, w.end, w.endTimeout())
	defer endCancel()
	if err := kafka.Commit(endCtx, w.prod); err != nil {
		if kafka.IsFenced(err) {
			return w.abort(parent, fmt.Errorf("commit: %w", err))
		}
		// The outcome is unknown: the commit may have landed. Never retry
		// blindly; find out from the committed position.
		return w.resolveUnknown(parent, err, newPos, records, t.bytes)
	}
	w.log.Debug("committed", "records", records, "offset", t.next, "took", time.Since(t0), "add", tAdded.Sub(t0), "produce", tProduced.Sub(tAdded), "syncs", tSyncs.Sub(tProduced), "offsets", tOffsets.Sub(tSyncs), "end", time.Since(tOffsets))
	w.lastCommit = time.Now()
	w.m.addProgress(int64(records), t.bytes, newPos.Next-w.pos.Next)
	w.pos = newPos
	w.res.Records += int64(records)
	w.res.Bytes += t.bytes
	w.res.Transactions++
	for _, s := range t.stamps {
		w.res.Timing.note(s.taken, w.lastCommit, s.stamps)
	}
	return nil
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

// more returns the next records for the open transaction t, or nil when it
// should commit: its limits are reached, time is up, or the source held
// nothing more when the invocation planned. It waits for records being
// fetched only while the source is known to have them.
func (w *worker) more(t *txn, stopAt time.Time) []*kgo.Record {
	maxRecs := w.m.Settings.BatchRecords - t.taken
	maxBytes := w.m.Settings.BatchBytes - int(t.bytes)
	// A transaction open for long holds back what read_committed
	// consumers of the remote partition see, and must end well inside
	// the transaction timeout.
	until := t.began.Add(w.m.Settings.TransactionTimeout / 3)
	if stopAt.Before(until) {
		until = stopAt
	}
	if maxRecs <= 0 || maxBytes <= 0 || t.next >= w.u.End || !time.Now().Before(until) {
		return nil
	}
	if len(w.rest) == 0 {
		timer := time.NewTimer(min(time.Until(until), moreWait))
		defer timer.Stop()
		select {
		case recs, ok := <-w.in:
			if !ok {
				return nil
			}
			w.hold(recs)
		case <-timer.C:
			return nil
		}
	}
	if batch := w.take(maxRecs, maxBytes); len(batch) > 0 {
		return batch
	}
	return nil
}

// moreWait bounds how long an open transaction waits for records the
// source is known to hold; a fetch normally brings them in milliseconds.
const moreWait = 500 * time.Millisecond

// txn is the data side of one open transaction: its records are produced
// as they come, and each record's promise records where it landed and,
// with the last record of its chunk, gives the chunk's fetch budget back.
type txn struct {
	w       *worker
	began   time.Time
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	taken   int   // records taken from the fetched ones, control records too
	records int64 // data records sent
	bytes   int64 // key, value and header bytes of the data records
	next    int64 // source offset after the last record taken
	epoch   int32 // the source leader epoch of the last record taken
	stamps  []takenStamps

	// Written by the records' promises, which kgo calls one at a time and,
	// for records that succeed, in produce order; read after wait. prevUp
	// and prevDown are the source and target offsets of the last record
	// acknowledged; syncs the offset syncs decided for them (copied), and
	// lastSynced whether the last one has its sync.
	prevUp, prevDown int64
	syncs            []txnSync
	lastSynced       bool
}

type takenStamps struct {
	taken  time.Time
	stamps stamps
}

// send produces a chunk of fetched records into the open transaction
// without waiting for them.
func (t *txn) send(ctx context.Context, chunk []*kgo.Record) {
	w := t.w
	if first := chunk[0].Offset; first < t.next {
		// The consumer went back (a fetch position reset under it): these
		// records, or some, are taken already. Nothing is copied twice:
		// the transaction is aborted and the next run resumes from the
		// committed position.
		w.release(sliceBytes(chunk))
		clear(chunk)
		t.fail(fmt.Errorf("%w: the source returned offset %d of %s/%d after the transaction had taken up to %d", ErrSourceRewound, first, w.u.SourceTopic, w.u.Partition, t.next-1))
		return
	}
	t.taken += len(chunk)
	t.next = chunk[len(chunk)-1].Offset + 1
	t.epoch = chunk[len(chunk)-1].LeaderEpoch
	held := sliceBytes(chunk)
	var data []*kgo.Record
	for _, r := range chunk {
		if !r.Attrs.IsControl() {
			data = append(data, r)
		}
	}
	t.records += int64(len(data))
	t.stamps = append(t.stamps, takenStamps{time.Now(), stampsOf(data)})
	if len(data) == 0 {
		w.release(held)
		clear(chunk)
		return
	}
	left := &atomic.Int64{}
	left.Store(int64(len(data)))
	remote := w.u.Unit.Topic
	for _, r := range data {
		t.bytes += int64(recordBytes(r))
		up := r.Offset
		t.wg.Add(1)
		w.prod.Produce(ctx, &kgo.Record{
			Topic:     remote,
			Partition: w.u.Partition,
			Key:       r.Key,
			Value:     r.Value,
			Headers:   r.Headers,
			Timestamp: r.Timestamp,
		}, func(out *kgo.Record, err error) {
			defer t.wg.Done()
			if err != nil {
				t.fail(err)
			} else {
				t.copied(up, out.Offset)
			}
			if left.Add(-1) == 0 {
				w.release(held)
			}
		})
	}
	// The records are in the producer's hands: the chunk's references
	// would only keep their memory alive after the target has them.
	clear(data)
	clear(chunk)
}

// fail keeps the first produce error and, like kgo's aborting promise,
// fails the records still buffered so the transaction aborts quickly.
func (t *txn) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	t.err = err
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		ctx, cancel := endContext(context.Background(), t.w.end, time.Until(t.w.end))
		defer cancel()
		_ = t.w.prod.AbortBufferedRecords(ctx)
	}()
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

// endContext is for ending a transaction and other cleanup, which takes
// at most d: not cancelled with parent (the Lambda runtime cancels it at
// the deadline, and a transaction must end cleanly regardless), but
// bounded by end, the run's end, whatever the brokers do; a cleanup that
// starts at or after end still gets minEnd.
func endContext(parent context.Context, end time.Time, d time.Duration) (context.Context, context.CancelFunc) {
	now := time.Now()
	deadline := later(end, now.Add(minEnd))
	if now.Add(d).Before(deadline) {
		deadline = now.Add(d)
	}
	return context.WithDeadline(context.WithoutCancel(parent), deadline)
}

// endTimeout is how long an EndTxn (or an abort) may take.
func (w *worker) endTimeout() time.Duration { return max(w.m.Settings.SafetyMargin/2, 2*time.Second) }

// minEnd is the least time given to ending a transaction.
const minEnd = time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// produced gives the budget of records taken but not produced back and
// drops the references to them.
func (w *worker) produced(batch []*kgo.Record) {
	w.release(sliceBytes(batch))
	clear(batch)
}

// release gives n bytes of this worker's share of the fetch budget back.
func (w *worker) release(n int64) {
	w.held.Add(-n)
	w.inflight.release(n)
}

// refresh re-commits an idle unit's position in a transaction that
// re-emits its last offset sync (a transaction needs a record), so the
// broker's offset retention never expires it.
func (w *worker) refresh(parent context.Context, stopAt time.Time) error {
	margin := w.m.Settings.SafetyMargin
	w.deadline = stopAt.Add(margin / 2)
	ctx, cancel := context.WithDeadline(context.WithoutCancel(parent), w.deadline)
	defer cancel()
	if err := w.prod.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	group := ProgressGroup(w.m.Flow)
	// A refresh is the unit's only transaction in the invocation, so the
	// first after fencing: always add the group explicitly (see commit).
	if err := addProgressGroup(ctx, w.prod, w.txnID, group); err != nil {
		return w.abort(parent, err)
	}
	s := offsetsync.OffsetSync{Topic: w.u.SourceTopic, Partition: w.u.Partition, Upstream: w.pos.LastUpstream, Downstream: w.pos.LastDownstream}
	e := kgo.AbortingFirstErrPromise(w.prod)
	w.prod.Produce(ctx, &kgo.Record{Topic: w.m.Flow.OffsetSyncsTopic(), Partition: 0, Key: s.Key(), Value: s.Value()}, e.Promise())
	if err := waitErr(ctx, e.Err); err != nil {
		return w.abort(parent, fmt.Errorf("produce offset sync: %w", err))
	}
	pos := w.pos
	pos.Committed = time.Now()
	if err := commitProgress(ctx, w.prod, w.txnID, group, w.u.Unit, w.u.RemoteID, pos); err != nil {
		return w.abort(parent, err)
	}
	endCtx, endCancel := endContext(parent, w.end, w.endTimeout())
	defer endCancel()
	if err := kafka.Commit(endCtx, w.prod); err != nil {
		if kafka.IsFenced(err) {
			return w.abort(parent, fmt.Errorf("commit: %w", err))
		}
		return w.resolveUnknown(parent, err, pos, 0, 0)
	}
	w.pos = pos
	w.res.Transactions++
	w.log.Info("refreshed the position of an idle partition", "offset", pos.Next)
	return nil
}

// copied decides the offset syncs of one acknowledged record. The mirror
// writes a sync on both sides of every discontinuity of the copy, on
// either cluster: a source gap (transaction markers, aborted records,
// compaction, a reset) and the target's own commit markers, which make
// the first record of each transaction one. finishSyncs adds the last
// record of the transaction. Between two neighbouring syncs the records
// were therefore copied one to one (offsetsync.Linear) or there is no
// copied record at all (offsetsync.Adjacent); each sync after the first
// names its predecessor in a header, and the checkpoint translates
// exactly (offsetsync.Index). With offset.lag.max set, a sync is also
// written once the copy is that many records past the previous sync, for
// MM2's checkpoint connector (its rule needs them; ours does not).
func (t *txn) copied(up, down int64) {
	w := t.w
	emit := false
	if t.prevUp < 0 || up-t.prevUp != 1 || down-t.prevDown != 1 {
		if t.prevUp >= 0 && !t.lastSynced {
			t.sync(t.prevUp, t.prevDown, offsetsync.Linear)
		}
		t.sync(up, down, offsetsync.Adjacent)
		emit = true
	} else if lag := w.m.Flow.OffsetLagMax; lag >= 0 && down-(w.lastSyncDown+1) >= lag {
		t.sync(up, down, offsetsync.Linear)
		emit = true
	}
	t.lastSynced = emit
	t.prevUp, t.prevDown = up, down
}

// sync adds a sync for the record at (up, down), following the worker's
// previous sync with kind between them.
func (t *txn) sync(up, down int64, kind offsetsync.Kind) {
	w := t.w
	s := txnSync{OffsetSync: offsetsync.OffsetSync{Topic: w.u.SourceTopic, Partition: w.u.Partition, Upstream: up, Downstream: down}, prev: -1}
	if w.lastSyncUp >= 0 {
		s.prev, s.kind = w.lastSyncUp, kind
	}
	t.syncs = append(t.syncs, s)
	w.lastSyncUp = up
	w.lastSyncDown = down
}

// txnSync is an offset sync and what it says about the range from the
// previous one (prev -1: nothing).
type txnSync struct {
	offsetsync.OffsetSync
	prev int64
	kind offsetsync.Kind
}

// record is the sync's record in the offset-syncs topic.
func (s txnSync) record(topic string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: 0, Key: s.Key(), Value: s.Value()}
	if s.prev >= 0 {
		r.Headers = []kgo.RecordHeader{{Key: offsetsync.PrevHeader, Value: offsetsync.EncodePrev(s.prev, s.kind)}}
	}
	return r
}

// finishSyncs returns the transaction's offset syncs, the last record's
// included; call it after wait.
func (t *txn) finishSyncs() []txnSync {
	if t.records > 0 && !t.lastSynced {
		t.sync(t.prevUp, t.prevDown, offsetsync.Linear)
	}
	return t.syncs
}

// abort ends the open transaction without committing and returns cause.
func (w *worker) abort(parent context.Context, cause error) error {
	ctx, cancel := endContext(parent, w.end, w.endTimeout())
	defer cancel()
	// Records the target holds in flight keep AbortBufferedRecords
	// waiting: half the time left goes to it, the rest to the EndTxn.
	left, _ := ctx.Deadline()
	bufCtx, bufCancel := context.WithTimeout(ctx, time.Until(left)/2)
	defer bufCancel()
	_ = w.prod.AbortBufferedRecords(bufCtx)
	if err := w.prod.EndTransaction(ctx, kgo.TryAbort); err != nil && !kafka.IsFenced(cause) {
		w.log.Warn("abort transaction", "err", err)
	}
	return cause
}

// resolveUnknown settles a commit whose outcome is unknown: a fresh
// producer with the same transactional id fences this one and lets the
// coordinator finish or abort the transaction, and a stable read of the
// progress group then says which happened.
func (w *worker) resolveUnknown(parent context.Context, cause error, want Position, records int, bytes int64) error {
	// Bounded by the run's end: what is not resolved by then, the next
	// invocation resolves the same way when it fences the unit and reads
	// its position.
	ctx, cancel := endContext(parent, w.end, 2*w.m.Settings.SafetyMargin+5*time.Second)
	defer cancel()
	w.log.Warn("commit outcome unknown; resolving from the committed position", "err", cause)
	w.prod.Close()
	prod, err := w.m.newProducer(w.txnID)
	if err != nil {
		return fmt.Errorf("commit outcome unknown (%v); resolve: %w", cause, err)
	}
	w.prod = prod
	if _, _, err := prod.ProducerID(ctx); err != nil {
		return fmt.Errorf("commit outcome unknown (%v); fence: %w", cause, err)
	}
	progress, err := readProgress(ctx, w.m.TargetAdmin, ProgressGroup(w.m.Flow), map[lease.Unit]bool{w.u.Unit: true})
	if err != nil {
		return fmt.Errorf("commit outcome unknown (%v); %w", cause, err)
	}
	got, ok := progress[w.u.Unit]
	// The position must be the one this commit wrote (its metadata holds
	// the commit time): another invocation that took the unit may have
	// committed the same offset since.
	if ok && got.Next == want.Next && got.metadata() == want.metadata() {
		w.log.Info("commit had landed", "offset", got.Next)
		w.m.addProgress(int64(records), bytes, got.Next-w.pos.Next)
		w.pos = got
		w.res.Records += int64(records)
		w.res.Bytes += bytes
		w.res.Transactions++
		return errStopUnit
	}
	w.log.Info("commit had not landed; the next invocation copies the batch again", "offset", w.pos.Next)
	return errStopUnit
}

// errStopUnit ends a unit's work for this invocation without it being a
// failure (the position is known and committed).
var errStopUnit = errors.New("unit stopped after resolving an unknown commit")

func (w *worker) fail(err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && !time.Now().Before(w.deadline):
		// Time ran out inside a transaction: it was aborted, and the next
		// invocation copies the batch again. Not a failure.
		w.res.Status = UnitDeadline
		w.log.Info("time budget ended inside a transaction; aborted it", "offset", w.pos.Next)
	case errors.Is(err, errStopUnit):
		w.res.Status = UnitResolved
	case kafka.IsFenced(err):
		w.res.Status = UnitFenced
		w.res.Error = err.Error()
		w.log.Warn("fenced: another invocation took this unit", "err", err)
	default:
		w.res.Status = UnitFailed
		w.err = err
		w.res.Error = err.Error()
		w.log.Error("unit failed", "err", err)
	}
}
