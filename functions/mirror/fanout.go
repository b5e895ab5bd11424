package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/functions/internal/runner"
)

// invoker starts fanned-out workers: asynchronous invocations (Event) of
// this same function through the Lambda API. Lambda queues each one and
// runs it in an execution environment of its own, so the workers copy
// side by side with the tick; leases spread the partitions among them and
// fencing makes any overlap safe.
type invoker struct {
	client *lambda.Client
	// function and qualifier name this function as Lambda started it: an
	// environment only ever runs one function version.
	function, qualifier string
}

// newInvoker builds the Lambda client from what Lambda gives every
// function: its name and version, the region, and the execution role's
// credentials in the environment (read at each call). The endpoint is
// Lambda's own unless AWS_ENDPOINT_URL_LAMBDA (or AWS_ENDPOINT_URL) says
// otherwise, as for every AWS SDK: the tests point it at the Runtime
// Interface Emulator. Nil when the function's name is not known.
func newInvoker() *invoker {
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	if name == "" {
		return nil
	}
	opts := lambda.Options{
		Region: os.Getenv("AWS_REGION"),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			c := aws.Credentials{
				AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
				SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
				SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
				Source:          "environment",
			}
			if c.AccessKeyID == "" || c.SecretAccessKey == "" {
				return c, errors.New("no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
			}
			return c, nil
		}),
		// One attempt more than none: a lost answer to an accepted
		// invocation retried is one worker too many, which costs a short
		// invocation and nothing else.
		RetryMaxAttempts: 2,
	}
	for _, v := range []string{"AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"} {
		if e := os.Getenv(v); e != "" {
			opts.BaseEndpoint = aws.String(e)
			break
		}
	}
	iv := &invoker{client: lambda.New(opts), function: name}
	if v := os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"); v != "" && v != "$LATEST" {
		iv.qualifier = v
	}
	return iv
}

// start hands n workers to Lambda at once and waits for Lambda to accept
// them (not for them to run). Each has 10 s: an accepted Event invocation
// answers in milliseconds.
func (iv *invoker) start(ctx context.Context, parent string, n int, log *slog.Logger) (started, failed int, first error) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			in := &lambda.InvokeInput{
				FunctionName:   aws.String(iv.function),
				InvocationType: types.InvocationTypeEvent,
				Payload:        fanout.WorkerEvent(parent, i, n+1),
			}
			if iv.qualifier != "" {
				in.Qualifier = aws.String(iv.qualifier)
			}
			_, err := iv.client.Invoke(ictx, in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if first == nil {
					first = fmt.Errorf("start worker %d of %s: %w", i, iv.function, err)
				}
				return
			}
			started++
		}()
	}
	wg.Wait()
	if first != nil {
		log.Warn("fan-out: some workers were not started; the next tick picks up what they would have done", "started", started, "failed", failed, "err", first)
	}
	return started, failed, first
}

// tick runs one mirror invocation and, when it is the scheduled tick in
// Lambda (not a worker), first sizes the backlog and starts the workers
// the sizing asks for. A sizing or start that fails leaves the tick to
// copy alone: fan-out is an optimisation, never a reason to copy nothing.
func tick(iv *invoker) runner.Invoke {
	return func(ctx context.Context, a *invocation.Invoker, owner string) (any, error) {
		logger := a.Logger
		var sizing *fanout.Sizing
		if iv != nil && a.Settings.MaxConcurrency > 1 {
			may, err := fanout.MayFanOut(runner.Event(ctx))
			if err != nil {
				logger.Warn("fan-out: event not understood; running as a worker", "err", err)
			}
			if may {
				sizing = size(ctx, a, iv, owner, logger)
			}
		}
		// Invocations of one tick spread over the partitions (see
		// fanout.WithIndex): a worker by the index its event carries, the
		// tick as 0 when it started workers, a local process by the index
		// the scheduler gave it.
		if i, worker := fanout.WorkerIndex(runner.Event(ctx)); worker {
			ctx = fanout.WithIndex(ctx, i)
		} else if sizing != nil && sizing.Invocations > 1 {
			ctx = fanout.WithIndex(ctx, 0)
		} else if a.Settings.FanoutIndex >= 0 {
			ctx = fanout.WithIndex(ctx, a.Settings.FanoutIndex)
		}
		if sizing != nil {
			// The tick's fan-out is the flows' number of work groups: each
			// invocation copies one at a time (core/mirror).
			a.Groups = sizing.Invocations
		}
		if g := fanout.WorkerGroups(runner.Event(ctx)); g > 0 {
			// A worker copies under the tick's assignment once it is
			// ready, and never changes it.
			a.Groups, a.Worker = g, true
		}
		sum, err := a.Mirror(ctx, owner)
		if sum != nil {
			sum.Fanout = sizing
		}
		return sum, err
	}
}

// size measures the backlog and starts the workers it calls for.
func size(ctx context.Context, a *invocation.Invoker, iv *invoker, owner string, logger *slog.Logger) *fanout.Sizing {
	s, err := a.SizeMirror(ctx)
	if err != nil {
		logger.Warn("fan-out: could not measure the backlog; copying alone", "err", err)
		return nil
	}
	if s.Invocations > 1 {
		var first error
		s.Started, s.Failed, first = iv.start(ctx, owner, s.Invocations-1, logger)
		if first != nil {
			s.Error = first.Error()
		}
	}
	logger.Info("fan-out", "backlog_records", s.Backlog.Records, "backlog_partitions", s.Backlog.Partitions, "invocations", s.Invocations, "limit", s.Limit, "started", s.Started, "failed", s.Failed)
	return &s
}
