package invocation

import (
	"context"
	"fmt"
	"time"

	"github.com/mirrorless/mirrorless/core/checkpoint"
)

// CheckpointSummary is the checkpoint function's one-line JSON summary.
type CheckpointSummary struct {
	Function      string               `json:"function"`
	OK            bool                 `json:"ok"`
	DurationMs    int64                `json:"duration_ms"`
	Groups        int                  `json:"groups"`
	Checkpoints   int                  `json:"checkpoints"`
	OffsetsSynced int                  `json:"offsets_synced"`
	Heartbeats    int                  `json:"heartbeats"`
	Flows         []*checkpoint.Result `json:"flows"`
	Error         string               `json:"error,omitempty"`
}

// Checkpoint runs one checkpoint invocation over every selected flow:
// group offset translation, checkpoints, group offset sync and heartbeats.
func (a *Invoker) Checkpoint(ctx context.Context) (*CheckpointSummary, error) {
	start := time.Now()
	stopAt := a.StopAt(ctx, start)
	sum := &CheckpointSummary{Function: "checkpoint"}
	var errs []error
	for _, f := range a.Flows {
		c := &checkpoint.Checkpointer{
			Flow:               f,
			SourceAdmin:        a.admins[optKey(f, "source-admin")],
			TargetAdmin:        a.admins[optKey(f, "target-admin")],
			SourceOpts:         a.baseOpts[optKey(f, "source-admin")],
			TargetOpts:         a.baseOpts[optKey(f, "target-producer")],
			Logger:             a.Logger,
			MaxSyncs:           a.Settings.CheckpointIndexSyncs,
			Dense:              a.Settings.CheckpointIndexSyncs / 2,
			TransactionTimeout: a.Settings.TransactionTimeout,
			SafetyMargin:       a.Settings.SafetyMargin,
		}
		res, err := c.Run(ctx, stopAt)
		sum.Flows = append(sum.Flows, res)
		sum.Groups += res.Groups
		sum.Checkpoints += res.Checkpoints
		sum.OffsetsSynced += res.OffsetsSynced
		sum.Heartbeats += res.Heartbeats
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
		}
	}
	err := finish(start, errs, &sum.DurationMs, &sum.OK, &sum.Error)
	return sum, err
}
