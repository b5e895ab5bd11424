package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgo commits offsets in a transaction only through a group session
// (GroupTransactSession); the mirror commits its progress for exact
// partitions with no group membership, so AddOffsetsToTxn and
// TxnOffsetCommit are issued here directly with the producer's current id
// and epoch.

// AddOffsetsToTxn adds group to the producer's open transaction, so that
// offsets committed for it with TxnOffsetCommit commit or abort with the
// transaction's records.
func AddOffsetsToTxn(ctx context.Context, prod *kgo.Client, txnID, group string) error {
	id, epoch, err := prod.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("load producer id: %w", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID = txnID
	add.ProducerID = id
	add.ProducerEpoch = epoch
	add.Group = group
	return whileCoordinatorBusy(ctx, func() error {
		resp, err := add.RequestWith(ctx, prod)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// TxnOffset is one partition's offset committed in a transaction.
type TxnOffset struct {
	Topic     string   // requests up to v5 name the topic
	TopicID   [16]byte // v6+ give its id
	Partition int32
	Offset    int64
	Metadata  string
}

// TxnOffsetCommit commits os for group in the producer's open transaction,
// in one request. The group must be in the transaction already
// (AddOffsetsToTxn), unless the broker adds it on this request itself
// (Kafka 4's transaction version 2).
func TxnOffsetCommit(ctx context.Context, prod *kgo.Client, txnID, group string, os ...TxnOffset) error {
	if len(os) == 0 {
		return nil
	}
	id, epoch, err := prod.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("load producer id: %w", err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID = txnID
	req.Group = group
	req.ProducerID = id
	req.ProducerEpoch = epoch
	req.Generation = -1
	byTopic := map[string]int{}
	for _, o := range os {
		i, ok := byTopic[o.Topic]
		if !ok {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = o.Topic
			rt.TopicID = o.TopicID
			i = len(req.Topics)
			byTopic[o.Topic] = i
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition = o.Partition
		rp.Offset = o.Offset
		rp.LeaderEpoch = -1
		meta := o.Metadata
		rp.Metadata = &meta
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	return whileCoordinatorBusy(ctx, func() error {
		resp, err := req.RequestWith(ctx, prod)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, pp := range t.Partitions {
				if err := kerr.ErrorForCode(pp.ErrorCode); err != nil {
					return fmt.Errorf("%s/%d: %w", t.Topic, pp.Partition, err)
				}
			}
		}
		return nil
	})
}

// Fence bumps the producer epoch of each transactional id, as a new
// producer's InitProducerID does, and so aborts any transaction open under
// it: whoever held one of them can no longer write or commit. It uses cl
// for raw requests (any client of the cluster: kgo sends each to the id's
// transaction coordinator), up to 32 at once, and returns the first
// failure. timeoutMs is the transaction timeout registered for ids never
// seen before.
func Fence(ctx context.Context, cl *kgo.Client, txnIDs []string, timeoutMs int32) error {
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(txnIDs))
	for _, id := range txnIDs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			req := kmsg.NewPtrInitProducerIDRequest()
			req.TransactionalID = &id
			req.TransactionTimeoutMillis = timeoutMs
			req.ProducerID, req.ProducerEpoch = -1, -1
			errs <- whileCoordinatorBusy(ctx, func() error {
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return err
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					return fmt.Errorf("fence %s: %w", id, err)
				}
				return nil
			})
		}()
	}
	var first error
	for range txnIDs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// whileCoordinatorBusy issues a transaction-coordinator request again, with
// a short backoff, while the coordinator answers that it is still busy with
// this transaction: the previous commit's markers being written, or a
// registration of another partition of the transaction in progress (where
// Kafka adds the group itself on the TxnOffsetCommit).
func whileCoordinatorBusy(ctx context.Context, req func() error) error {
	backoff := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := req()
		if (errors.Is(err, kerr.ConcurrentTransactions) || errors.Is(err, kerr.CoordinatorLoadInProgress)) && attempt < 100 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, 50*time.Millisecond)
			continue
		}
		return err
	}
}

// EndTxn ends the producer's open transaction with a raw EndTxn request,
// for a transaction that holds only offsets committed with
// TxnOffsetCommit: kgo's EndTransaction ends nothing when no record was
// produced. Under transaction version 2 the coordinator bumps the
// producer's epoch on every EndTxn, and kgo does not learn of it, so the
// client must not be used for another transaction afterwards: close it
// and start a new one with the same transactional id.
func EndTxn(ctx context.Context, prod *kgo.Client, txnID string, commit bool) error {
	id, epoch, err := prod.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("load producer id: %w", err)
	}
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = txnID
	req.ProducerID = id
	req.ProducerEpoch = epoch
	req.Commit = commit
	err = whileCoordinatorBusy(ctx, func() error {
		resp, err := req.RequestWith(ctx, prod)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	if commit && errors.Is(err, kerr.InvalidTxnState) {
		return fmt.Errorf("%w: %w", ErrCommitAborted, err)
	}
	return err
}
