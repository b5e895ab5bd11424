// Package mirror copies records from a flow's source to its target exactly
// once: the hot path of mirrorless.
//
// One invocation plans (which partitions have work), claims leases, fences
// each claimed unit with its transactional id, reads the committed
// positions, then copies batch after batch, each batch one target
// transaction holding the records, their MM2 offset syncs and the new
// position. It stops when caught up or when the time budget ends.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/meter"
	"github.com/mirrorless/mirrorless/core/names"
)

// Mirror runs invocations for one flow. Its clients may be reused across
// invocations (warm Lambda containers).
type Mirror struct {
	Flow        *config.Flow
	Settings    config.Settings
	SourceAdmin *kadm.Client
	TargetAdmin *kadm.Client
	// SourceOpts and TargetOpts are the base client options of each side
	// (seeds, logger, the user's client settings); roles append theirs.
	SourceOpts, TargetOpts []kgo.Opt
	Logger                 *slog.Logger
	// Owner names this invocation in leases and logs.
	Owner string
	// Share is how many flows' runs the invocation holds at once (0 or 1:
	// this one alone). They run side by side, so that a flow with a
	// backlog cannot take the whole time budget from the others (issue 18
	// item 5), and split MIRROR_MAX_UNITS and the fetch budget evenly, so
	// that together they hold what one flow alone would.
	Share int
	// Shares, when set, splits those budgets only among the flows that
	// have work this run: each run reports whether its plan has
	// candidates, and waits for the others' reports before claiming (nil:
	// the even split by Share).
	Shares *Shares
	// active is this run's split (0 until known: Share).
	active int

	// meter counts the run's progress for a person watching (nil: none);
	// set by Run from its context.
	meter *meter.Meter
	// offsetsImplicit: the target adds the progress group to a
	// transaction on the TxnOffsetCommit (set by start, read by workers).
	offsetsImplicit bool
}

// Result is one invocation's summary for a flow.
type Result struct {
	Flow         string `json:"flow"`
	Units        int    `json:"units"`
	UnitsWithLag int    `json:"units_with_lag"`
	UnitsClaimed int    `json:"units_claimed"`
	Records      int64  `json:"records"`
	Bytes        int64  `json:"bytes"`
	Transactions int    `json:"transactions"`
	LagLeft      int64  `json:"lag_left"`
	Fenced       int    `json:"fenced"`
	// Resets counts partitions moved by MIRROR_RESET_POLICY, Skipped the
	// source offsets they skipped (each unit's detail names them).
	Resets  int   `json:"resets,omitempty"`
	Skipped int64 `json:"offsets_skipped,omitempty"`
	// Stopped counts partitions this run refused to copy rather than
	// guess (source data lost, source recreated, remote written by
	// something else): each stays stopped until an operator acts.
	Stopped int          `json:"stopped,omitempty"`
	Waiting []string     `json:"waiting_for_reconcile,omitempty"`
	Errors  []string     `json:"errors,omitempty"`
	Detail  []UnitResult `json:"detail,omitempty"`
	Timing
	// LagSeconds is how long the oldest record not copied yet has been
	// waiting (its timestamp to the end of the run): 0 when caught up,
	// absent when it could not be read (lagAge).
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// Lags are per-partition lags for metrics (not in the summary).
	Lags []PartitionLag `json:"-"`
	// planned: the flow was listed, so the lag is known.
	planned bool
}

// ErrUnitsFailed is returned (wrapped) when some unit failed loudly, e.g.
// source data gone before it was copied. Other units still ran.
var ErrUnitsFailed = errors.New("some partitions failed")

// ErrPartitionStopped marks a unit refused rather than guessed about: its
// committed position no longer fits the source, or its remote partition
// holds records mirrorless did not write. It stays stopped until an
// operator resets it (MIRROR_RESET_POLICY, mirror adopt, docs/operations.md).
var ErrPartitionStopped = errors.New("partition stopped")

// Why a partition stopped; errors.Is finds them beside ErrPartitionStopped.
var (
	ErrSourceDataLost  = errors.New("source data lost")             // the committed position was deleted from the source
	ErrSourceRecreated = errors.New("source topic recreated")       // the source topic's id changed
	ErrSourceTruncated = errors.New("source behind the progress")   // the position is past the source's end
	ErrSourceDiverged  = errors.New("source log diverged")          // the source replaced records copied (unclean leader election)
	ErrForeignRecords  = errors.New("remote holds foreign records") // records in the remote partition but no progress
	// ErrSourceRewound: the consumer returned an offset below one the open
	// transaction had taken; the transaction is aborted, not stopped for
	// good (the next run resumes from the committed position).
	ErrSourceRewound = errors.New("source fetch went back")
)

// stopReason is a stopped partition's problem: its text for people, and
// the sentinel callers test for.
type stopReason struct {
	kind error
	msg  string
}

func (r stopReason) Error() string { return r.msg }
func (r stopReason) Unwrap() error { return r.kind }

// UnitError is one unit's failure in an invocation: errors.As finds the
// partition, errors.Is the cause (ErrPartitionStopped and why, a fenced
// producer, a broker's error).
type UnitError struct {
	Topic     string // the source topic
	Partition int32
	Err       error
}

func (e *UnitError) Error() string { return fmt.Sprintf("%s/%d: %v", e.Topic, e.Partition, e.Err) }
func (e *UnitError) Unwrap() error { return e.Err }

// unitsFailed is what Run returns when some units failed: its text names
// the first failure (a one-line reason for the program's exit), and it
// unwraps to ErrUnitsFailed and to every failure.
type unitsFailed []error

func (e unitsFailed) Error() string   { return ErrUnitsFailed.Error() + ": " + e[0].Error() }
func (e unitsFailed) Unwrap() []error { return append([]error{ErrUnitsFailed}, e...) }

// addProgress counts a committed transaction for the meter: its records
// and bytes, and the source offsets it advanced (control records too).
func (m *Mirror) addProgress(records, bytes, advanced int64) {
	m.meter.AddRecords(records, bytes)
	m.meter.AddDone(advanced)
}

func (m *Mirror) newProducer(txnID string) (*kgo.Client, error) {
	opts := append([]kgo.Opt{
		kgo.TransactionTimeout(m.Settings.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(m.Settings.BatchRecords + 1000),
		kgo.ProducerLinger(0),
		// A unit produces to one partition with up to five requests in
		// flight, each holding an encoded copy of its batch: 256 KiB
		// batches instead of 1 MB keep that under ~1.3 MiB per unit. The
		// user's batch.size still wins.
		kgo.ProducerBatchMaxBytes(256 << 10),
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
		// turns into a 5 s stall of the unit.
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, m.TargetOpts...)
	opts = append(opts, kgo.TransactionalID(txnID))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("target producer: %w", err)
	}
	return cl, nil
}

// inflightLimit is the invocation's budget of fetched record bytes held at
// once by its units (fetched and not yet acknowledged by the target): two
// transactions' worth up to 16 MiB, so that one unit alone keeps producing
// while the next records are fetched. It bounds memory, not transactions:
// a transaction goes on with records fetched after its first ones were
// acknowledged, so many units sharing the budget still commit full
// transactions.
func (m *Mirror) inflightLimit() int64 {
	// Halving the cap instead of doubling the setting cannot overflow,
	// whatever BatchBytes holds (config bounds it too).
	return 2 * min(int64(m.Settings.BatchBytes), maxInflight/2) / int64(m.share())
}

// share is the split of this run's budgets once known (Shares), else
// Share, at least 1.
func (m *Mirror) share() int {
	if m.active > 0 {
		return m.active
	}
	return max(1, m.Share)
}

// Shares is what the flows of one invocation tell each other of their
// plans, so that a flow with nothing to do takes no part of the budgets.
type Shares struct {
	mu       sync.Mutex
	flows    int
	reported int
	busy     int
	all      chan struct{}
}

// NewShares is for an invocation of flows flows, each reporting once.
func NewShares(flows int) *Shares {
	return &Shares{flows: flows, all: make(chan struct{})}
}

// report says whether this flow has work; every flow's run reports once.
func (s *Shares) report(busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if busy {
		s.busy++
	}
	s.reported++
	if s.reported == s.flows {
		close(s.all)
	}
}

// wait is how many flows have work once all have reported, at least 1;
// if ctx ends first, every flow is counted (the even split).
func (s *Shares) wait(ctx context.Context) int {
	select {
	case <-s.all:
		s.mu.Lock()
		defer s.mu.Unlock()
		return max(1, s.busy)
	case <-ctx.Done():
		return max(1, s.flows)
	}
}

// maxUnits is this flow's part of MIRROR_MAX_UNITS, at least 1.
func (m *Mirror) maxUnits() int { return max(1, m.Settings.MaxUnits/m.share()) }

// UnitsPerRun is how many units a run of this flow claims at most: its
// share of MIRROR_MAX_UNITS. A tick sizes its fan-out with it.
func (m *Mirror) UnitsPerRun() int { return m.maxUnits() }

// maxInflight: larger budgets were slower on a CPU-bound machine and cost
// memory (docs/benchmarks.md).
const maxInflight = 16 << 20

// Run performs one invocation for the flow and stops starting new work at
// stopAt. Units that fail do not stop the others; they are reported in the
// result and the returned error wraps ErrUnitsFailed.
func (m *Mirror) Run(ctx context.Context, stopAt time.Time) (*Result, error) {
	res, err := m.run(ctx, stopAt)
	if res.planned {
		m.lagAge(ctx, res, stopAt)
	}
	return res, err
}

func (m *Mirror) run(ctx context.Context, stopAt time.Time) (*Result, error) {
	log := m.Logger.With("flow", m.Flow.Name())
	res := &Result{Flow: m.Flow.Name()}
	m.meter = meter.From(ctx)
	// The run ends by stopAt plus the safety margin whatever the brokers
	// do: every request before the copy is bounded by it, and ending
	// transactions by endContext.
	end := stopAt.Add(m.Settings.SafetyMargin)
	parent := ctx
	ctx, cancelRun := context.WithDeadline(ctx, end)
	defer cancelRun()
	m.active = 0
	reported := false
	report := func(busy bool) {
		if m.Shares != nil && !reported {
			reported = true
			m.Shares.report(busy)
		}
	}
	defer report(false)

	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		return res, err
	}
	res.planned = true
	res.Units = len(p.Units)
	res.Waiting = p.Waiting
	if len(p.Waiting) > 0 {
		log.Warn("remote topics missing; run reconcile", "topics", p.Waiting)
	}
	startFrom := m.Flow.StartFrom
	cands := p.candidates(startFrom, m.Settings.ProgressRefresh)
	if i, fanned := fanout.IndexFrom(ctx); fanned {
		cands = spread(cands, i, m.maxUnits())
	}
	res.UnitsWithLag = len(cands)
	res.LagLeft = p.lagLeft(startFrom)
	res.Lags = partitionLags(p, nil, startFrom)
	m.meter.AddTotal(res.LagLeft)
	if len(cands) == 0 {
		return res, nil
	}
	if p.OffsetSyncsMissing {
		return res, fmt.Errorf("offset-syncs topic %s does not exist on %s: run reconcile first", m.Flow.OffsetSyncsTopic(), m.Flow.Target)
	}
	if m.Shares != nil {
		// The budgets are split among the flows with work only (the
		// spread above used Share, as the tick that sized the fan-out).
		report(true)
		m.active = m.Shares.wait(ctx)
	}

	// Claim short leases on up to MaxUnits of the candidates, most
	// overdue first, passing over those other invocations hold, and renew
	// them while working, so that a crashed or killed invocation frees its
	// partitions within one TTL.
	leases := &lease.Store{Admin: m.TargetAdmin, Group: names.LeaseGroup(m.Flow.Name()), Owner: m.Owner,
		Margin: lease.MarginFor(m.Settings.LeaseTTL)}
	want := make([]lease.Unit, len(cands))
	for i, u := range cands {
		want[i] = u.Unit
	}
	ttl := m.Settings.LeaseTTL
	claimed, err := leases.Take(ctx, want, m.maxUnits(), ttl)
	if err != nil {
		return res, err
	}
	res.UnitsClaimed = len(claimed)
	if len(claimed) == 0 {
		return res, nil
	}
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		m.renewLeases(renewCtx, leases, claimed, ttl, log)
	}()
	defer func() {
		stopRenew()
		<-renewed
		rctx, cancel := endContext(parent, end, 5*time.Second)
		defer cancel()
		if err := leases.Release(rctx, claimed); err != nil {
			log.Warn("release leases", "err", err)
		}
	}()

	// failures keeps each error for the caller's errors.Is; the summary
	// gets their text.
	workers, failures, stopped, fenced := m.start(ctx, p, claimed, stopAt, log)
	res.Stopped = stopped
	res.Fenced = fenced
	defer func() {
		for _, w := range workers {
			w.prod.Close()
		}
	}()
	if len(workers) > 0 {
		if err := m.copy(ctx, workers, stopAt, log); err != nil {
			failures = append(failures, err)
		}
	}

	// Lag left: what each worked unit did not reach, plus the planned lag
	// of the units nobody here worked on.
	lagLeft := p.lagLeft(startFrom)
	for _, w := range workers {
		lagLeft += max(0, w.u.End-w.pos.Next) - w.u.lag(startFrom)
		r := w.res
		r.Topic, r.Partition = w.u.SourceTopic, w.u.Partition
		res.Detail = append(res.Detail, r)
		res.Records += r.Records
		res.Bytes += r.Bytes
		res.Transactions += r.Transactions
		res.Timing.merge(r.Timing)
		if r.Reset != "" {
			res.Resets++
			res.Skipped += r.Skipped
		}
		switch r.Status {
		case UnitFenced:
			res.Fenced++
		case UnitFailed:
			failures = append(failures, &UnitError{Topic: r.Topic, Partition: r.Partition, Err: w.err})
		}
	}
	res.LagLeft = lagLeft
	res.Lags = partitionLags(p, workers, startFrom)
	sort.Slice(res.Detail, func(i, j int) bool {
		a, b := res.Detail[i], res.Detail[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	for _, err := range failures {
		res.Errors = append(res.Errors, err.Error())
	}
	if len(failures) > 0 {
		return res, unitsFailed(failures)
	}
	return res, nil
}

// renewLeases extends this invocation's leases every third of their TTL
// until ctx ends. A unit found taken by another owner is only logged:
// fencing, not the lease, decides who may commit.
func (m *Mirror) renewLeases(ctx context.Context, leases *lease.Store, units []lease.Unit, ttl time.Duration, log *slog.Logger) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		got, err := leases.Claim(ctx, units, ttl)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("renew leases", "err", err)
			}
			continue
		}
		if len(got) < len(units) {
			log.Warn("leases taken by another invocation", "held", len(got), "claimed", len(units))
		}
	}
}

// start fences every claimed unit (a fresh producer's InitProducerID bumps
// the epoch and aborts any open transaction of an earlier holder), then
// reads their committed positions, which are now stable.
func (m *Mirror) start(ctx context.Context, p *plan, claimed []lease.Unit, stopAt time.Time, log *slog.Logger) (_ []*worker, _ []error, stopped, fenced int) {
	var (
		mu      sync.Mutex
		workers []*worker
		errs    []error
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, 16)
	for _, lu := range claimed {
		u := p.find(lu)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			txnID := names.UnitTransactionalID(m.Flow.Name(), u.SourceTopic, u.Partition)
			prod, err := m.newProducer(txnID)
			if err == nil {
				_, _, err = prod.ProducerID(ctx)
				if err != nil {
					prod.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, &UnitError{Topic: u.SourceTopic, Partition: u.Partition, Err: fmt.Errorf("fence earlier writers: %w", err)})
				return
			}
			workers = append(workers, &worker{
				m: m, u: u, txnID: txnID, prod: prod, end: stopAt.Add(m.Settings.SafetyMargin),
				log:  log.With("topic", u.SourceTopic, "partition", u.Partition),
				in:   make(chan []*kgo.Record, 4),
				quit: make(chan struct{}),
			})
		}()
	}
	wg.Wait()
	if len(workers) == 0 {
		return nil, errs, 0, 0
	}

	m.offsetsImplicit = offsetsAddedImplicitly(ctx, m.TargetAdmin)
	log.Debug("target transactions", "offsets_added_implicitly", m.offsetsImplicit)
	ours := map[lease.Unit]bool{}
	for _, w := range workers {
		ours[w.u.Unit] = true
	}
	giveUp := func(err error) ([]*worker, []error, int, int) {
		for _, w := range workers {
			w.prod.Close()
		}
		return nil, append(errs, err), 0, 0
	}
	progress, err := readProgress(ctx, m.TargetAdmin, ProgressGroup(m.Flow), ours)
	if err != nil {
		return giveUp(err)
	}
	var fresh []*unit
	for _, w := range workers {
		if _, ok := progress[w.u.Unit]; !ok {
			fresh = append(fresh, w.u)
		}
	}
	bounds, err := remoteBounds(ctx, m.TargetAdmin, fresh)
	if err != nil {
		return giveUp(err)
	}
	if err := m.checkEpochs(ctx, workers, progress); err != nil {
		return giveUp(err)
	}
	var ready []*worker
	for _, w := range workers {
		if err := m.position(ctx, w, progress, bounds[w.u.Unit]); err != nil {
			w.prod.Close()
			if errors.Is(err, errUnitTaken) {
				w.log.Info("another invocation took this unit while it started; passing it over")
				continue
			}
			if errors.Is(err, errNoTimeToAnchor) {
				w.log.Debug("no time left to anchor; left for the next run")
				continue
			}
			if kafka.IsFenced(err) {
				w.log.Warn("fenced: another invocation took this unit while it started", "err", err)
				fenced++
				continue
			}
			w.log.Error("unit cannot start", "err", err)
			errs = append(errs, &UnitError{Topic: w.u.SourceTopic, Partition: w.u.Partition, Err: err})
			if errors.Is(err, ErrPartitionStopped) {
				stopped++
			}
			continue
		}
		ready = append(ready, w)
	}
	return ready, errs, stopped, fenced
}

// checkEpochs asks the source where the leader epoch of each starting
// unit's position ends (OffsetForLeaderEpoch, one request per source
// broker), as a consumer validates its position since KIP-320. An epoch
// the source does not know, or one that ends before the position, means
// the source's log diverged from what was copied: an unclean leader
// election made a replica leader that lacked records already copied, and
// new records took their offsets. The unit is marked for position, which
// stops it. A partition the source cannot answer for fails this run.
func (m *Mirror) checkEpochs(ctx context.Context, workers []*worker, progress map[lease.Unit]Position) error {
	var req kadm.OffsetForLeaderEpochRequest
	byTP := map[string]map[int32]*unit{}
	for _, w := range workers {
		pos, ok := progress[w.u.Unit]
		if !ok || !pos.HasEpoch || pos.SourceID != "" && pos.SourceID != w.u.SourceID {
			continue // a recreated topic is stopped as such
		}
		req.Add(w.u.SourceTopic, w.u.Partition, pos.Epoch)
		if byTP[w.u.SourceTopic] == nil {
			byTP[w.u.SourceTopic] = map[int32]*unit{}
		}
		byTP[w.u.SourceTopic][w.u.Partition] = w.u
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

// errUnitTaken: while this invocation started a unit, another one fenced
// it and committed the unit's first transaction.
var errUnitTaken = errors.New("unit taken by another invocation")

// errNoTimeToAnchor: the run's stop time came before a unit's anchor
// began; the unit is left, unanchored, for the next run.
var errNoTimeToAnchor = errors.New("no time left to anchor")

// position decides where a fenced unit resumes, refusing to guess: a
// committed position the source no longer has is data loss, and a remote
// partition that holds records without any progress was written by
// something else.
func (m *Mirror) position(ctx context.Context, w *worker, progress map[lease.Unit]Position, remote [2]int64) error {
	u := w.u
	if pos, ok := progress[u.Unit]; ok {
		u.Progress = &pos
		w.pos = pos
		w.pos.SourceID = u.SourceID
		if pos.Next > u.End {
			// Another invocation that planned later may have fenced this
			// one and copied past the end this one saw: ask the source
			// again before calling the position impossible (with the reset
			// policy, a wrong call here would copy records twice).
			end, err := sourceEnd(ctx, m.SourceAdmin, u.SourceTopic, u.Partition)
			if err != nil {
				return err
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
			return u.epochErr
		case u.diverged != "":
			kind = ErrSourceDiverged
			problem = u.diverged
		default:
			return nil
		}
		if m.Settings.ResetPolicy != config.ResetEarliest {
			return fmt.Errorf("%w: %w; the partition stays stopped (set MIRROR_RESET_POLICY=earliest to resume from the source's earliest offset)", ErrPartitionStopped, stopReason{kind, problem})
		}
		if kind == ErrSourceDiverged {
			// The reset policy after a divergence: the target keeps what
			// was copied, and the copy goes on from the position with the
			// source's new history; the source offsets between where the
			// copied epoch ends and the position are skipped (their new
			// records are not copied), when the source says where.
			w.pos.HasEpoch = false
			w.res.Reset = fmt.Sprintf("%s; resumed at offset %d by MIRROR_RESET_POLICY=earliest", problem, pos.Next)
			if u.divergedAt >= 0 {
				w.res.Skipped = pos.Next - max(u.divergedAt, u.LogStart)
			}
			w.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", pos.Next, "skipped", w.res.Skipped)
			return nil
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
			w.pos = Position{Next: u.End, LastUpstream: -1, LastDownstream: -1, SourceID: u.SourceID, Committed: time.Now()}
			w.res.Skipped = pos.Next - u.End
			w.res.Reset = fmt.Sprintf("%s; offsets %d..%d were lost from the source after they were copied; resumed at the source end %d by MIRROR_RESET_POLICY=earliest", problem, u.End, pos.Next-1, u.End)
			w.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", u.End, "skipped", w.res.Skipped)
			if err := m.anchor(ctx, w); err != nil {
				return err
			}
			u.Progress = &w.pos
			return nil
		}
		// The reset policy: resume at the source's log start. The next
		// copied record gets an offset sync (an upstream gap or rewind), so
		// translation stays right on both sides of the jump.
		w.pos.Next = u.LogStart
		w.res.Reset = fmt.Sprintf("%s; reset to offset %d by MIRROR_RESET_POLICY=earliest", problem, u.LogStart)
		if pos.Next < u.LogStart && (pos.SourceID == "" || pos.SourceID == u.SourceID) {
			w.res.Skipped = u.LogStart - pos.Next
		}
		w.log.Warn("partition reset", "reason", problem, "from", pos.Next, "to", u.LogStart, "skipped", w.res.Skipped)
		return nil
	}
	has, err := hasCommittedRecords(ctx, m.TargetOpts, u.Unit.Topic, u.Partition, remote[0], remote[1])
	if err != nil {
		return err
	}
	if has {
		// Another invocation may have fenced this one and committed its
		// first transaction (records and progress together) after the
		// progress was read: then the progress is there now, and the
		// unit is that invocation's, not a stopped partition.
		again, err := readProgress(ctx, m.TargetAdmin, ProgressGroup(m.Flow), map[lease.Unit]bool{u.Unit: true})
		if err != nil {
			return err
		}
		if _, ok := again[u.Unit]; ok {
			return errUnitTaken
		}
		return fmt.Errorf("%w: %w", ErrPartitionStopped, stopReason{ErrForeignRecords, fmt.Sprintf("remote partition %s/%d already holds records but has no mirrorless progress (group %s): it was written by another tool or the progress was deleted; refusing to copy duplicates",
			u.Unit.Topic, u.Partition, ProgressGroup(m.Flow))})
	}
	w.pos = Position{Next: u.LogStart, LastUpstream: -1, LastDownstream: -1, SourceID: u.SourceID}
	if m.Flow.StartFrom == "latest" {
		w.pos.Next = u.End
		w.pos.Committed = time.Now()
		if err := m.anchor(ctx, w); err != nil {
			return err
		}
		u.Progress = &w.pos
	}
	return nil
}

// anchor commits w.pos, the first position of a unit with no progress
// under auto.offset.reset=latest, in a transaction of the unit's producer,
// so that an invocation fenced before its anchor lands cannot rewind the
// progress others committed since (issue 18 item 1). The anchor's EndTxn
// leaves the producer unusable (kafka.EndTxn), so a fresh one with the
// same transactional id takes over; its InitProducerID also settles an
// anchor whose outcome is unknown, and the progress read after it says
// where the unit stands.
//
// Anchors run one after another, each a few round trips and a client, so
// none begins after the run's stop time (w.end less the safety margin);
// one that began ends its transaction, and settles it, with a context the
// run's deadline does not cancel, bounded by the run's end (endContext).
func (m *Mirror) anchor(ctx context.Context, w *worker) error {
	if !time.Now().Before(w.end.Add(-m.Settings.SafetyMargin)) {
		return errNoTimeToAnchor
	}
	group := ProgressGroup(m.Flow)
	err := anchorProgress(ctx, w.prod, w.txnID, group, w.u.Unit, w.u.RemoteID, w.pos, w.end, w.endTimeout())
	if kafka.IsFenced(err) {
		return err
	}
	w.prod.Close()
	prod, perr := m.newProducer(w.txnID)
	if perr == nil {
		ectx, cancel := endContext(ctx, w.end, w.endTimeout())
		if _, _, perr = prod.ProducerID(ectx); perr != nil {
			prod.Close()
		}
		cancel()
	}
	if perr != nil {
		// The caller closes w.prod: a closed client is closed again harmlessly.
		return errors.Join(err, fmt.Errorf("fence after the anchor: %w", perr))
	}
	w.prod = prod
	progress, rerr := readProgress(ctx, m.TargetAdmin, group, map[lease.Unit]bool{w.u.Unit: true})
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	got, ok := progress[w.u.Unit]
	switch {
	case ok && got.Next == w.pos.Next && got.metadata() == w.pos.metadata():
		return nil // the anchor landed
	case ok:
		// Another invocation committed after the anchor (and was fenced
		// by the fresh producer): the unit is passed over this run.
		return errUnitTaken
	case err != nil:
		return err
	default:
		return fmt.Errorf("anchor progress of %s: committed but not found in group %s", w.u.Unit, group)
	}
}

// copy runs the workers and feeds them from one source consumer.
func (m *Mirror) copy(ctx context.Context, workers []*worker, stopAt time.Time, log *slog.Logger) error {
	parts := map[string]map[int32]kgo.Offset{}
	byTP := map[string]map[int32]*worker{}
	var active []*worker
	for _, w := range workers {
		if w.pos.Next >= w.u.End && !w.u.refreshDue(m.Settings.ProgressRefresh) {
			w.res.Status = UnitDone
			w.res.From, w.res.To = w.pos.Next, w.pos.Next
			continue
		}
		t := w.u.SourceTopic
		if parts[t] == nil {
			parts[t] = map[int32]kgo.Offset{}
			byTP[t] = map[int32]*worker{}
		}
		o := kgo.NewOffset().At(w.pos.Next)
		if w.pos.HasEpoch {
			// kgo validates the position with the source too, and reports
			// a divergence found later in the run (a leader change) as
			// ErrDataLoss.
			o = o.WithEpoch(w.pos.Epoch)
		}
		parts[t][w.u.Partition] = o
		byTP[t][w.u.Partition] = w
		active = append(active, w)
	}
	if len(active) == 0 {
		return nil
	}
	// A fetch arrives decompressed (text compresses three to ten times),
	// so fetch sizes, not the number of partitions, bound the consumer's
	// memory: a fetch is at most 4 MiB of compressed batches instead of
	// kgo's 50 MiB, and the next one is sent only once the poller has
	// taken all of the previous one (see pollRecords). Half of kgo's 1 MiB
	// per partition bounds memory most with the same throughput; a quarter
	// cost throughput (measured in docs/benchmarks.md). The user's
	// fetch.max.bytes and max.partition.fetch.bytes still win.
	opts := append([]kgo.Opt{
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxBytes(4 << 20),
		kgo.FetchMaxPartitionBytes(512 << 10),
		kgo.MaxConcurrentFetches(0),
		// lz4 batches decoded block by block into one buffer (see
		// kafka.FetchDecompressor), bounded as kgo bounds its own.
		kgo.WithDecompressor(kafka.FetchDecompressor(1 << 30)),
	}, m.SourceOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("source consumer: %w", err)
	}
	defer cons.Close()

	pollCtx, cancelPoll := context.WithDeadline(ctx, stopAt)
	defer cancelPoll()
	inflight := newBudget(m.inflightLimit())
	for _, w := range active {
		w.inflight = inflight
	}
	var wg sync.WaitGroup
	var remaining atomic.Int64
	remaining.Store(int64(len(active)))
	for _, w := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, stopAt)
			if remaining.Add(-1) == 0 {
				cancelPoll()
			}
		}()
	}

	for pollCtx.Err() == nil {
		fs := cons.PollRecords(pollCtx, pollRecords)
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			w := byTP[t][p]
			if w == nil {
				log.Warn("fetch", "topic", t, "partition", p, "err", err)
				return
			}
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) {
				err = fmt.Errorf("%w: %w: source log diverged while copying %s/%d: %v; the partition stops", ErrPartitionStopped, ErrSourceDiverged, t, p, err)
			}
			if errors.Is(err, kerr.OffsetOutOfRange) {
				err = fmt.Errorf("source data lost: offset %d of %s/%d is no longer on the source (retention, DeleteRecords or the topic was recreated); the partition stays stopped (MIRROR_RESET_POLICY=earliest resumes it from the source's earliest offset)", w.pos.Next, t, p)
			}
			w.log.Error("fetch failed", "err", err)
			cons.PauseFetchPartitions(map[string][]int32{t: {p}})
			w.fetchErr = err // read by the worker after in is closed
			close(w.in)
			byTP[t][p] = nil
		})
		fs.EachPartition(func(ft kgo.FetchTopicPartition) {
			if len(ft.Records) == 0 {
				return
			}
			w := byTP[ft.Topic][ft.Partition]
			if w == nil {
				return
			}
			select {
			case <-w.quit:
				cons.PauseFetchPartitions(map[string][]int32{ft.Topic: {ft.Partition}})
				return
			default:
			}
			n := sliceBytes(ft.Records)
			if !inflight.acquire(pollCtx, w.quit, n) {
				return
			}
			select {
			case w.in <- ft.Records:
			case <-w.quit:
				inflight.release(n)
				cons.PauseFetchPartitions(map[string][]int32{ft.Topic: {ft.Partition}})
			case <-pollCtx.Done():
				inflight.release(n)
			}
		})
	}
	for _, tp := range byTP {
		for _, w := range tp {
			if w != nil {
				close(w.in)
			}
		}
	}
	wg.Wait()
	for _, w := range active {
		if w.fetchErr != nil && w.res.Status != UnitFailed && w.res.Status != UnitFenced {
			w.res.Status = UnitFailed
			w.err = w.fetchErr
			w.res.Error = w.fetchErr.Error()
		}
	}
	return nil
}

// pollRecords bounds the records taken from the consumer at once. kgo
// sends the next fetch only when the buffered one is drained, so taking a
// fetch in parts keeps at most one fetch (decompressed, with its record
// structs) in the consumer while the poller waits for budget, instead of
// one in the poller's hands and the next already buffered.
const pollRecords = 8192
