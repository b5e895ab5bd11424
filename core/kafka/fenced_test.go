package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestIsFenced(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.ProducerFenced, true},
		{kerr.InvalidProducerEpoch, true},
		{kerr.OperationNotAttempted, true},
		{fmt.Errorf("commit: %w", kerr.ProducerFenced), true},
		{errors.Join(context.Canceled, kerr.InvalidProducerEpoch), true},
		{kerr.CoordinatorLoadInProgress, false},
		{fmt.Errorf("commit: %w", fmt.Errorf("%w: %w", ErrCommitAborted, kerr.InvalidTxnState)), true},
		// On produce it means a partition not in the transaction.
		{fmt.Errorf("produce: %w", kerr.InvalidTxnState), false},
		{kerr.InvalidTxnState, false},
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		if got := IsFenced(tc.err); got != tc.want {
			t.Errorf("IsFenced(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
