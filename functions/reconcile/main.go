// Command reconcile creates missing remote topics, grows partitions and
// creates MM2's internal topics on each flow's target. With
// MIRROR_DRY_RUN=true it prints the plan and changes nothing.
package main

import (
	"context"
	"os"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
	"github.com/mirrorless/mirrorless/functions/table"
)

func main() {
	runner.Main(runner.Program{
		Name: "reconcile",
		Summary: "creates missing remote topics, grows partitions, syncs topic configs (and ACLs) and creates MM2's internal " +
			"topics on each flow's target. With MIRROR_DRY_RUN=true it prints the plan and changes nothing.",
		Invoke: func(ctx context.Context, a *app.App, _ string) (any, error) {
			sum, err := a.Reconcile(ctx)
			if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" && sum != nil {
				// For people: the plan as a table on stderr; stdout keeps the
				// one-line JSON summary.
				table.Plans(os.Stderr, sum.Plans, sum.DryRun)
			}
			return sum, err
		},
	})
}
