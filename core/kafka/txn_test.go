package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// whileCoordinatorBusy resends while the coordinator is busy with the
// transaction, returns anything else at once, and stops with the context.
func TestWhileCoordinatorBusy(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		answers []error
		want    error
		calls   int
	}{
		{"busy then done", []error{kerr.ConcurrentTransactions, kerr.CoordinatorLoadInProgress, nil}, nil, 3},
		{"other error at once", []error{kerr.InvalidTxnState, nil}, kerr.InvalidTxnState, 1},
		{"fenced at once", []error{kerr.ProducerFenced}, kerr.ProducerFenced, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := whileCoordinatorBusy(ctx, func() error {
				calls++
				return tc.answers[calls-1]
			})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) || calls != tc.calls {
				t.Fatalf("err %v after %d calls; want %v after %d", err, calls, tc.want, tc.calls)
			}
		})
	}
	// A coordinator busy for good: the caller's deadline ends the wait.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := whileCoordinatorBusy(dctx, func() error { return kerr.ConcurrentTransactions })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}
