package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// IsFenced reports whether err means another producer with the same
// transactional id took over, so this one must stop rather than retry:
// Kafka answers PRODUCER_FENCED from the transaction coordinator,
// INVALID_PRODUCER_EPOCH on produce (KIP-890), INVALID_TXN_STATE to a
// commit that meets the fencing abort under transaction version 2 (marked
// ErrCommitAborted by Commit; not counted anywhere else), and kgo returns
// OperationNotAttempted for a request it did not send after either. It is
// the one classifier the mirror and the checkpoint function share, so a
// new answer of a broker (a newer transaction protocol) is added here once.
func IsFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.OperationNotAttempted) || errors.Is(err, ErrCommitAborted)
}
