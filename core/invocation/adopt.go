package invocation

import (
	"context"
	"fmt"
	"time"

	"github.com/mirrorless/mirrorless/core/mirror"
)

// AdoptSummary is what `mirror adopt` prints.
type AdoptSummary struct {
	Function   string                       `json:"function"`
	OK         bool                         `json:"ok"`
	Applied    bool                         `json:"applied"`
	DurationMs int64                        `json:"duration_ms"`
	Flows      map[string][]mirror.Adoption `json:"flows"`
	Error      string                       `json:"error,omitempty"`
}

// Adopt takes over the partitions MirrorMaker 2 copied (see
// mirror.Mirror.Adopt); with apply it commits their positions.
func (a *Invoker) Adopt(ctx context.Context, apply bool) (*AdoptSummary, error) {
	start := time.Now()
	sum := &AdoptSummary{Function: "mirror-adopt", Applied: apply, Flows: map[string][]mirror.Adoption{}}
	var errs []error
	for _, f := range a.Flows {
		m := a.newMirror(f, "adopt")
		res, err := m.Adopt(ctx, apply)
		sum.Flows[f.Name()] = res
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
		}
		for _, r := range res {
			if r.Action == "refuse" {
				errs = append(errs, fmt.Errorf("flow %s: %s/%d: %s", f.Name(), r.Topic, r.Partition, r.Reason))
			}
		}
	}
	err := finish(start, errs, &sum.DurationMs, &sum.OK, &sum.Error)
	return sum, err
}
