// Command checkpoint translates consumer-group offsets from each flow's
// source to its target: MM2 checkpoints, group offset sync and heartbeats.
// See functions/internal/runner for how it runs.
//
// Outside Lambda it also fails a group over by hand:
//
//	checkpoint failover -group NAME [-apply]
//
// prints the group's translated offsets on the target (JSON on stdout, a
// table on stderr) and, with -apply, commits them there (only when the
// group has no active members on the target, only forward). It connects to
// the target only, so it works while the source is down.
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	var group string
	var apply bool
	runner.Main(runner.Program{
		Name:    "checkpoint",
		Summary: "translates consumer-group offsets from each flow's source to its target: MM2 checkpoints, group offset sync and heartbeats.",
		Invoke: func(ctx context.Context, a *invocation.Invoker, _ string) (any, error) {
			return a.Checkpoint(ctx)
		},
		Commands: []runner.Command{{
			Name: "failover",
			Summary: "fails a consumer group over by hand. Prints the group's translated offsets on the target of the one " +
				"selected flow (MIRROR_FLOWS) and, with -apply, commits them there (only when the group has no active members " +
				"on the target, only forward). It connects to the target only, so it works while the source is down.",
			Flags: func(fs *flag.FlagSet) {
				fs.StringVar(&group, "group", "", "the consumer group to fail over (required)")
				fs.BoolVar(&apply, "apply", false, "commit the translated offsets to the group on the target (default: only print them)")
			},
			Run: func(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (any, error) {
				plan, err := invocation.Failover(ctx, s, cfg, logger, group, apply)
				if plan == nil {
					return nil, err
				}
				return plan, err
			},
			Progress: runner.Steps("checkpoint failover", "offsets of the checkpoints and translation state", "read"),
			Print: func(w io.Writer, plan any) {
				if p, ok := plan.(*checkpoint.FailoverPlan); ok && p != nil {
					table.Failover(w, p)
				}
			},
		}},
	})
}
