// Package fanout decides how many mirror invocations one schedule tick
// starts: enough to clear the backlog within one schedule interval, never
// more than the operator's cap, and one alone when there is little to do.
//
// The rule is a pure function (Invocations) so that it can be read, tested
// and explained in one place; measuring the backlog (core/mirror) and
// starting the invocations (functions/mirror in Lambda, the local
// scheduler outside it) live elsewhere.
package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Backlog is what a flow (or every selected flow) has left to copy, as the
// plan sees it at the start of a tick. It counts records, not bytes: the
// plan knows offsets only (ListOffsets), and estimating bytes would need a
// fetch per partition, which an idle tick over thousands of partitions
// cannot afford.
type Backlog struct {
	// Records is the sum over partitions of end minus position (control
	// records and aborted records count: they are offsets to pass).
	Records int64 `json:"records"`
	// Partitions counts partitions with work (lag, or a position to anchor
	// or refresh).
	Partitions int `json:"partitions"`
}

// Add sums two backlogs.
func (b Backlog) Add(o Backlog) Backlog {
	return Backlog{Records: b.Records + o.Records, Partitions: b.Partitions + o.Partitions}
}

// Capacity is what one invocation can do within one schedule interval.
type Capacity struct {
	// RecordsPerSecond is the copy rate expected of one invocation
	// (MIRROR_FANOUT_RECORDS_PER_SECOND): an estimate the operator tunes
	// from the RecordsReplicated metric, not a measurement.
	RecordsPerSecond float64
	// Partitions is how many partitions one invocation claims at most
	// (MIRROR_MAX_UNITS).
	Partitions int
	// Window is how long one invocation copies within an interval: the
	// shorter of the schedule interval and the time budget less its
	// safety margin.
	Window time.Duration
}

// Window is the copying time one invocation has within one schedule
// interval: the interval, cut to what an invocation may run (its budget
// less the safety margin). An unknown interval (0: a cron schedule) counts
// as the budget.
func Window(interval, budget, margin time.Duration) time.Duration {
	w := budget - margin
	if interval > 0 && interval < w {
		w = interval
	}
	return max(w, time.Second)
}

// Invocations is how many concurrent invocations a tick needs, counting
// the one that measured:
//
//	byRecords    = ceil(backlog records / (records per second × window seconds))
//	byPartitions = ceil(partitions with work / partitions per invocation)
//	N            = clamp(max(byRecords, byPartitions), 1, limit)
//
// Each term is the count below which the backlog cannot be cleared within
// one interval: fewer invocations leave records for the next tick (too few
// copying) or partitions unclaimed (too few claiming). Nothing to do, or
// less than one invocation's share, gives 1: the measuring invocation runs
// alone. limit is MirrorMaxConcurrency; below 1 it counts as 1.
func Invocations(b Backlog, c Capacity, limit int) int {
	limit = max(limit, 1)
	n := 1
	if b.Records > 0 && c.RecordsPerSecond > 0 && c.Window > 0 {
		per := c.RecordsPerSecond * c.Window.Seconds()
		n = max(n, ceilCapped(float64(b.Records)/per, limit))
	}
	if b.Partitions > 0 && c.Partitions > 0 {
		n = max(n, ceilCapped(float64(b.Partitions)/float64(c.Partitions), limit))
	}
	return min(n, limit)
}

// ceilCapped is ceil(x), at most limit (x may be huge or not finite).
func ceilCapped(x float64, limit int) int {
	if math.IsNaN(x) || x >= float64(limit) {
		return limit
	}
	return int(math.Ceil(x))
}

// Sizing is a tick's decision, for the summary and the logs.
type Sizing struct {
	Backlog Backlog `json:"backlog"`
	// Invocations is how many the tick wants, counting itself.
	Invocations int `json:"invocations"`
	// Limit is the cap (MirrorMaxConcurrency).
	Limit int `json:"limit"`
	// WindowMs and RecordsPerSecond are the capacity the rule assumed.
	WindowMs         int64   `json:"window_ms"`
	RecordsPerSecond float64 `json:"records_per_second"`
	// Started counts the extra invocations handed to Lambda (or processes
	// started); Failed those that could not be, with the first reason.
	Started int    `json:"started"`
	Failed  int    `json:"failed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Size applies Invocations and records what it assumed.
func Size(b Backlog, c Capacity, limit int) Sizing {
	return Sizing{
		Backlog:          b,
		Invocations:      Invocations(b, c, limit),
		Limit:            max(limit, 1),
		WindowMs:         c.Window.Milliseconds(),
		RecordsPerSecond: c.RecordsPerSecond,
	}
}

// Event is the payload of an invocation started by fan-out. A worker
// copies and never fans out again; Depth counts the hops from the
// scheduled tick, so that an event which somehow came back round (a
// misconfigured schedule pointing a worker's output at the function)
// cannot start a loop.
type Event struct {
	Source string `json:"source"`
	Worker bool   `json:"worker"`
	Depth  int    `json:"depth"`
	// Parent is the request id of the invocation that started this one.
	Parent string `json:"parent,omitempty"`
	// Index is this worker's number, 1..Invocations-1.
	Index int `json:"index"`
	// Groups is the number of work groups the tick set (its
	// Invocations): the worker copies only once the flows' assignment
	// says so.
	Groups int `json:"groups,omitempty"`
}

// EventSource marks fan-out events.
const EventSource = "mirrorless.fanout"

// MaxDepth is the deepest an invocation may be and still fan out: only
// the scheduled tick (depth 0) does.
const MaxDepth = 0

// WorkerEvent is the payload of the index-th worker started by parent,
// which set groups work groups.
func WorkerEvent(parent string, index, groups int) []byte {
	b, _ := json.Marshal(Event{Source: EventSource, Worker: true, Depth: 1, Parent: parent, Index: index, Groups: groups})
	return b
}

// MayFanOut says whether an invocation with this payload may start
// others: only one that is not a worker and not below the top. A payload
// that is not a JSON object (or is empty: outside Lambda) is a tick. A
// payload that claims to be a fan-out event but cannot be read is treated
// as a worker: in doubt, never fan out.
func MayFanOut(payload []byte) (bool, error) {
	if len(payload) == 0 {
		return true, nil
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil {
		return true, nil
	}
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		if _, marked := probe["worker"]; marked {
			return false, fmt.Errorf("read fan-out event: %w", err)
		}
		if _, marked := probe["depth"]; marked {
			return false, fmt.Errorf("read fan-out event: %w", err)
		}
		return true, nil
	}
	return !e.Worker && e.Depth <= MaxDepth && e.Source != EventSource, nil
}

type indexKey struct{}

// WithIndex marks ctx as one invocation of a fanned-out tick: 0 for the
// tick itself, i for its i-th worker. The mirror then spreads: it prefers
// partitions further down the candidate list the higher its index, so that
// invocations started at the same moment do not all race for the same
// leases (leases have no compare-and-set: two claimers can both win one,
// and then the later fences the earlier and a partition waits a tick).
func WithIndex(ctx context.Context, i int) context.Context {
	return context.WithValue(ctx, indexKey{}, max(i, 0))
}

// IndexFrom is the index WithIndex set, if any.
func IndexFrom(ctx context.Context) (int, bool) {
	i, ok := ctx.Value(indexKey{}).(int)
	return i, ok
}

// WorkerIndex is the index a worker event carries (0 and false for any
// other payload).
func WorkerIndex(payload []byte) (int, bool) {
	e, ok := worker(payload)
	return e.Index, ok
}

// WorkerGroups is the number of work groups a worker event carries (0
// for any other payload, or an event from before work groups).
func WorkerGroups(payload []byte) int {
	e, _ := worker(payload)
	return max(0, e.Groups)
}

func worker(payload []byte) (Event, bool) {
	var e Event
	if json.Unmarshal(payload, &e) != nil || !e.Worker || e.Source != EventSource || e.Index < 1 {
		return Event{}, false
	}
	return e, true
}
