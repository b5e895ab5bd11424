package mirror

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// The offset-sync rules: which syncs a transaction writes for a lane.

// copied decides the offset syncs of one acknowledged record. The mirror
// writes a sync on both sides of every discontinuity of the copy, on
// either cluster: a source gap (transaction markers, aborted records,
// compaction, a reset) and the target's own commit markers, which make
// the first record of each transaction one. finishSyncs adds the last
// record of the transaction. Between two neighbouring syncs the records
// were therefore copied one to one (offsetsync.Linear) or there is no
// copied record at all (offsetsync.Adjacent); each sync after the first
// names its predecessor in a header, and the checkpoint translates
// exactly (offsetsync.Index). With offset.lag.max set, a sync is also
// written once the copy is that many records past the previous sync, for
// MM2's checkpoint connector (its rule needs them; ours does not).
func (lt *laneTxn) copied(up, down int64) {
	emit := false
	if lt.prevUp < 0 || up-lt.prevUp != 1 || down-lt.prevDown != 1 {
		if lt.prevUp >= 0 && !lt.lastSynced {
			lt.sync(lt.prevUp, lt.prevDown, offsetsync.Linear)
		}
		lt.sync(up, down, offsetsync.Adjacent)
		emit = true
	} else if lag := lt.l.offsetLagMax; lag >= 0 && down-(lt.l.lastSyncDown+1) >= lag {
		lt.sync(up, down, offsetsync.Linear)
		emit = true
	}
	lt.lastSynced = emit
	lt.prevUp, lt.prevDown = up, down
}

// sync adds a sync for the record at (up, down), following the lane's
// previous sync with kind between them.
func (lt *laneTxn) sync(up, down int64, kind offsetsync.Kind) {
	l := lt.l
	s := txnSync{OffsetSync: offsetsync.OffsetSync{Topic: l.u.SourceTopic, Partition: l.u.Partition, Upstream: up, Downstream: down}, prev: -1}
	if l.lastSyncUp >= 0 {
		s.prev, s.kind = l.lastSyncUp, kind
	}
	lt.syncs = append(lt.syncs, s)
	l.lastSyncUp = up
	l.lastSyncDown = down
}

// finishSyncs returns the transaction's offset syncs for the lane, the
// last record's included; call it after wait.
func (lt *laneTxn) finishSyncs() []txnSync {
	if lt.records > 0 && !lt.lastSynced {
		lt.sync(lt.prevUp, lt.prevDown, offsetsync.Linear)
	}
	return lt.syncs
}

// resync is the lane's last sync written again, for a transaction that
// commits its position without copying a record (control records only,
// or a refresh): a transaction needs a record, and the sync says nothing
// new. It names no predecessor, as before.
func (lt *laneTxn) resync() txnSync {
	p := lt.l.pos
	return txnSync{OffsetSync: offsetsync.OffsetSync{Topic: lt.l.u.SourceTopic, Partition: lt.l.u.Partition, Upstream: p.LastUpstream, Downstream: p.LastDownstream}, prev: -1}
}

// txnSync is an offset sync and what it says about the range from the
// previous one (prev -1: nothing).
type txnSync struct {
	offsetsync.OffsetSync
	prev int64
	kind offsetsync.Kind
}

// record is the sync's record in the offset-syncs topic.
func (s txnSync) record(topic string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: 0, Key: s.Key(), Value: s.Value()}
	if s.prev >= 0 {
		r.Headers = []kgo.RecordHeader{{Key: offsetsync.PrevHeader, Value: offsetsync.EncodePrev(s.prev, s.kind)}}
	}
	return r
}
