package runner

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/config"
)

// Tool runs an operator command outside Lambda (`checkpoint failover`,
// `mirror adopt`): it parses the command's flags (flags defines them),
// loads the settings and the properties, runs do, prints do's result as
// one JSON line on stdout and returns the exit code: 0, 1 when do failed,
// 2 for bad input (flags, settings, properties, app.ErrInput).
func Tool(name string, args []string, flags func(*flag.FlagSet), do func(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (any, error)) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, oneLine(err))
		return code
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	flags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := config.LoadSettings()
	if err != nil {
		return fail(2, err)
	}
	level, _ := s.Level()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", name)
	cfg, err := s.LoadConfig()
	if err != nil {
		return fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := do(ctx, s, cfg, logger)
	if out != nil {
		if b, jerr := json.Marshal(out); jerr == nil {
			fmt.Println(string(b))
		}
	}
	if err != nil {
		if errors.Is(err, app.ErrInput) {
			return fail(2, err)
		}
		return fail(1, err)
	}
	return 0
}
