// Command mirror copies records from each flow's source to its target,
// exactly once. See functions/internal/runner for how it runs.
package main

import (
	"context"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
)

func main() {
	runner.Main("mirror", func(ctx context.Context, a *app.App, owner string) (any, error) {
		return a.Mirror(ctx, owner)
	})
}
