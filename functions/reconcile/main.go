// Command reconcile creates missing remote topics, grows partitions and
// creates MM2's internal topics on each flow's target. With
// MIRROR_DRY_RUN=true it prints the plan and changes nothing.
package main

import (
	"context"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
)

func main() {
	runner.Main("reconcile", func(ctx context.Context, a *app.App, _ string) (any, error) {
		return a.Reconcile(ctx)
	})
}
