package checkpoint_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// The checkpoint function's tests run whole invocations: reconcile and the
// mirror write the remote topics and offset syncs that checkpoints
// translate through, as in production. They are an external test package
// so that they may import core/invocation, which imports this package.

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MIRROR_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newAppFrom builds an Invoker from settings naming a properties file, with
// test defaults for the rest.
func newAppFrom(t testing.TB, s config.Settings) *invocation.Invoker {
	t.Helper()
	s = kafkatest.Settings(t, s)
	cfg, err := s.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := invocation.New(context.Background(), s, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// reconcileAndMirror creates the remote topics and copies what there is.
func reconcileAndMirror(t testing.TB, a *invocation.Invoker) *invocation.MirrorSummary {
	t.Helper()
	ctx := context.Background()
	if rs, err := a.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v (%+v)", err, rs)
	}
	sum, err := a.Mirror(ctx, invocation.NewOwner(""))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	return sum
}
