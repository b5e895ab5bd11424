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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "failover" {
		os.Exit(failover(os.Args[2:]))
	}
	runner.Main("checkpoint", func(ctx context.Context, a *app.App, _ string) (any, error) {
		return a.Checkpoint(ctx)
	})
}

func failover(args []string) int {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	group := fs.String("group", "", "the consumer group to fail over (required)")
	apply := fs.Bool("apply", false, "commit the translated offsets to the group on the target")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "checkpoint failover: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return code
	}
	s, err := config.LoadSettings()
	if err != nil {
		return fail(2, err)
	}
	level, _ := s.Level()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "checkpoint-failover")
	cfg, err := s.LoadConfig()
	if err != nil {
		return fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	plan, err := app.Failover(ctx, s, cfg, logger, *group, *apply)
	if plan != nil {
		app.PrintFailover(os.Stderr, plan)
		b, _ := json.Marshal(plan)
		fmt.Println(string(b))
	}
	if err != nil {
		if errors.Is(err, app.ErrInput) {
			return fail(2, err)
		}
		return fail(1, err)
	}
	return 0
}
