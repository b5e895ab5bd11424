package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// Progress lives in a consumer group on the target cluster: for the remote
// topic's partition p, the committed offset is the next source offset to
// copy from partition p of the source topic. It is written by
// TxnOffsetCommit inside the same transaction as the records it covers, so
// data and progress commit or abort together, and reading every unit's
// progress is one OffsetFetch whatever the history.

// Positions reads the committed position of every unit of the flow that
// has one, keyed by remote topic and partition (entries mirrorless did
// not write are left out).
func Positions(ctx context.Context, adm *kadm.Client, f *config.Flow) (map[lease.Unit]Position, error) {
	return readProgress(ctx, adm, ProgressGroup(f), nil)
}

// ProgressGroup names the flow's progress group on the target.
func ProgressGroup(f *config.Flow) string { return names.ProgressGroup(f.Name()) }

// Position is a unit's committed progress.
type Position struct {
	Next int64 // next source offset to copy
	// LastUpstream/LastDownstream are the source and target offsets of the
	// last record copied (-1 when none yet); they let a transaction that
	// only passes source control records re-emit a valid offset sync.
	LastUpstream, LastDownstream int64
	Committed                    time.Time
	// SourceID is the source topic's id when the position was written: a
	// topic deleted and recreated under the same name gets a new id, and
	// its offsets mean something else.
	SourceID string
	// Epoch is the source leader epoch of the record before Next, when
	// HasEpoch (positions written before it was kept, and anchors, have
	// none). On resume the source is asked where that epoch ends
	// (OffsetForLeaderEpoch, as consumers do since KIP-320): before Next,
	// the source's log diverged from what was copied (an unclean leader
	// election).
	Epoch    int32
	HasEpoch bool
}

const progressMetaPrefix = "mirrorless/v1"

// same: p and q are one committed position (the metadata holds the
// commit time, so another writer's commit of the same offset differs).
func (p Position) same(q Position) bool {
	return p.Next == q.Next && p.metadata() == q.metadata()
}

func (p Position) metadata() string {
	m := fmt.Sprintf("%s up=%d down=%d t=%d", progressMetaPrefix, p.LastUpstream, p.LastDownstream, p.Committed.UnixMilli())
	if p.SourceID != "" {
		m += " src=" + p.SourceID
	}
	if p.HasEpoch {
		m += fmt.Sprintf(" e=%d", p.Epoch)
	}
	return m
}

// parsePosition reads a committed position. Anyone who can commit offsets
// to the progress group can put anything there, so metadata that is not
// what metadata() writes is an error, never a guess: an unknown format or
// version, a field that is not a number, values that contradict each
// other or the offset. Unknown fields are ignored, so a later v1 writer
// may add some.
func parsePosition(offset int64, meta string) (Position, error) {
	p := Position{Next: offset, LastUpstream: -1, LastDownstream: -1}
	rest, ok := strings.CutPrefix(meta, progressMetaPrefix)
	if !ok || (rest != "" && rest[0] != ' ') {
		if strings.HasPrefix(meta, "mirrorless/") {
			return p, fmt.Errorf("progress metadata %s: unknown format version", clip(meta))
		}
		return p, fmt.Errorf("progress metadata %s was not written by mirrorless", clip(meta))
	}
	if offset < 0 {
		return p, fmt.Errorf("progress offset %d is negative", offset)
	}
	seen := map[string]bool{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return p, fmt.Errorf("progress metadata %s: field %s is not key=value", clip(meta), clip(f))
		}
		if seen[k] {
			return p, fmt.Errorf("progress metadata %s: %s is given twice", clip(meta), clip(k))
		}
		seen[k] = true
		var err error
		switch k {
		case "src":
			if v == "" {
				err = errors.New("empty")
			}
			p.SourceID = v
		case "e":
			var e int64
			if e, err = strconv.ParseInt(v, 10, 32); err == nil && e < 0 {
				err = errors.New("negative")
			}
			p.Epoch, p.HasEpoch = int32(e), err == nil
		case "up":
			p.LastUpstream, err = parseOffset(v)
		case "down":
			p.LastDownstream, err = parseOffset(v)
		case "t":
			var ms int64
			if ms, err = strconv.ParseInt(v, 10, 64); err == nil && ms < 0 {
				err = errors.New("negative")
			}
			p.Committed = time.UnixMilli(ms)
		}
		if err != nil {
			return p, fmt.Errorf("progress metadata %s: %s=%s is not valid (%v)", clip(meta), k, clip(v), err)
		}
	}
	for _, k := range []string{"up", "down", "t"} {
		if !seen[k] {
			return p, fmt.Errorf("progress metadata %s: %s is missing", clip(meta), k)
		}
	}
	if (p.LastUpstream < 0) != (p.LastDownstream < 0) {
		return p, fmt.Errorf("progress metadata %s: up and down must both be -1 or both be offsets", clip(meta))
	}
	if p.LastUpstream >= offset {
		return p, fmt.Errorf("progress metadata %s: the last copied offset up=%d is not before the position %d", clip(meta), p.LastUpstream, offset)
	}
	return p, nil
}

// parseOffset reads a record offset, or -1 for none.
func parseOffset(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil && n < -1 {
		err = errors.New("below -1")
	}
	return n, err
}

// clip quotes s for an error message, cut to a readable length.
func clip(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// readProgress returns the committed position of every unit in the group.
// With stable units given, it waits out pending transactional commits of
// those units (after they were fenced, those resolve promptly) so the
// answer for them is the truth; other units may carry a pending commit of
// a live or crashed invocation, which is not waited for.
func readProgress(ctx context.Context, adm *kadm.Client, group string, stable map[lease.Unit]bool) (map[lease.Unit]Position, error) {
	if stable != nil {
		ctx = kadm.RequireStable(ctx)
	}
	for attempt := 0; ; attempt++ {
		resp, err := adm.FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			return map[lease.Unit]Position{}, nil // never written: no progress yet
		}
		if err != nil {
			// UNSTABLE_OFFSET_COMMIT: a fenced transaction is being
			// aborted; COORDINATOR_* errors: the group coordinator is
			// moving or (on a new cluster) __consumer_offsets is being
			// created. Both settle within seconds.
			if kerr.IsRetriable(err) && attempt < 50 {
				if err := sleep(ctx, 100*time.Millisecond); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("read progress of group %s: %w", group, err)
		}
		out := map[lease.Unit]Position{}
		var unstable bool
		var firstErr error
		resp.Each(func(o kadm.OffsetResponse) {
			switch {
			case errors.Is(o.Err, kerr.UnstableOffsetCommit):
				if stable[lease.Unit{Topic: o.Topic, Partition: o.Partition}] {
					unstable = true
				}
			case o.Err != nil:
				if firstErr == nil {
					firstErr = o.Err
				}
			case o.At >= 0:
				pos, err := parsePosition(o.At, o.Metadata)
				if err != nil {
					// Not a position mirrorless wrote: trusting its offset
					// could skip or re-copy records. The unit is treated as
					// having no progress, and start refuses to copy into a
					// remote partition that already holds records.
					slog.Warn("progress entry ignored", "group", group, "topic", o.Topic, "partition", o.Partition, "offset", o.At, "err", err)
					return
				}
				out[lease.Unit{Topic: o.Topic, Partition: o.Partition}] = pos
			}
		})
		if firstErr != nil {
			return nil, fmt.Errorf("read progress of group %s: %w", group, firstErr)
		}
		if unstable && attempt < 50 {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		if unstable {
			return nil, fmt.Errorf("read progress of group %s: %w", group, kerr.UnstableOffsetCommit)
		}
		return out, nil
	}
}

// offsetsAddedImplicitly reports whether the target cluster adds the
// progress group to a transaction by itself on the TxnOffsetCommit: under
// KIP-890 part 2 (finalized feature transaction.version >= 2) a
// TxnOffsetCommit v5+ registers the group's offsets partition with the
// transaction coordinator, as a produce v12+ registers its partition, so
// AddOffsetsToTxn is one round trip per transaction spent for nothing
// (kgo skips it in its own transactional commits for the same reason).
// Any doubt (an error, an older broker) answers false: AddOffsetsToTxn is
// always correct.
//
// It asks through the admin client: an ApiVersions request issued through
// a producer's client upsets kgo's own view of that broker's versions, and
// its produces then retry through metadata refreshes for seconds.
func offsetsAddedImplicitly(ctx context.Context, adm *kadm.Client) bool {
	vs, err := adm.ApiVersions(ctx)
	if err != nil || len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		if v.Err != nil || v.Raw() == nil {
			return false
		}
		tv2 := false
		for _, f := range v.Raw().FinalizedFeatures {
			tv2 = tv2 || f.Name == "transaction.version" && f.MaxVersionLevel >= 2
		}
		if _, max, ok := v.KeyVersions(int16(kmsg.TxnOffsetCommit)); !tv2 || !ok || max < 5 {
			return false
		}
	}
	return true
}

// addProgressGroup adds the progress group to the producer's open
// transaction: in every transaction where the target needs it, and in a
// unit's first transaction after fencing everywhere (see
// offsetsAddedImplicitly and worker.commit). It runs before any produce:
// under KIP-890 a produce registers its partition with the transaction
// coordinator too, and the two racing there cost seconds of
// CONCURRENT_TRANSACTIONS backoff.
func addProgressGroup(ctx context.Context, prod *kgo.Client, txnID, group string) error {
	if err := kafka.AddOffsetsToTxn(ctx, prod, txnID, group); err != nil {
		return fmt.Errorf("add progress group to transaction: %w", err)
	}
	return nil
}

// commitProgressPlain writes a position outside any transaction, where no
// fencing protects it: for mirror adopt, an operator's one-off command
// run while nothing else copies the flow, and for tests.
func commitProgressPlain(ctx context.Context, adm *kadm.Client, group string, u lease.Unit, p Position) error {
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: u.Topic, Partition: u.Partition, At: p.Next, LeaderEpoch: -1, Metadata: p.metadata()})
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("commit progress of %s: %w", u, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RecordedSourceIDs returns, per remote topic, the source topic id recorded
// with the flow's progress, so that reconcile can report a source topic
// that was deleted and recreated since it was copied.
func RecordedSourceIDs(ctx context.Context, adm *kadm.Client, f *config.Flow) (map[string]string, error) {
	progress, err := readProgress(ctx, adm, ProgressGroup(f), nil)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for u, p := range progress {
		if p.SourceID != "" {
			out[u.Topic] = p.SourceID
		}
	}
	return out, nil
}
