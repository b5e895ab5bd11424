package runner

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
)

// ToolFunc is an operator command's work, given the settings, the
// properties and a logger; its result is printed as one JSON line.
type ToolFunc func(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (any, error)

// tool runs an operator command outside Lambda (`checkpoint failover`,
// `mirror adopt`): it parses the command's flags (-h prints its usage and
// exits 0; a bad flag or argument exits 2, before anything else runs),
// loads the settings and the properties, runs c.Run, prints its result as
// one JSON line on stdout and returns the exit code: 0, 1 when it failed,
// 2 for bad input (flags, settings, properties, invocation.ErrInput).
func tool(prog string, c Command, args []string, stdout, stderr io.Writer) int {
	name := prog + " " + c.Name
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err))
		return code
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.Flags != nil {
		c.Flags(fs)
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		c.usage(stdout, prog, fs)
		return 0
	case err != nil:
		return usageError(stderr, name, name, err)
	case fs.NArg() > 0:
		return usageError(stderr, name, name, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	s, err := config.LoadSettings()
	if err != nil {
		return fail(2, err)
	}
	level, _ := s.Level()
	var term *terminal
	logs := stderr
	if f, ok := stderr.(*os.File); ok && isTerminal(f) {
		term = newTerminal(f)
		logs = term
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})).With("function", name)
	cfg, err := s.LoadConfig()
	if err != nil {
		return fail(2, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := c.Run(term.begin(ctx, c.Progress), s, cfg, logger)
	term.end()
	if c.Print != nil && out != nil {
		c.Print(stderr, out)
	}
	if out != nil {
		if b, jerr := json.Marshal(out); jerr == nil {
			fmt.Fprintln(stdout, string(b))
		}
	}
	if err != nil {
		if errors.Is(err, invocation.ErrInput) {
			return fail(2, err)
		}
		return fail(1, err)
	}
	return 0
}
