package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/names"
)

// Work groups. A flow's partitions are split into K work groups, and every
// writer of a group's partitions uses the group's transactional id
// (names.GroupTransactionalID): one producer, one transaction and one
// produce request per broker carry many partitions, and whoever
// initialises the id last fences the previous holder, as the per-partition
// ids did before (issue 17).
//
// Which group a partition belongs to is the flow's assignment: K and a
// generation, kept in the group names.AssignmentGroup on the target. It
// changes only in settle (the schedule's tick sets K to the invocations it
// runs, or MIRROR_GROUPS pins it), as Kafka Connect fences the tasks of an
// exactly-once source connector before a new task count takes effect
// (KIP-618):
//
//  1. the changer initialises names.AssignTransactionalID, fencing any
//     other changer, and commits the new assignment as pending (in a
//     transaction of that id: a fenced changer cannot commit);
//  2. with a fresh producer of that id (an EndTxn leaves one unusable) it
//     reads the entry again and goes on only if it is still its own
//     pending one: another changer may have made a whole change between
//     the pending write and this InitProducerID, and writing over it
//     would fence too few ids and make the generation go back;
//  3. it fences every group id ever used (InitProducerID on each): every
//     writer under the old assignment loses its open transaction and can
//     commit nothing more;
//  4. it commits the assignment as ready.
//
// A writer initialises its group's id, then reads the assignment, and
// copies only if it is the ready one it took its partitions from. Either
// its InitProducerID came before a changer's fence (the fence kills it) or
// after (then its read sees the pending or the new assignment, and it
// stops). So at any time the writers that can still commit all work under
// one assignment, in which a partition has one group: no partition is ever
// written by two groups' producers unfenced.

// Assignment is a flow's split of partitions into work groups.
type Assignment struct {
	Groups int   // K: partition p of topic t is in group groupOf(t, p, K)
	Gen    int64 // one more per change
	// Used is how many group ids may ever have had a writer (ids 0 to
	// Used-1): a change fences them all.
	Used    int
	Ready   bool
	Written time.Time
	// Refreshed is when the entry was last written again unchanged, so
	// that the broker's offset retention never expires it (zero: never).
	Refreshed time.Time
	// Legacy: the per-partition transactional ids of the version before
	// work groups are fenced (by the first change, before its "ready").
	Legacy bool
}

// same: a and b are one assignment (a writer planned under a copies
// only while the current one is the same). The time it was written
// tells apart two generations of the same number, should the entry be
// lost and begun again.
func (a Assignment) same(b Assignment) bool {
	return a.Gen == b.Gen && a.Groups == b.Groups && a.Written.Equal(b.Written)
}

const assignMetaPrefix = "mirrorless/assign/v1"

func (a Assignment) metadata() string {
	state := "pending"
	if a.Ready {
		state = "ready"
	}
	m := fmt.Sprintf("%s k=%d used=%d state=%s t=%d", assignMetaPrefix, a.Groups, a.Used, state, a.Written.UnixMilli())
	if !a.Refreshed.IsZero() {
		m += fmt.Sprintf(" r=%d", a.Refreshed.UnixMilli())
	}
	if a.Legacy {
		m += " legacy=fenced"
	}
	return m
}

// parseAssignment reads an assignment entry; anything that is not what
// metadata writes is an error, never a guess.
func parseAssignment(offset int64, meta string) (Assignment, error) {
	a := Assignment{Gen: offset}
	rest, ok := strings.CutPrefix(meta, assignMetaPrefix+" ")
	if !ok {
		return a, fmt.Errorf("assignment entry %s was not written by this version of mirrorless", clip(meta))
	}
	seen := map[string]bool{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || seen[k] {
			return a, fmt.Errorf("assignment entry %s: field %s is not valid", clip(meta), clip(f))
		}
		seen[k] = true
		var err error
		var n int64
		switch k {
		case "k", "used":
			n, err = strconv.ParseInt(v, 10, 32)
			if err == nil && (n < 1 || n > maxGroups) {
				err = fmt.Errorf("outside 1..%d", maxGroups)
			}
			if k == "k" {
				a.Groups = int(n)
			} else {
				a.Used = int(n)
			}
		case "state":
			if v != "pending" && v != "ready" {
				err = errors.New("not pending or ready")
			}
			a.Ready = v == "ready"
		case "t", "r":
			n, err = strconv.ParseInt(v, 10, 64)
			if k == "t" {
				a.Written = time.UnixMilli(n)
			} else {
				a.Refreshed = time.UnixMilli(n)
			}
		case "legacy":
			if v != "fenced" {
				err = errors.New("not fenced")
			}
			a.Legacy = true
		}
		if err != nil {
			return a, fmt.Errorf("assignment entry %s: %s=%s is not valid (%v)", clip(meta), k, clip(v), err)
		}
	}
	for _, k := range []string{"k", "used", "state"} {
		if !seen[k] {
			return a, fmt.Errorf("assignment entry %s: %s is missing", clip(meta), k)
		}
	}
	if offset < 1 || a.Used < a.Groups {
		return a, fmt.Errorf("assignment entry %s at generation %d does not hold together", clip(meta), offset)
	}
	return a, nil
}

// maxGroups bounds K as config.MaxGroups does (a crafted entry cannot
// make settle fence millions of ids).
const maxGroups = 1000

// groupOf is the work group of a source partition under k groups: a
// topic's partitions go round the groups from a place its name decides,
// so a busy topic spreads over every group and many small topics spread
// evenly too.
func groupOf(sourceTopic string, partition int32, k int) int {
	if k <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(sourceTopic))
	return int((uint64(h.Sum32()) + uint64(uint32(partition))) % uint64(k))
}

// assignmentKey is where the assignment entry lives: partition 0 of the
// flow's offset-syncs topic, which exists whenever the mirror copies (a
// broker refuses offsets for partitions that do not exist).
func (m *Mirror) assignmentKey() (topic string, partition int32) {
	return m.Flow.OffsetSyncsTopic(), 0
}

// readAssignment reads the flow's assignment, waiting out a change in
// flight (a pending transactional commit); ok is false when none was ever
// written.
func (m *Mirror) readAssignment(ctx context.Context) (a Assignment, ok bool, err error) {
	group := names.AssignmentGroup(m.Flow.Name())
	topic, partition := m.assignmentKey()
	ctx = kadm.RequireStable(ctx)
	for attempt := 0; ; attempt++ {
		resp, err := m.TargetAdmin.FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			return a, false, nil
		}
		if err == nil {
			o, found := resp.Lookup(topic, partition)
			switch {
			case !found:
				return a, false, nil
			case o.Err == nil && o.At < 0:
				return a, false, nil
			case o.Err == nil:
				a, err := parseAssignment(o.At, o.Metadata)
				if err != nil {
					return a, false, fmt.Errorf("%w; delete group %s on %s (with nothing running) and the next tick writes a new one", err, group, m.Flow.Target)
				}
				return a, true, nil
			default:
				err = o.Err
			}
		}
		if errors.Is(err, kerr.UnstableOffsetCommit) && attempt == unstableFence {
			// A change's write is still open after a second: its changer
			// may have died between writing and committing (killed, or
			// out of time), which leaves the entry unreadable until the
			// transaction times out. Fencing the change's id aborts it; a
			// changer still alive is told it was fenced and passes its run.
			m.fenceAssign(ctx)
		}
		if kerr.IsRetriable(err) && attempt < 50 {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return a, false, err
			}
			continue
		}
		return a, false, fmt.Errorf("read the work-group assignment of group %s: %w", group, err)
	}
}

// errReassigned: the assignment changed under this run (another tick
// fenced its groups); the run copies nothing more and is not a failure.
var errReassigned = errors.New("work groups reassigned by another invocation")

// settle returns the assignment this run copies under, changing it first
// when want (above 0) differs from it, or when none is ready. want 0
// takes the current one, or a single group when there is none.
// Changing it fences every writer of the old one (see the top of this
// file); legacyUnits are the per-partition transactional ids of the
// version before work groups, fenced with the first assignment.
func (m *Mirror) settle(ctx context.Context, want int, topicID [16]byte, legacyUnits []string) (Assignment, error) {
	cur, ok, err := m.readAssignment(ctx)
	if err != nil {
		return cur, err
	}
	fits := func(a Assignment, ok bool) bool { return ok && a.Ready && (want == 0 || a.Groups == want) }
	if fits(cur, ok) {
		if time.Since(later(cur.Written, cur.Refreshed)) > m.Settings.ProgressRefresh {
			m.refreshAssignment(ctx, cur, topicID)
		}
		return cur, nil
	}
	if want == 0 {
		want = 1
		if ok {
			want = cur.Groups // a change left pending by a crashed changer: finish it
		}
	}
	txnID := names.AssignTransactionalID(m.Flow.Name())
	prod, err := m.initProducer(ctx, txnID)
	if err != nil {
		return cur, fmt.Errorf("change the work-group assignment: %w", err)
	}
	defer func() {
		if prod != nil {
			prod.Close()
		}
	}()
	// Another changer may have finished while this one waited.
	if cur, ok, err = m.readAssignment(ctx); err != nil || fits(cur, ok) {
		return cur, err
	}
	next := Assignment{Groups: want, Gen: cur.Gen + 1, Used: max(cur.Used, cur.Groups, want), Written: nowMilli(), Legacy: cur.Legacy}
	var legacy []string
	if !ok {
		// No entry: never written, or lost (its offset expired, the
		// offset-syncs topic or the group deleted). Which group ids may
		// have writers is then asked of the target: every transactional id
		// of this flow it knows (Kafka keeps one for
		// transactional.id.expiration.ms, 7 days by default, after its last
		// use), and, before the first ready assignment, those of the
		// version before.
		used, found, err := m.knownTxnIDs(ctx)
		if err != nil {
			return cur, fmt.Errorf("change the work-group assignment: %w", err)
		}
		next.Used = max(next.Used, used)
		legacy = append(legacyUnits, found...)
	} else if !cur.Legacy {
		legacy = legacyUnits
	}
	// An EndTxn leaves the producer unusable (kafka.EndTxn): after the
	// pending write a fresh one takes over, for the fence and the ready
	// write.
	err = m.writeAssignment(ctx, prod, txnID, next, topicID)
	prod.Close()
	prod = nil
	if err == nil {
		prod, err = m.initProducer(ctx, txnID)
	}
	if err != nil {
		return m.settledBy(ctx, cur, err)
	}
	// The fresh producer fences other changers from now on only: between
	// the pending write and its InitProducerID another changer may have
	// made a whole change of its own, over more groups than this one knew
	// of (next.Used). Going on would fence too few ids and write "ready"
	// over the newer entry, leaving that change's writers of the other
	// groups unfenced next to this one's: two producers for a partition.
	// So it goes on only over its own pending entry.
	if now, ok, err := m.readAssignment(ctx); err != nil {
		return cur, fmt.Errorf("change the work-group assignment: %w", err)
	} else if !ok || now.Ready || !now.same(next) {
		if ok && now.Ready {
			return now, nil
		}
		return now, fmt.Errorf("%w: generation %d written meanwhile (this change's was %d)", errReassigned, now.Gen, next.Gen)
	}
	ids := make([]string, 0, next.Used+len(legacyUnits))
	for g := range next.Used {
		ids = append(ids, names.GroupTransactionalID(m.Flow.Name(), g))
	}
	ids = append(ids, legacy...)
	t0 := time.Now()
	if err := kafka.Fence(ctx, prod, ids, int32(m.Settings.TransactionTimeout.Milliseconds())); err != nil {
		return cur, fmt.Errorf("change the work-group assignment to %d groups: fence the writers of the old one: %w (the next tick tries again)", want, err)
	}
	next.Ready, next.Written, next.Legacy = true, nowMilli(), true
	if err := m.writeAssignment(ctx, prod, txnID, next, topicID); err != nil {
		return m.settledBy(ctx, cur, err)
	}
	m.Logger.Info("work groups reassigned", "flow", m.Flow.Name(), "groups", want, "was", cur.Groups, "generation", next.Gen,
		"fenced_ids", len(ids), "fence_took", time.Since(t0).Round(time.Millisecond))
	return next, nil
}

// settledBy is settle's answer when writing failed: another changer
// fenced this one, and the assignment it leaves (once ready) is the one to
// copy under; otherwise the failure.
//
// Kafka 4.1.1 also answers UNKNOWN_SERVER_ERROR to an EndTxn that meets
// another changer's InitProducerID of the same id mid-flight (its
// coordinator throws on PREPARE_COMMIT during PREPARE_EPOCH_FENCE; seen
// in 1 of 365 runs of TestAssignmentChurn): the other changer fenced this
// one, so that is treated the same way, with a warning in case it
// persists.
func (m *Mirror) settledBy(ctx context.Context, cur Assignment, err error) (Assignment, error) {
	fenced := kafka.IsFenced(err)
	if fenced || errors.Is(err, kerr.UnknownServerError) {
		if a, ok, rerr := m.readAssignment(ctx); rerr == nil && ok && a.Ready {
			if !fenced {
				m.Logger.Warn("changing the work-group assignment failed; copying under the current one", "flow", m.Flow.Name(), "groups", a.Groups, "err", err)
			}
			return a, nil
		}
		return cur, fmt.Errorf("%w: %w", errReassigned, err)
	}
	return cur, fmt.Errorf("change the work-group assignment: %w", err)
}

// writeAssignment commits a in a transaction of the assign id, holding
// only that offset; the producer must not be used again afterwards.
func (m *Mirror) writeAssignment(ctx context.Context, prod *kgo.Client, txnID string, a Assignment, topicID [16]byte) error {
	group := names.AssignmentGroup(m.Flow.Name())
	topic, partition := m.assignmentKey()
	end := time.Now().Add(m.endTimeout())
	err := kafka.AddOffsetsToTxn(ctx, prod, txnID, group)
	if err == nil {
		err = kafka.TxnOffsetCommit(ctx, prod, txnID, group, kafka.TxnOffset{Topic: topic, TopicID: topicID, Partition: partition, Offset: a.Gen, Metadata: a.metadata()})
	}
	ectx, cancel := endContext(ctx, end, m.endTimeout())
	defer cancel()
	if err != nil {
		_ = kafka.EndTxn(ectx, prod, txnID, false)
		return err
	}
	return kafka.EndTxn(ectx, prod, txnID, true)
}

// initProducer makes a transactional producer for txnID and initialises
// it, fencing the id's previous holder.
func (m *Mirror) initProducer(ctx context.Context, txnID string) (*kgo.Client, error) {
	prod, err := m.newProducer(txnID)
	if err != nil {
		return nil, err
	}
	if _, _, err := prod.ProducerID(ctx); err != nil {
		prod.Close()
		return nil, fmt.Errorf("initialise transactional id %s: %w", txnID, err)
	}
	return prod, nil
}

// awaitAssignment waits, until the stop time and at most awaitMax, for a
// ready assignment of want groups (0: any), as a fan-out worker does while
// its tick settles it.
func (m *Mirror) awaitAssignment(ctx context.Context, want int, stopAt time.Time) (Assignment, error) {
	until := time.Now().Add(awaitMax)
	if stopAt.Before(until) {
		until = stopAt
	}
	for {
		a, ok, err := m.readAssignment(ctx)
		if err != nil {
			return a, err
		}
		if ok && a.Ready && (want == 0 || a.Groups == want) {
			return a, nil
		}
		if !time.Now().Before(until) {
			return a, fmt.Errorf("%w: the tick's assignment of %d work groups is not ready (now %d, ready %v)", errReassigned, want, a.Groups, a.Ready)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return a, err
		}
	}
}

// awaitMax bounds how long a worker waits for its tick's assignment.
const awaitMax = 15 * time.Second

// refreshAssignment writes the current assignment again, unchanged but
// for its refresh time, so that the broker's offset retention
// (offsets.retention.minutes) never expires it: a lost entry makes the
// next change fence more ids than it otherwise would. A failure is only
// logged; the next tick tries again.
func (m *Mirror) refreshAssignment(ctx context.Context, a Assignment, topicID [16]byte) {
	txnID := names.AssignTransactionalID(m.Flow.Name())
	prod, err := m.initProducer(ctx, txnID)
	if err == nil {
		// Read again under the id: a change may have begun meanwhile.
		var cur Assignment
		var ok bool
		if cur, ok, err = m.readAssignment(ctx); err == nil && ok && cur.same(a) && cur.Ready {
			cur.Refreshed = nowMilli()
			err = m.writeAssignment(ctx, prod, txnID, cur, topicID)
		}
		prod.Close()
	}
	if err != nil {
		m.Logger.Warn("refresh the work-group assignment", "flow", m.Flow.Name(), "err", err)
	}
}

// knownTxnIDs lists the transactional ids the target knows for this
// flow's mirror: used is one more than the highest work group's number
// (0: none), legacy the per-partition ids of the version before work
// groups.
func (m *Mirror) knownTxnIDs(ctx context.Context) (used int, legacy []string, err error) {
	// Each broker lists the ids it coordinates: a broker that did not
	// answer (one loading its transaction state after a restart answers
	// COORDINATOR_LOAD_IN_PROGRESS) leaves its ids out, and a change
	// made from the rest would leave their writers unfenced. So any
	// error stops the change; the next tick asks again.
	listed, err := m.TargetAdmin.ListTransactions(ctx, nil, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("list the target's transactional ids (%d listed; every broker must answer, since each lists only the ids it coordinates): %w", len(listed), err)
	}
	flow := m.Flow.Name()
	groupPrefix := strings.TrimSuffix(names.GroupTransactionalID(flow, 0), "0")
	for id := range listed {
		switch rest, isGroup := strings.CutPrefix(id, groupPrefix); {
		case isGroup:
			if g, err := strconv.Atoi(rest); err == nil && g >= 0 && g < maxGroups {
				used = max(used, g+1)
			}
		case id == names.AssignTransactionalID(flow) || id == names.CheckpointTransactionalID(flow):
		case strings.HasPrefix(id, names.Prefix+flow+"."):
			legacy = append(legacy, id)
		}
	}
	return used, legacy, nil
}

// nowMilli is the time now as an entry keeps it (milliseconds), so that
// an assignment written compares equal to itself read back.
func nowMilli() time.Time { return time.UnixMilli(time.Now().UnixMilli()) }

// unstableFence is after how many reads of an unstable assignment entry
// (100 ms apart) readAssignment fences the id that writes it.
const unstableFence = 10

// fenceAssign aborts whatever transaction the assignment's id has open
// (see readAssignment). A failure is only logged: the read goes on
// waiting.
func (m *Mirror) fenceAssign(ctx context.Context) {
	cl, err := kgo.NewClient(m.TargetOpts...)
	if err == nil {
		err = kafka.Fence(ctx, cl, []string{names.AssignTransactionalID(m.Flow.Name())}, int32(m.Settings.TransactionTimeout.Milliseconds()))
		cl.Close()
	}
	if err != nil {
		m.Logger.Warn("fence a stuck change of the work-group assignment", "flow", m.Flow.Name(), "err", err)
		return
	}
	m.Logger.Warn("fenced a change of the work-group assignment left open (its changer died mid-write?)", "flow", m.Flow.Name())
}
