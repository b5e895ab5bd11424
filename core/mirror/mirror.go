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
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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
	// Groups is the number of work groups the schedule's tick decided
	// for this run (its fan-out): the run changes the flow's assignment
	// to it first. 0 copies under the current assignment (a fan-out
	// worker), or one group when there is none. MIRROR_GROUPS, when set,
	// wins.
	Groups int
	// Worker: the run is a fan-out worker of a tick, which changes the
	// assignment to Groups; the worker waits for that instead of
	// changing it (two changers would fence each other's groups).
	Worker bool

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
	Fenced       int    `json:"fenced"` // work groups whose run another invocation fenced
	// Resets counts partitions moved by MIRROR_RESET_POLICY, Skipped the
	// source offsets they skipped (each unit's detail names them).
	Resets  int   `json:"resets,omitempty"`
	Skipped int64 `json:"offsets_skipped,omitempty"`
	// Stopped counts partitions this run refused to copy rather than
	// guess (source data lost, source recreated, remote written by
	// something else): each stays stopped until an operator acts.
	Stopped int `json:"stopped,omitempty"`
	// Groups is how many work groups the flow's partitions were split
	// into this run.
	Groups  int          `json:"groups,omitempty"`
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

// wantGroups is the number of work groups this run should copy under: a
// pinned MIRROR_GROUPS, else what the tick decided (Groups), else 0 (the
// current assignment).
func (m *Mirror) wantGroups() int {
	if m.Settings.Groups > 0 {
		return m.Settings.Groups
	}
	return m.Groups
}

// run plans the flow, settles its assignment of partitions to work
// groups, and copies the groups with work one after another, each until
// caught up, until the stop time; in tail mode, last, its own group until
// the stop time.
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
	refresh := m.Settings.ProgressRefresh
	cands := p.candidates(startFrom, refresh)
	res.UnitsWithLag = len(cands)
	res.LagLeft = p.lagLeft(startFrom)
	res.Lags = partitionLags(p, nil, startFrom)
	m.meter.AddTotal(res.LagLeft)
	tail := m.Settings.Tail && len(p.Units) > 0
	if len(cands) == 0 && !tail {
		return res, nil
	}
	if p.OffsetSyncsMissing {
		return res, fmt.Errorf("offset-syncs topic %s does not exist on %s: run reconcile first", m.Flow.OffsetSyncsTopic(), m.Flow.Target)
	}
	if m.Shares != nil {
		// The budgets are split among the flows with work only.
		report(true)
		m.active = m.Shares.wait(ctx)
	}
	var a Assignment
	if m.Worker {
		a, err = m.awaitAssignment(ctx, m.wantGroups(), stopAt)
	} else {
		a, err = m.settle(ctx, m.wantGroups(), p.OffsetSyncsID, p.legacyTxnIDs(m.Flow.Name()))
	}
	if errors.Is(err, errReassigned) {
		log.Info("work groups being reassigned by another invocation; copying nothing this run", "err", err)
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.Groups = a.Groups
	index, fanned := fanout.IndexFrom(ctx)
	works := groups(cands, a.Groups, index, fanned)
	tailGroup := -1
	if tail {
		// The invocation tails its own group (the one its fan-out index
		// names) after the others' backlog, holding every partition of it.
		tailGroup = index % a.Groups
		works = slices.DeleteFunc(works, func(w groupWork) bool { return w.id == tailGroup })
		works = append(works, groupWork{id: tailGroup, units: p.groupUnits(tailGroup, a.Groups, startFrom, refresh)})
	}

	leases := &lease.Store{Admin: m.TargetAdmin, Group: names.LeaseGroup(m.Flow.Name()), Owner: m.Owner,
		Margin: lease.MarginFor(m.Settings.LeaseTTL)}
	var (
		lanes    []*lane
		failures []error
	)
	for _, w := range works {
		if !time.Now().Before(stopAt) || ctx.Err() != nil {
			break
		}
		gl, txns, err := m.runGroup(ctx, parent, p, a, w, stopAt, w.id == tailGroup, leases, log)
		lanes = append(lanes, gl...)
		res.Transactions += txns
		if errors.Is(err, errReassigned) {
			log.Info("work groups reassigned by another invocation; this run stops copying", "err", err)
			break
		}
		if err != nil {
			failures = append(failures, err)
		}
	}

	// Lag left: what each worked lane did not reach, plus the planned lag
	// of the units nobody here worked on.
	lagLeft := p.lagLeft(startFrom)
	fencedGroups := map[int]bool{}
	for _, l := range lanes {
		if l.res.Status == "" {
			continue // passed over at start
		}
		res.UnitsClaimed++
		lagLeft += max(0, l.u.End-l.pos.Next) - l.u.lag(startFrom)
		r := l.res
		r.Topic, r.Partition = l.u.SourceTopic, l.u.Partition
		r.Group = groupOf(l.u.SourceTopic, l.u.Partition, a.Groups)
		res.Detail = append(res.Detail, r)
		res.Records += r.Records
		res.Bytes += r.Bytes
		res.Timing.merge(r.Timing)
		if r.Reset != "" {
			res.Resets++
			res.Skipped += r.Skipped
		}
		switch r.Status {
		case UnitFenced:
			// Counted once per work group: one fence stops all of a
			// group's partitions.
			if !fencedGroups[r.Group] {
				fencedGroups[r.Group] = true
				res.Fenced++
			}
		case UnitFailed:
			failures = append(failures, &UnitError{Topic: r.Topic, Partition: r.Partition, Err: l.err})
			if errors.Is(l.err, ErrPartitionStopped) {
				res.Stopped++
			}
		}
	}
	res.LagLeft = max(0, lagLeft)
	res.Lags = partitionLags(p, lanes, startFrom)
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

// runGroup claims and copies one work group: leases on its partitions
// with work (at most this flow's share of MIRROR_MAX_UNITS), its producer,
// and transactions until its lanes are caught up (or, tailing, until the
// stop time). It returns the lanes it worked, each with its result, the
// transactions it committed, and an error that is the group's, not one
// partition's.
func (m *Mirror) runGroup(ctx, parent context.Context, p *plan, a Assignment, w groupWork, stopAt time.Time, tail bool, leases *lease.Store, log *slog.Logger) (_ []*lane, txns int, _ error) {
	end := stopAt.Add(m.Settings.SafetyMargin)
	glog := log.With("group", w.id)
	claimed, release, err := m.claim(ctx, parent, leases, w.units, m.maxUnits(), end, glog)
	if err != nil {
		return nil, 0, fmt.Errorf("work group %d: %w", w.id, err)
	}
	if len(claimed) == 0 {
		return nil, 0, nil
	}
	defer release()
	g := &groupRun{m: m, id: w.id, assign: a, txnID: m.groupTxnID(w.id), log: glog, stopAt: stopAt, end: end, tail: tail}
	defer func() {
		if g.prod != nil {
			g.prod.Close()
		}
	}()
	ready, left, err := g.start(ctx, p, claimed)
	switch {
	case errors.Is(err, errReassigned):
		// Reported as such for the claimed partitions (the run stops).
		return withStarted(m.stoppedLanes(p, claimed, err, glog), left), 0, err
	case kafka.IsFenced(err):
		glog.Warn("fenced: another invocation took this work group while it started", "err", err)
		return withStarted(m.stoppedLanes(p, claimed, err, glog), left), 0, nil
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The run's end came while the group started: most often the
		// target still completing the group's previous transaction
		// (InitProducerID answered CONCURRENT_TRANSACTIONS until then),
		// or a target that answered slowly. Nothing was written; the
		// claimed partitions wait for the next invocation.
		glog.Warn("the run's time ended while this work group started; the next invocation goes on", "err", err)
		return withStarted(m.stoppedLanes(p, claimed, errDeadline, glog), left), 0, nil
	case err != nil:
		// The group fails; the partitions its start had decided are
		// reported too: those it stopped, and those whose anchor
		// committed (a reset among them: the next run reports nothing of
		// it), failed with the group.
		for _, l := range left {
			if !l.stopped {
				l.res.From, l.res.To = l.pos.Next, l.pos.Next
				l.stop(err)
			}
		}
		return left, 0, fmt.Errorf("work group %d: %w", w.id, err)
	}
	for _, l := range left {
		if l.res.Status == UnitFailed {
			l.log.Error("partition cannot start", "err", l.err)
		}
	}
	g.copy(parent, ready)
	for _, l := range ready {
		if l.res.Status == UnitReassigned {
			// The group's new producer (reinit, after a raw EndTxn) found
			// the assignment changed: the run stops, as when a start
			// finds it (the other group ids are the new assignment's).
			return append(ready, left...), g.txns, fmt.Errorf("work group %d: %w", w.id, errReassigned)
		}
	}
	return append(ready, left...), g.txns, nil
}

// stoppedLanes are the claimed partitions of a group run that stopped
// before it copied (fenced or reassigned while it started), each at its
// planned position with err as its status.
func (m *Mirror) stoppedLanes(p *plan, claimed []lease.Unit, err error, log *slog.Logger) []*lane {
	var out []*lane
	for _, lu := range claimed {
		u := p.find(lu)
		l := &lane{u: u, log: log}
		l.pos.Next = max(u.LogStart, u.End-u.lag(m.Flow.StartFrom))
		l.res.From, l.res.To = l.pos.Next, l.pos.Next
		l.stop(err)
		out = append(out, l)
	}
	return out
}

// withStarted is lanes, stopped because their group could not start,
// with what the group's start had decided for some of them: a partition
// it stopped (its position refused: data lost, foreign records, ...) is
// reported as such, not as the group's stop, and one whose anchor
// committed keeps its reset and the offsets it skipped: its position
// jumped, and the next run, finding it consistent, reports nothing.
func withStarted(lanes, started []*lane) []*lane {
	for i, l := range lanes {
		for _, s := range started {
			switch {
			case s.u != l.u:
			case s.stopped:
				lanes[i] = s
			case s.res.Reset != "":
				l.pos.Next = s.pos.Next
				l.res.From, l.res.To = s.pos.Next, s.pos.Next
				l.res.Reset, l.res.Skipped = s.res.Reset, s.res.Skipped
			}
		}
	}
	return lanes
}
