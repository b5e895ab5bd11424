package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// A group run is one work group's copy in one invocation: the group's
// producer, one source consumer over the claimed partitions (its lanes),
// and transaction after transaction, each carrying records of any lanes
// with their offset syncs and new positions. It ends when every lane is
// caught up with the end planned (or, in tail mode, when the time budget
// ends), or when the group cannot go on (fenced, reassigned, time up).

// UnitStatus is how a partition's work in one invocation ended.
type UnitStatus string

// The unit statuses, as written in the summary's detail.
const (
	UnitDone       UnitStatus = "done"       // caught up with the end planned
	UnitDeadline   UnitStatus = "deadline"   // time ran out; the next invocation goes on
	UnitResolved   UnitStatus = "resolved"   // a commit's unknown outcome was read back; the next invocation goes on
	UnitFenced     UnitStatus = "fenced"     // another invocation took the work group over
	UnitReassigned UnitStatus = "reassigned" // the work groups were reassigned under this run; the next invocation goes on
	UnitFailed     UnitStatus = "error"      // failed: Error says why
)

// UnitResult is what one invocation did to one partition.
type UnitResult struct {
	Topic        string     `json:"topic"`
	Partition    int32      `json:"partition"`
	Group        int        `json:"group"` // its work group under the run's assignment
	From         int64      `json:"from"`
	To           int64      `json:"to"`
	Records      int64      `json:"records"`
	Bytes        int64      `json:"bytes"`
	Transactions int        `json:"transactions"` // the work group's transactions that held the partition
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

// lane is one partition of a group run.
type lane struct {
	u   *unit
	pos Position // committed
	// known is the position the target holds for the lane as far as this
	// run knows (read at its start or committed by it since; nil: none).
	// pos can be ahead of it (moved in memory over control records).
	known *Position
	log   *slog.Logger
	// rest are records fetched and not yet in a transaction.
	rest []*kgo.Record
	// the newest offset sync written (or being written) for the
	// partition, -1 for none: each sync names its predecessor.
	lastSyncUp, lastSyncDown int64
	// closed: the fetch ended with fetchErr; no more records come.
	closed   bool
	fetchErr error
	// offsetLagMax is the flow's offset.lag.max (-1: not set).
	offsetLagMax int64
	// dirty: the position must be committed again although nothing is
	// new (a refresh, before the broker expires it).
	dirty bool
	// stopped: out of the run, with res.Status and err saying why.
	stopped bool
	err     error
	res     UnitResult
}

// offset is the lane's position p as committed in a transaction.
func (l *lane) offset(p Position) kafka.TxnOffset {
	return kafka.TxnOffset{Topic: l.u.Unit.Topic, TopicID: l.u.RemoteID, Partition: l.u.Partition, Offset: p.Next, Metadata: p.metadata()}
}

// stop takes the lane out of the run; err says why (nil: caught up).
func (l *lane) stop(err error) {
	if l.stopped {
		return
	}
	l.stopped = true
	l.rest = nil
	switch {
	case err == nil:
		l.res.Status = UnitDone
	case errors.Is(err, errDeadline):
		l.res.Status = UnitDeadline
	case errors.Is(err, errStopUnit):
		l.res.Status = UnitResolved
	case errors.Is(err, errReassigned):
		l.res.Status = UnitReassigned
	case kafka.IsFenced(err) || errors.Is(err, errTakenOver):
		l.res.Status = UnitFenced
		l.res.Error = err.Error()
	default:
		l.res.Status = UnitFailed
		l.err = err
		l.res.Error = err.Error()
		l.log.Error("partition failed", "err", err)
	}
}

// next is where the lane's copy stands: its position, or past the
// records the open transaction t took.
func (l *lane) next(t *txn) int64 {
	if t != nil {
		if lt := t.lanes[l]; lt != nil {
			return lt.next
		}
	}
	return l.pos.Next
}

// behind: the source held records past the lane's copy when planned (or
// since, as fetched records show).
func (l *lane) behind(t *txn) bool { return !l.stopped && !l.closed && l.next(t) < l.u.End }

// errDeadline: the run's time ended with work left; the next invocation
// goes on. Not a failure.
var errDeadline = errors.New("time budget ended")

// groupRun copies one work group's lanes.
type groupRun struct {
	m      *Mirror
	id     int
	assign Assignment
	txnID  string
	prod   *kgo.Client
	log    *slog.Logger
	// stopAt ends new work; end (stopAt plus the safety margin) bounds
	// everything, ending a transaction too; deadline bounds a
	// transaction's work (not its end).
	stopAt, end time.Time
	tail        bool

	lanes []*lane // those copying in this consumer's round
	in    chan chunk
	// inflight is the invocation's budget of fetched bytes; held is this
	// group's share of it (records received and not yet acknowledged by
	// the target).
	inflight *budget
	held     atomic.Int64
	// txns counts the transactions the group committed.
	txns int
	// fresh: the producer was initialised and has committed nothing
	// since; its first transaction adds the progress group explicitly
	// (see commit).
	fresh bool
	// stale: a raw EndTxn ended the producer's last transaction, bumping
	// its epoch behind kgo's back (kafka.EndTxn): the next transaction
	// initialises a new producer first.
	stale bool
	// open is what the open transaction has sent, for abort.
	open openTxn
}

// openTxn is what the group's open transaction has sent to the target.
type openTxn struct {
	// offsetsAdded: the raw AddOffsetsToTxn of the progress group was
	// sent (its answer may have been lost), which begins the transaction
	// on the coordinator.
	offsetsAdded bool
	// produced: a record was handed to kgo in it, so kgo's EndTransaction
	// ends it on the coordinator.
	produced bool
}

// chunk is what the poller hands over: a lane's fetched records, or the
// error that ended its fetch.
type chunk struct {
	l    *lane
	recs []*kgo.Record
	err  error
}

// copy runs the lanes until they are caught up or the group cannot go
// on. A transaction that fails because of one lane's partition (the
// target refused its records: the remote topic deleted, a record too
// large for it) stops that lane only: the group starts a new consumer
// for the others from their committed positions and goes on.
func (g *groupRun) copy(parent context.Context, lanes []*lane) {
	for _, l := range lanes {
		l.res.From = l.pos.Next
		l.dirty = l.pos.Next >= l.u.End && l.u.refreshDue(g.m.Settings.ProgressRefresh)
	}
	defer func() {
		for _, l := range lanes {
			l.res.To = l.pos.Next
			if !l.stopped {
				switch {
				case l.fetchErr != nil:
					l.stop(l.fetchErr)
				case l.pos.Next >= l.u.End && !l.dirty:
					l.stop(nil)
				default:
					l.stop(errDeadline)
				}
			}
		}
	}()
	rewinds := 0
	for {
		var active []*lane
		for _, l := range lanes {
			switch {
			case l.stopped || l.closed:
			case g.tail || l.pos.Next < l.u.End || l.dirty:
				active = append(active, l)
			}
		}
		if len(active) == 0 {
			return
		}
		err := g.round(parent, active)
		var le *laneError
		if errors.As(err, &le) {
			le.l.stop(le.err)
			continue
		}
		if errors.Is(err, ErrSourceRewound) && rewinds < maxRewinds {
			// The consumer went back under a transaction, which was
			// aborted: a new consumer resumes from the committed positions.
			rewinds++
			g.log.Warn("source fetch went back; transaction aborted, resuming from the committed positions", "err", err)
			continue
		}
		if err != nil {
			for _, l := range active {
				if !l.stopped && !(l.fetchErr == nil && l.pos.Next >= l.u.End && !l.dirty && !g.tail) {
					l.stop(err)
				}
			}
		}
		return
	}
}

// maxRewinds bounds the consumers a group run starts again after the
// source fetch went back under a transaction.
const maxRewinds = 3

// laneError is a transaction's failure caused by one lane's partition.
type laneError struct {
	l   *lane
	err error
}

func (e *laneError) Error() string { return e.err.Error() }
func (e *laneError) Unwrap() error { return e.err }

// round is one consumer's life: it fetches the lanes and commits
// transactions until they are caught up, time ends, or a transaction
// fails (returned).
func (g *groupRun) round(parent context.Context, lanes []*lane) error {
	g.lanes = lanes
	g.in = make(chan chunk, 16)
	g.inflight = newBudget(g.m.inflightLimit())
	stopFetch, err := g.fetch(parent, lanes)
	if err != nil {
		return err
	}
	defer func() {
		stopFetch()
		for _, l := range lanes {
			l.rest = nil
		}
		g.inflight.release(g.held.Swap(0))
	}()
	for {
		if !g.tail && !g.anyBehind(nil) && !g.anyDirty() {
			return nil
		}
		if !time.Now().Before(g.stopAt) {
			return nil
		}
		if open := g.collect(); !open && !g.anyRest() && !g.anyDirty() {
			return nil
		}
		if !g.anyRest() && !g.anyDirty() {
			continue
		}
		if err := g.commit(parent); err != nil {
			return err
		}
	}
}

func (g *groupRun) anyBehind(t *txn) bool {
	for _, l := range g.lanes {
		if l.behind(t) {
			return true
		}
	}
	return false
}

func (g *groupRun) anyDirty() bool {
	for _, l := range g.lanes {
		if l.dirty && !l.stopped {
			return true
		}
	}
	return false
}

func (g *groupRun) anyRest() bool {
	for _, l := range g.lanes {
		if len(l.rest) > 0 && !l.stopped {
			return true
		}
	}
	return false
}

// collect waits for fetched records (until the stop time) unless some
// are held already, then takes whatever else the poller has queued. open
// is false once the poller has ended.
func (g *groupRun) collect() (open bool) {
	if !g.anyRest() && !g.anyDirty() {
		t := time.NewTimer(time.Until(g.stopAt))
		defer t.Stop()
		select {
		case c, ok := <-g.in:
			if !ok {
				return false
			}
			g.absorb(c)
		case <-t.C:
			return true
		}
	}
	return g.drain()
}

// drain takes what the poller has queued, without waiting.
func (g *groupRun) drain() (open bool) {
	for {
		select {
		case c, ok := <-g.in:
			if !ok {
				return false
			}
			g.absorb(c)
		default:
			return true
		}
	}
}

// absorb takes a chunk from the poller: its records are the lane's until
// produced, and their budget the group's share.
func (g *groupRun) absorb(c chunk) {
	if c.err != nil {
		c.l.closed, c.l.fetchErr = true, c.err
		return
	}
	n := sliceBytes(c.recs)
	g.held.Add(n)
	if c.l.stopped {
		g.release(n)
		return
	}
	if len(c.l.rest) == 0 {
		c.l.rest = c.recs
	} else {
		c.l.rest = append(c.l.rest, c.recs...)
	}
	if last := c.recs[len(c.recs)-1].Offset + 1; g.tail && last > c.l.u.End {
		// Tailing, the lane's end moves with what it sees. Otherwise the
		// end stays where it was planned: records fetched past it are
		// copied with the rest, but a group written to all the time is
		// still caught up once it reaches the plan, and the run moves on
		// to the other groups.
		c.l.u.End = last
	}
}

// release gives n bytes of the group's share of the fetch budget back.
func (g *groupRun) release(n int64) {
	g.held.Add(-n)
	g.inflight.release(n)
}

// recordBytes is a record's key, value and header bytes.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
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
func (m *Mirror) endTimeout() time.Duration { return max(m.Settings.SafetyMargin/2, 2*time.Second) }

// minEnd is the least time given to ending a transaction.
const minEnd = time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// String names the group run in errors.
func (g *groupRun) String() string { return fmt.Sprintf("work group %d", g.id) }
