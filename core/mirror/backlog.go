package mirror

import (
	"context"

	"github.com/mirrorless/mirrorless/core/fanout"
)

// Backlog measures what the flow has left to copy, as Run would plan it:
// the records behind (end minus position, per partition) and the
// partitions with work. It reads offsets only (a handful of requests,
// whatever the history), claims nothing and writes nothing, so a tick can
// size its fan-out before copying.
func (m *Mirror) Backlog(ctx context.Context) (fanout.Backlog, error) {
	p, err := makePlan(ctx, m.Flow, m.SourceAdmin, m.TargetAdmin)
	if err != nil {
		return fanout.Backlog{}, err
	}
	return fanout.Backlog{
		Records:    p.lagLeft(m.Flow.StartFrom),
		Partitions: len(p.candidates(m.Flow.StartFrom, m.Settings.ProgressRefresh)),
	}, nil
}
