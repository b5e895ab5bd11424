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
	if len(os.Args) > 1 && os.Args[1] == "adopt" {
		os.Exit(adopt(os.Args[2:]))
	}
	runner.Main("mirror", func(ctx context.Context, a *app.App, owner string) (any, error) {
		return a.Mirror(ctx, owner)
	})
}

func adopt(args []string) int {
	fs := flag.NewFlagSet("adopt", flag.ContinueOnError)
	apply := fs.Bool("apply", false, "commit the positions found")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "mirror adopt: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return code
	}
	s, err := config.LoadSettings()
	if err != nil {
		return fail(2, err)
	}
	level, _ := s.Level()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "mirror-adopt")
	cfg, err := s.LoadConfig()
	if err != nil {
		return fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, s, cfg, logger)
	if err != nil {
		if errors.Is(err, app.ErrInput) {
			return fail(2, err)
		}
		return fail(1, err)
	}
	defer a.Close()
	sum, err := a.Adopt(ctx, *apply)
	app.PrintAdoption(os.Stderr, sum)
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
	if err != nil {
		return fail(1, err)
	}
	return 0
}
