// Package runner is the shared entry point of the function programs.
//
// Outside Lambda (AWS_LAMBDA_RUNTIME_API unset) a program runs one
// invocation and exits: 0 on success, 1 when the invocation failed, 2 when
// the input (settings, properties file, client settings) is wrong; it
// prints a one-line JSON summary on stdout and, on failure, a one-line
// reason on stderr. Inside Lambda the same invocation runs per event
// through aws-lambda-go, with clients built once and reused while warm.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/config"
)

// Invoke runs one invocation and returns its JSON summary.
type Invoke func(ctx context.Context, a *app.App, owner string) (summary any, err error)

// Main loads the configuration and runs the function, locally or in Lambda.
func Main(name string, invoke Invoke) {
	settings, err := config.LoadSettings()
	level, _ := settings.Level()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", name)
	if err != nil {
		exit(name, 2, err)
	}
	cfg, err := settings.LoadConfig()
	if err != nil {
		exit(name, 2, err)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		os.Exit(local(name, settings, cfg, logger, invoke))
	}
	a, err := app.New(context.Background(), settings, cfg, logger)
	if err != nil {
		exit(name, 2, err) // fails the Lambda init: visible, and retried by Lambda
	}
	lambda.StartWithOptions(func(ctx context.Context, _ json.RawMessage) (any, error) {
		var reqID string
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			reqID = lc.AwsRequestID
		}
		return invoke(ctx, a, app.NewOwner(reqID))
	}, lambda.WithEnableSIGTERM(a.Close))
}

func local(name string, s config.Settings, cfg *config.Config, logger *slog.Logger, invoke Invoke) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, s, cfg, logger)
	if err != nil {
		code := 1
		if errors.Is(err, app.ErrInput) {
			code = 2
		}
		failed(name, err)
		return code
	}
	defer a.Close()
	sum, err := invoke(ctx, a, app.NewOwner(""))
	if sum != nil {
		b, jerr := json.Marshal(sum)
		if jerr == nil {
			fmt.Println(string(b))
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, oneLine(err))
		return 1
	}
	return 0
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

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
