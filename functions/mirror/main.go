// Command mirror copies records from each flow's source to its target,
// exactly once. See functions/internal/runner for how it runs.
//
// Outside Lambda it also takes over from MirrorMaker 2:
//
//	mirror adopt [-apply]
//
// finds, for every remote partition MM2 copied, the source record it ends
// with (from MM2's recorded offsets in mm2-offsets.<source>.internal) and,
// with -apply, commits mirrorless' position after it, so that switching
// copies nothing twice. Stop MirrorMaker 2 first.
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	var apply bool
	runner.Main(runner.Program{
		Name:    "mirror",
		Summary: "copies records from each flow's source to its target, exactly once, until caught up or the time budget ends.",
		Invoke: func(ctx context.Context, a *invocation.Invoker, owner string) (any, error) {
			return a.Mirror(ctx, owner)
		},
		Progress: runner.MirrorProgress,
		Commands: []runner.Command{{
			Name: "adopt",
			Summary: "takes over from MirrorMaker 2. For every remote partition MM2 copied, finds the source record it ends with " +
				"(from MM2's recorded offsets in mm2-offsets.<source>.internal) and, with -apply, commits mirrorless' position " +
				"after it, so that switching copies nothing twice. Stop MirrorMaker 2 first.",
			Flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&apply, "apply", false, "commit the positions found (default: only print them)")
			},
			Run: func(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (any, error) {
				a, err := invocation.New(ctx, s, cfg, logger)
				if err != nil {
					return nil, err
				}
				defer a.Close()
				return a.Adopt(ctx, apply)
			},
			Progress: runner.Steps("mirror adopt", "partitions", "examined"),
			Print: func(w io.Writer, sum any) {
				if s, ok := sum.(*invocation.AdoptSummary); ok && s != nil {
					table.Adoption(w, s)
				}
			},
		}},
	})
}
