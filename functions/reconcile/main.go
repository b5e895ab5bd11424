// Command reconcile creates missing remote topics, grows partitions and
// creates MM2's internal topics on each flow's target. With
// MIRROR_DRY_RUN=true it prints the plan and changes nothing.
package main

import (
	"context"
	"io"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	runner.Main(runner.Program{
		Name: "reconcile",
		Summary: "creates missing remote topics, grows partitions, syncs topic configs (and ACLs) and creates MM2's internal " +
			"topics on each flow's target. With MIRROR_DRY_RUN=true it prints the plan and changes nothing.",
		Invoke: func(ctx context.Context, a *invocation.Invoker, _ string) (any, error) {
			return a.Reconcile(ctx)
		},
		Progress: runner.Steps("reconcile", "changes", "done"),
		// For people: the plan as a table on stderr; stdout keeps the
		// one-line JSON summary.
		Print: func(w io.Writer, sum any) {
			if s, ok := sum.(*invocation.ReconcileSummary); ok && s != nil {
				table.Plans(w, s.Plans, s.DryRun)
			}
		},
	})
}
