// Command mirror copies records from each flow's source to its target,
// exactly once. See functions/internal/runner for how it runs.
//
// Outside Lambda it also takes over from MirrorMaker 2:
//
//	mirror adopt [-apply]
//
// finds, for every remote partition MM2 copied, the source record it ends
// with (from MM2's recorded offsets in mm2-offsets.<source>.internal, or,
// when MM2 recorded none, the remote partition's last record matched on
// the source) and, with -apply, commits mirrorless' position after it, so that switching
// copies nothing twice. Stop MirrorMaker 2 first; and
//
//	mirror size
//
// measures the backlog and prints how many invocations a tick would run
// (the local scheduler starts that many processes). In Lambda the
// scheduled invocation does the same itself and starts the others as
// asynchronous invocations of this function (fanout.go).
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	var apply bool
	var iv *invoker
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		iv = newInvoker()
	}
	runner.Main(runner.Program{
		Name: "mirror",
		Summary: "copies records from each flow's source to its target, exactly once, until caught up or the time budget ends. " +
			"In Lambda the scheduled invocation first sizes the backlog and starts up to MIRROR_MAX_CONCURRENCY-1 more (workers) to clear it within MIRROR_SCHEDULE_INTERVAL.",
		Invoke:   tick(iv),
		Progress: runner.MirrorProgress,
		Commands: []runner.Command{{
			Name: "size",
			Summary: "measures the backlog (records and partitions behind, over every selected flow) and prints how many concurrent " +
				"invocations one tick needs to clear it within MIRROR_SCHEDULE_INTERVAL, at most MIRROR_MAX_CONCURRENCY. Reads offsets only; writes nothing.",
			Run: func(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (any, error) {
				a, err := invocation.New(ctx, s, cfg, logger)
				if err != nil {
					return nil, err
				}
				defer a.Close()
				return a.SizeMirror(ctx)
			},
			Print: func(w io.Writer, sum any) {
				if s, ok := sum.(fanout.Sizing); ok {
					table.Sizing(w, s)
				}
			},
		}, {
			Name: "adopt",
			Summary: "takes over from MirrorMaker 2. For every remote partition MM2 copied, finds the source record it ends with " +
				"(from MM2's recorded offsets in mm2-offsets.<source>.internal; where MM2 recorded none, the remote partition's last record " +
				"searched on the source, adopted only if it matches exactly one record) and, with -apply, commits mirrorless' position " +
				"after it, so that switching copies nothing twice. Stop MirrorMaker 2 first (docs/migration.md).",
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
