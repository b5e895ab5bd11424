package mirror

import (
	"context"
	"sort"
	"time"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// Bounds of lagAge's read: the partitions with the most lag first, at most
// this many, for at most this long (and never past a quarter of the safety
// margin after stopAt).
const (
	agePartitions = 1000
	ageTimeout    = 2 * time.Second
)

// lagAge sets res.LagSeconds: how long the oldest record not copied yet
// has waited, from the timestamp of the first committed record at each
// lagging partition's position (kafka.FirstTimestamps): nothing to read
// when the flow is caught up, else one fetch per source broker for all
// lagging partitions, about one record batch each. When some partitions
// could not be read (more than agePartitions lag, or the time ran out) the
// age is of those read, a lower bound; when none could, it is left unset.
func (m *Mirror) lagAge(ctx context.Context, res *Result, stopAt time.Time) {
	if res.LagLeft == 0 {
		zero := 0.0
		res.LagSeconds = &zero
		return
	}
	var lagging []PartitionLag
	for _, l := range res.Lags {
		if l.Lag > 0 {
			lagging = append(lagging, l)
		}
	}
	total := len(lagging)
	sort.Slice(lagging, func(i, j int) bool { return lagging[i].Lag > lagging[j].Lag })
	if len(lagging) > agePartitions {
		lagging = lagging[:agePartitions]
	}
	from, ends := map[kafka.TP]int64{}, map[kafka.TP]int64{}
	for _, l := range lagging {
		p := kafka.TP{Topic: l.Topic, Partition: l.Partition}
		from[p], ends[p] = l.Next, l.End
	}
	deadline := time.Now().Add(ageTimeout)
	if last := stopAt.Add(m.Settings.SafetyMargin / 4); last.Before(deadline) {
		deadline = last
	}
	if !deadline.After(time.Now()) {
		return
	}
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stamps := kafka.FirstTimestamps(actx, m.SourceOpts, from, ends)
	if len(stamps) == 0 {
		m.Logger.Debug("lag age unknown: no lagging partition could be read in time", "flow", m.Flow.Name(), "partitions", len(from))
		return
	}
	now := time.Now()
	age := 0.0
	for _, ts := range stamps {
		if !ts.IsZero() {
			age = max(age, now.Sub(ts).Seconds())
		}
	}
	res.LagSeconds = &age
	if len(stamps) < total {
		m.Logger.Debug("lag age from some lagging partitions only: a lower bound", "flow", m.Flow.Name(), "read", len(stamps), "lagging", total)
	}
}
