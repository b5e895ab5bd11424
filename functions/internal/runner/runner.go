// Package runner is the shared entry point of the function programs.
//
// Outside Lambda (AWS_LAMBDA_RUNTIME_API unset) a program runs one
// invocation and exits: 0 on success, 1 when the invocation failed, 2 when
// the input (settings, properties file, client settings) is wrong; it
// prints a one-line JSON summary on stdout and, on failure, a one-line
// reason on stderr. Inside Lambda the same invocation runs per event
// through aws-lambda-go, with clients built once and reused while warm.
//
// Logs are JSON lines (log/slog) on stderr; every line written during an
// invocation carries its request_id (the Lambda request id, or outside
// Lambda the invocation's owner name). Metrics are CloudWatch EMF lines
// (core/metrics): on stdout inside Lambda, where CloudWatch Logs extracts
// them; outside Lambda only with MIRROR_METRICS=emf, and then on stderr, so
// that stdout stays the one summary line.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/metrics"
	"github.com/mirrorless/mirrorless/functions/internal/secrets"
)

// Invoke runs one invocation and returns its JSON summary.
type Invoke func(ctx context.Context, a *invocation.Invoker, owner string) (summary any, err error)

// Main handles the command line (Program), then loads the configuration
// and runs the function, locally or in Lambda.
func Main(p Program) {
	if code, exit := p.commandLine(os.Args[1:], os.Stdout, os.Stderr); exit {
		os.Exit(code)
	}
	name, invoke := p.Name, p.Invoke
	inLambda := os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
	// GOMEMLIMIT first: a value the runtime took but that mirrorless
	// refuses must stop the run before anything else happens. (One the
	// runtime cannot parse never gets here: Go stops before main with
	// "fatal error: malformed GOMEMLIMIT", exit 2.) In Lambda the heap may
	// use most of the function's memory before the collector works
	// harder (GOMEMLIMIT, when set, wins).
	memLimit, memWhy, err := applyMemoryLimit()
	if err != nil {
		exit(name, 2, err)
	}
	// Outside Lambda, with stderr a terminal, a person is watching: the
	// run's progress is drawn there, and the log lines pass below it.
	var term *terminal
	var stderr io.Writer = os.Stderr
	if !inLambda && isTerminal(os.Stderr) {
		term = newTerminal(os.Stderr)
		stderr = term
	}
	settings, err := config.LoadSettings()
	level, _ := settings.Level()
	ids := &requestIDs{}
	logger := slog.New(withRequestID(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}), ids)).With("function", name)
	if err != nil {
		exit(name, 2, err)
	}
	emf := metricsEnabled(settings.Metrics, inLambda)
	if memLimit > 0 {
		logger.Debug("memory limit", "bytes", memLimit, "why", memWhy)
	}
	// Secret placeholders (${secretsmanager:...}) are resolved through the
	// Parameters and Secrets Lambda Extension, which answers only once
	// invocations run: with placeholders, the clients are built at the
	// first invocation instead of at init.
	deferred := false
	cfg, err := settings.LoadConfigResolving(func(p *config.Properties) error {
		if !secrets.HasPlaceholders(p) {
			return nil
		}
		if inLambda {
			deferred = true
			return errDeferred
		}
		return resolveSecrets(context.Background(), p)
	})
	if err != nil && !deferred {
		exit(name, 2, err)
	}
	r := &run{name: name, invoke: invoke, logger: logger, ids: ids, lambda: inLambda, term: term, progress: p.Progress, print: p.Print, deployment: settings.Deployment}
	if emf {
		r.metrics = stderr
		if inLambda {
			r.metrics = os.Stdout
		}
	}
	if !inLambda {
		os.Exit(r.local(settings, cfg))
	}
	var (
		mu sync.Mutex
		a  *invocation.Invoker
	)
	build := func(ctx context.Context) (*invocation.Invoker, error) {
		mu.Lock()
		defer mu.Unlock()
		if a != nil {
			return a, nil
		}
		c := cfg
		if deferred {
			var err error
			if c, err = settings.LoadConfigResolving(func(p *config.Properties) error { return resolveSecrets(ctx, p) }); err != nil {
				return nil, err
			}
		}
		built, err := invocation.New(ctx, settings, c, logger)
		if err != nil {
			return nil, err
		}
		a = built
		// Once per execution environment: warm invocations reuse these
		// clients (a new connection per invocation is a connection storm
		// against MSK). Tests count this line.
		logger.Info("clients built", "flows", len(a.Flows), "pid", os.Getpid(), "version", Version(name))
		return a, nil
	}
	if !deferred {
		if _, err := build(context.Background()); err != nil {
			exit(name, 2, err) // fails the Lambda init: visible, and retried by Lambda
		}
	}
	lambda.StartWithOptions(func(ctx context.Context, event json.RawMessage) (any, error) {
		var reqID string
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			reqID = lc.AwsRequestID
		}
		a, err := build(ctx)
		if err != nil {
			logger.Error("invocation failed: could not start", "err", oneLine(err), "request_id", reqID)
			return nil, err
		}
		return r.once(ctx, a, reqID, event)
	}, lambda.WithEnableSIGTERM(func() {
		// Lambda sends SIGTERM before it shuts an environment down (and
		// SIGKILL soon after): close the clients so brokers see clean
		// disconnects, then leave.
		logger.Info("sigterm: closing clients")
		mu.Lock()
		if a != nil {
			a.Close()
		}
		mu.Unlock()
		logger.Info("sigterm: clients closed; exiting")
		os.Exit(0)
	}))
}

// errDeferred stops config loading at init when secrets must wait for the
// first invocation.
var errDeferred = errors.New("secret placeholders are resolved at the first invocation")

// resolveSecrets fills ${secretsmanager:...} placeholders (outside Lambda
// the fetcher is nil and the error says how to run instead).
func resolveSecrets(ctx context.Context, p *config.Properties) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return secrets.Resolve(ctx, p, secrets.FromEnvironment())
}

// run is what every invocation of one program shares.
type run struct {
	name    string
	invoke  Invoke
	logger  *slog.Logger
	ids     *requestIDs
	metrics io.Writer // nil: no metrics
	// lambda: a failed invocation's summary goes to the log, since Lambda
	// returns only the error (outside Lambda stdout has it).
	lambda bool
	// Outside Lambda: the terminal progress is drawn on (nil: none), how,
	// and how the summary is printed for people (nil: not).
	term     *terminal
	progress Progress
	print    func(io.Writer, any)
	// deployment is the Deployment dimension of every metric.
	deployment string
}

// once runs one invocation with its request id on every log line, logs its
// outcome and writes its metrics.
func (r *run) once(ctx context.Context, a *invocation.Invoker, reqID string, event json.RawMessage) (any, error) {
	owner := invocation.NewOwner(reqID)
	r.ids.set(owner)
	defer r.ids.set("")
	ctx = context.WithValue(ctx, eventKey{}, event)
	start := time.Now()
	deadline, _ := ctx.Deadline()
	r.logger.Debug("invocation", "event", truncate(string(event), 512), "deadline", deadline)
	sum, err := r.invoke(ctx, a, owner)
	took := time.Since(start)
	switch {
	case err != nil && r.lambda:
		r.logger.Error("invocation failed", "err", oneLine(err), "duration_ms", took.Milliseconds(), "summary", sum)
	case err != nil:
		r.logger.Error("invocation failed", "err", oneLine(err), "duration_ms", took.Milliseconds())
	default:
		r.logger.Info("invocation done", "duration_ms", took.Milliseconds())
	}
	if r.metrics != nil {
		props := map[string]string{"function": r.name, "request_id": owner}
		// Each function's summary knows its own metrics; one that has none
		// still gives the invocation's duration and outcome.
		measured, _ := sum.(metrics.Measured)
		if merr := metrics.Write(r.metrics, time.Now(), props, metrics.Of(r.deployment, r.name, measured, took.Milliseconds(), err != nil)); merr != nil {
			r.logger.Error("metrics", "err", merr)
		}
	}
	return sum, err
}

type eventKey struct{}

// Event is the payload of the invocation ctx belongs to (nil outside
// Lambda): the mirror reads it to tell a scheduled tick from a fanned-out
// worker.
func Event(ctx context.Context) json.RawMessage {
	e, _ := ctx.Value(eventKey{}).(json.RawMessage)
	return e
}

func (r *run) local(s config.Settings, cfg *config.Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := invocation.New(ctx, s, cfg, r.logger)
	if err != nil {
		code := 1
		if errors.Is(err, invocation.ErrInput) {
			code = 2
		}
		failed(r.name, err)
		return code
	}
	defer a.Close()
	sum, err := r.once(r.term.begin(ctx, r.progress), a, "", nil)
	r.term.end()
	if r.print != nil && sum != nil {
		r.print(os.Stderr, sum)
	}
	if sum != nil {
		b, jerr := json.Marshal(sum)
		if jerr == nil {
			fmt.Println(string(b))
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", r.name, oneLine(err))
		return 1
	}
	return 0
}

// metricsEnabled reads MIRROR_METRICS (validated with the settings): emf
// (the default in Lambda) or off (the default outside it).
func metricsEnabled(value string, inLambda bool) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case config.MetricsEMF:
		return true
	case config.MetricsOff:
		return false
	default:
		return inLambda
	}
}

func exit(name string, code int, err error) {
	failed(name, err)
	os.Exit(code)
}

// failed reports a run that could not start: the JSON summary on stdout
// (the contract every run keeps) and the reason on stderr.
func failed(name string, err error) {
	b, _ := json.Marshal(struct {
		Function string `json:"function"`
		OK       bool   `json:"ok"`
		Error    string `json:"error"`
	}{name, false, oneLine(err)})
	fmt.Println(string(b))
	fmt.Fprintf(os.Stderr, "%s: %s\n", name, oneLine(err))
}

// oneLine is an error as one line for stderr and the JSON summary, with
// any unprintable character escaped and cut at 8 KiB: an error may quote
// the properties file.
func oneLine(err error) string {
	return config.Sanitize(strings.Join(strings.Fields(err.Error()), " "), 8<<10)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
