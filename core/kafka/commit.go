package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrCommitAborted: the transaction coordinator had already aborted the
// transaction this producer asked to commit, and bumped the producer's
// epoch past it. Another producer with the same transactional id fenced
// it (InitProducerId), or the transaction timed out. Nothing of the
// transaction was committed; the producer is fenced.
//
// Under transaction version 2 (KIP-890, the default of Kafka 4.x
// clusters) the broker answers such a commit INVALID_TXN_STATE, not
// PRODUCER_FENCED, while the abort is the last thing that happened to the
// transactional id: since Kafka 4.1 (KAFKA-19367) a fencing abort bumps
// the epoch once, which makes the stale producer's epoch look like the
// retry of an EndTxn that bumped it (TransactionCoordinator.endTransaction:
// stored epoch == request epoch + 1 passes the epoch check), and a commit
// then meets the PrepareAbort or CompleteAbort state. Once the new
// producer's InitProducerId has bumped the epoch again, the answer is
// PRODUCER_FENCED. docs/hardening.md has the details.
var ErrCommitAborted = errors.New("the transaction was aborted before the commit (another producer with this transactional id fenced this one, or the transaction timed out)")

// Commit ends cl's open transaction with a commit (kgo's
// EndTransaction(TryCommit)). An INVALID_TXN_STATE answer is returned
// wrapping ErrCommitAborted as well, which IsFenced counts. It is marked
// here only, on a commit, where the broker's code shows it means the
// coordinator aborted the transaction; on Produce or an abort it means
// something else (a partition not in the transaction; an abort after a
// commit).
func Commit(ctx context.Context, cl *kgo.Client) error {
	err := cl.EndTransaction(ctx, kgo.TryCommit)
	if errors.Is(err, kerr.InvalidTxnState) {
		return fmt.Errorf("%w: %w", ErrCommitAborted, err)
	}
	return err
}
