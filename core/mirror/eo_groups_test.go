package mirror

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
	"github.com/mirrorless/mirrorless/core/names"
)

// Exactly once across work-group reassignments (issue 17). These tests run
// their own flow (aliases unique to the run, kafkatest.PropertiesFor): the
// assignment is per flow on the target, and changing the one of A->B would
// fence the groups of other packages' tests copying on the shared pair.

// uniqueFlow returns source and target aliases no other test uses.
func uniqueFlow() (source, target string) {
	n := time.Now().UnixNano() % 1_000_000_000
	return fmt.Sprintf("S%d", n), fmt.Sprintf("T%d", n)
}

// seqCheck checks that each of partitions holds sequences 0..want-1 once
// each, in order, and that the other partitions hold nothing.
func seqCheck(recs []*kgo.Record, partitions []int32, want int) error {
	bp := kafkatest.ByPartition(recs)
	for p, rs := range bp {
		if !containsPartition(partitions, p) {
			return fmt.Errorf("partition %d holds %d records; want none", p, len(rs))
		}
	}
	for _, p := range partitions {
		rs := bp[p]
		seen := map[int64]int{}
		dups := 0
		for _, r := range rs {
			s := kafkatest.Seq(r)
			seen[s]++
			if seen[s] > 1 {
				dups++
			}
		}
		missing := 0
		for i := range int64(want) {
			if seen[i] == 0 {
				missing++
			}
		}
		if len(rs) != want || dups > 0 || missing > 0 {
			return fmt.Errorf("partition %d: %d records, want %d (%d duplicated, %d missing)", p, len(rs), want, dups, missing)
		}
		for i, r := range rs {
			if s := kafkatest.Seq(r); s != int64(i) {
				return fmt.Errorf("partition %d: record %d has sequence %d", p, i, s)
			}
		}
	}
	return nil
}

func containsPartition(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// Issue 17: invocations that want different numbers of work groups (1, 2,
// 3 and 5; two pinned by MIRROR_GROUPS, two set as a tick sets them) run
// over and over at the same time while a producer appends to a 6-partition
// topic, so each changes the assignment under the others' open
// transactions. Once the producer stops and a last invocation has copied
// the lag left, the target must hold every record exactly once; and the
// assignment must have changed several times with writers stopped by it
// (fenced or reassigned), or the test proved nothing.
//
// With sharedOwner the invocations share one lease owner, so their leases
// do not keep them off each other's partitions (as when a lease lapses
// under a writer): fencing alone must keep the copy exactly once.
func testAssignmentChurn(t *testing.T, pair kafkatest.Pair, sharedOwner bool) {
	const partitions = 6
	src := kafkatest.Unique(t, "churn")
	kafkatest.CreateTopic(t, pair.A, src, partitions, nil)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	remote := sa + "." + src

	wants := []int{1, 2, 3, 5}
	var ms []*Mirror
	for i, k := range wants {
		owner := fmt.Sprintf("k%d", k)
		if sharedOwner {
			owner = "shared"
		}
		m := flowMirror(t, pair, sa, ta, owner, props...)
		if i%2 == 0 {
			m.Settings.Groups = k // MIRROR_GROUPS
		} else {
			m.Groups = k // the tick's fan-out
		}
		// Many small transactions, so that a change meets open ones.
		m.Settings.BatchRecords = 40
		m.Settings.LeaseTTL = 4 * time.Second
		m.Settings.SafetyMargin = 2 * time.Second
		ms = append(ms, m)
	}

	// The producer: rounds of 5 records per partition until produceFor
	// has passed.
	produceFor := 6 * time.Second
	if pair.Real {
		produceFor = 10 * time.Second
	}
	prod := kafkatest.Producer(t, pair.A)
	var (
		produced int // records per partition
		perr     error
		prodDone = make(chan struct{})
	)
	go func() {
		defer close(prodDone)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for end := time.Now().Add(produceFor); time.Now().Before(end); {
			var recs []*kgo.Record
			for i := produced; i < produced+5; i++ {
				for p := range int32(partitions) {
					recs = append(recs, kafkatest.Record(src, p, i))
				}
			}
			if perr = prod.ProduceSync(ctx, recs...).FirstErr(); perr != nil {
				return
			}
			produced += 5
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// The invocations, each again and again with a 2 s budget, until the
	// producer is done and then 2 s more.
	var (
		mu          sync.Mutex
		runs        int
		fenced      int // lanes stopped because another invocation fenced their group
		reassigned  int // lanes stopped because the assignment changed under them
		idle        int // runs that copied nothing because the assignment was being changed
		copied      int64
		errs        []string
		gens        = map[int64]bool{}
		back        []string // generations read lower than one read before
		stopRunning = make(chan struct{})
		wg          sync.WaitGroup
	)
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopRunning:
					return
				default:
				}
				res, err := m.Run(context.Background(), time.Now().Add(2*time.Second))
				mu.Lock()
				runs++
				if err != nil {
					errs = append(errs, fmt.Sprintf("k=%d: %v", m.wantGroups(), err))
				}
				if res.UnitsWithLag > 0 && res.Groups == 0 && err == nil {
					idle++
				}
				copied += res.Records
				for _, d := range res.Detail {
					switch d.Status {
					case UnitFenced:
						fenced++
					case UnitReassigned:
						reassigned++
					}
				}
				mu.Unlock()
			}
		}()
	}
	// The assignment's generations, as seen from outside: they only grow
	// (a change that wrote over a newer one would leave that one's writers
	// next to its own; TestAssignmentChangeOvertaken).
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var last int64
		for {
			select {
			case <-stopRunning:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if a, ok, err := ms[0].readAssignment(context.Background()); err == nil && ok {
				mu.Lock()
				gens[a.Gen] = true
				if a.Gen < last {
					back = append(back, fmt.Sprintf("%d after %d", a.Gen, last))
				}
				last = max(last, a.Gen)
				mu.Unlock()
			}
		}
	}()
	<-prodDone
	time.Sleep(2 * time.Second)
	close(stopRunning)
	wg.Wait()
	<-watchDone
	if perr != nil {
		t.Fatalf("produce to %s: %v", src, perr)
	}

	// A last invocation (under whatever assignment is there) copies the
	// lag left.
	last := flowMirror(t, pair, sa, ta, "last", props...)
	for i := 0; ; i++ {
		res := last.testRun(t)
		if res.LagLeft == 0 && res.UnitsWithLag == 0 {
			break
		}
		if i == 10 {
			t.Fatalf("lag left after 10 runs: %+v", res)
		}
	}
	a, ok, err := last.readAssignment(context.Background())
	if err != nil || !ok {
		t.Fatalf("read the assignment: %v (found %v)", err, ok)
	}
	got := kafkatest.ReadAll(t, pair.B, remote)
	t.Logf("%d runs, %d records per partition produced, %d copied by them; assignment generation %d (%d seen), %d lanes fenced, %d reassigned, %d runs idle while it changed; %d run errors",
		runs, produced, copied, a.Gen, len(gens), fenced, reassigned, idle, len(errs))
	for i, e := range errs {
		if i == 5 {
			t.Logf("... %d more", len(errs)-5)
			break
		}
		t.Logf("run error: %s", e)
	}
	if err := kafkatest.ExactlyOnce(got, partitions, produced); err != nil {
		t.Errorf("target %s: %v", remote, err)
	}
	if len(back) > 0 {
		t.Errorf("the assignment's generation went back %d times (%s): a change wrote over a newer one", len(back), strings.Join(back, ", "))
	}
	if a.Gen < 4 {
		t.Errorf("the assignment changed %d times; want at least 4 (the invocations did not contend)", a.Gen)
	}
	if fenced+reassigned == 0 {
		t.Errorf("no lane was fenced or reassigned: no writer was stopped by a change, so exactly once was not put to the test")
	}
	for _, e := range errs {
		if strings.Contains(e, ErrPartitionStopped.Error()) {
			t.Errorf("a partition stopped: %s", e)
		}
	}
}

func TestAssignmentChurn(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, p kafkatest.Pair) { testAssignmentChurn(t, p, false) })
}

func TestAssignmentChurnNoLeases(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, p kafkatest.Pair) { testAssignmentChurn(t, p, true) })
}

// zombie is a writer of work group 0 under a one-group assignment that
// took its leases, fenced the group's id, began a transaction holding
// records 0..held-1 of each partition in parts and their positions, and
// then stopped (a paused process) past its leases' TTL.
type zombie struct {
	g      *groupRun
	assign Assignment
}

func startZombie(t *testing.T, x *Mirror, remote string, parts []int32, held int) *zombie {
	return startZombieIn(t, x, remote, parts, held, 1, 0)
}

// startZombieIn is startZombie for a writer of group gid under k groups
// (parts must all be in it).
func startZombieIn(t *testing.T, x *Mirror, remote string, parts []int32, held, k, gid int) *zombie {
	t.Helper()
	ctx := context.Background()
	p, a := x.testPlanSettled(t, k)
	var units []lease.Unit
	for _, pt := range parts {
		units = append(units, lease.Unit{Topic: remote, Partition: pt})
	}
	leases := &lease.Store{Admin: x.TargetAdmin, Group: names.LeaseGroup(x.Flow.Name()), Owner: x.Owner, Margin: lease.MarginFor(x.Settings.LeaseTTL)}
	claimed, err := leases.Take(ctx, units, len(units), x.Settings.LeaseTTL)
	if err != nil || len(claimed) != len(units) {
		t.Fatalf("zombie's leases: took %v of %v: %v", claimed, units, err)
	}
	g := &groupRun{m: x, id: gid, assign: a, txnID: x.groupTxnID(gid), log: x.Logger, stopAt: time.Now().Add(time.Minute), end: time.Now().Add(time.Minute)}
	if err := g.initProducer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.prod.Close() })

	if err := g.prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	group := ProgressGroup(x.Flow)
	if err := addProgressGroup(ctx, g.prod, g.txnID, group); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	var offsets []kafka.TxnOffset
	for _, pt := range parts {
		u := p.find(lease.Unit{Topic: remote, Partition: pt})
		if u == nil {
			t.Fatalf("partition %d not planned", pt)
		}
		for i := range held {
			recs = append(recs, kafkatest.Record(remote, pt, i))
		}
		l := &lane{u: u}
		pos := Position{Next: int64(held), LastUpstream: int64(held - 1), LastDownstream: int64(held - 1), SourceID: u.SourceID, Committed: time.Now()}
		offsets = append(offsets, l.offset(pos))
	}
	if err := g.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("zombie's records: %v", err)
	}
	if err := kafka.TxnOffsetCommit(ctx, g.prod, g.txnID, group, offsets...); err != nil {
		t.Fatalf("zombie's positions: %v", err)
	}
	// Paused: no renewal, so the leases lapse.
	time.Sleep(x.Settings.LeaseTTL + lease.MarginFor(x.Settings.LeaseTTL) + 500*time.Millisecond)
	return &zombie{g: g, assign: a}
}

// Issue 17: a writer delayed past its lease, with an open transaction
// holding records and positions, must not commit once another invocation
// has taken its partitions: the newer one's fence aborts its transaction
// and its commit is refused, and the target holds each record once.
// With changeK the newer invocation changes the assignment first (one
// group to three), and the partitions the zombie holds are ones that
// belong to groups 1 and 2 now: the zombie's id (group 0) is never
// initialised by the writer that copies them, so the fence can only come
// from the change's fence of every group id ever used.
func testZombie(t *testing.T, pair kafkatest.Pair, changeK bool) {
	const partitions, records, held = 3, 100, 50
	src := kafkatest.Unique(t, "zombie")
	kafkatest.CreateTopic(t, pair.A, src, partitions, nil)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	remote := sa + "." + src

	// The partitions with records: all, or (changeK) those outside group
	// 0 under three groups, so that nobody copies group 0 after the change.
	var parts []int32
	for p := range int32(partitions) {
		if !changeK || groupOf(src, p, 3) != 0 {
			parts = append(parts, p)
		}
	}
	produceParts(t, pair, src, parts, records)

	x := flowMirror(t, pair, sa, ta, "zombie", props...)
	x.Settings.LeaseTTL = 2 * time.Second // MIRROR_LEASE_TTL
	z := startZombie(t, x, remote, parts, held)

	y := flowMirror(t, pair, sa, ta, "newer", props...)
	y.Settings.LeaseTTL = 2 * time.Second
	if changeK {
		y.Groups = 3
	} else {
		y.Groups = 1
	}
	res := y.testRun(t)
	if want := int64(records * len(parts)); res.Records != want || res.Groups != y.Groups {
		t.Errorf("newer run copied %d records under %d groups; want %d under %d", res.Records, res.Groups, want, y.Groups)
	}
	a, _, err := y.readAssignment(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if changeK != (a.Gen > z.assign.Gen) {
		t.Errorf("assignment generation %d, the zombie's %d; want it changed: %v", a.Gen, z.assign.Gen, changeK)
	}
	for _, d := range res.Detail {
		if want := groupOf(src, d.Partition, a.Groups); d.Group != want {
			t.Errorf("partition %d: the result says group %d; it is in group %d of %d", d.Partition, d.Group, want, a.Groups)
		}
		if changeK && d.Group == z.g.id {
			t.Errorf("partition %d is in the zombie's group %d under %d groups; the test wants other groups only", d.Partition, d.Group, a.Groups)
		}
	}

	// The zombie resumes and commits.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = kafka.Commit(ctx, z.g.prod)
	if !kafka.IsFenced(err) {
		t.Errorf("the zombie's commit: %v; want it fenced", err)
	}

	// Nothing left to copy; each record once.
	if res := y.testRun(t); res.Records != 0 || res.LagLeft != 0 {
		t.Errorf("run after the zombie: %d records copied, lag %d; want 0 and 0", res.Records, res.LagLeft)
	}
	if err := seqCheck(kafkatest.ReadAll(t, pair.B, remote), parts, records); err != nil {
		t.Errorf("target %s: %v", remote, err)
	}
	for _, p := range parts {
		pos, ok := y.testPosition(t, lease.Unit{Topic: remote, Partition: p})
		if !ok || pos.Next != records {
			t.Errorf("partition %d: position %d (found %v); want %d", p, pos.Next, ok, records)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("zombie fenced: %v", err)
}

func TestZombieSameAssignment(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, p kafkatest.Pair) { testZombie(t, p, false) })
}

func TestZombieAfterReassignment(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, p kafkatest.Pair) { testZombie(t, p, true) })
}

// The assignment entry can be lost (its offset expired after
// offsets.retention.minutes without a change, the offset-syncs topic or
// the group deleted). A writer of group 2 under three groups, paused with
// an open transaction, must still be fenced when the next change begins
// the entry again with one group: the change asks the target which group
// ids it knows and fences them all, not only group 0. Before, the new
// entry fenced ids below its own K only, and the zombie's commit landed
// (50 records copied twice per partition).
func testZombieAfterLostAssignment(t *testing.T, pair kafkatest.Pair) {
	const partitions, records, held, k = 6, 100, 50, 3
	src := kafkatest.Unique(t, "lost")
	kafkatest.CreateTopic(t, pair.A, src, partitions, nil)
	sa, ta := uniqueFlow()
	props := []string{sa + "->" + ta + ".topics = " + src}
	remote := sa + "." + src
	var parts []int32
	for p := range int32(partitions) {
		if groupOf(src, p, k) == 2 {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		t.Fatal("no partition in group 2")
	}
	produceParts(t, pair, src, parts, records)
	x := flowMirror(t, pair, sa, ta, "zombie", props...)
	x.Settings.LeaseTTL = 2 * time.Second
	z := startZombieIn(t, x, remote, parts, held, k, 2)

	// The entry is lost.
	resp, err := x.TargetAdmin.DeleteGroups(context.Background(), names.AssignmentGroup(x.Flow.Name()))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	y := flowMirror(t, pair, sa, ta, "newer", props...)
	y.Settings.LeaseTTL = 2 * time.Second
	y.Groups = 1
	if res := y.testRun(t); res.Records != int64(records*len(parts)) || res.Groups != 1 {
		t.Errorf("newer run copied %d records under %d groups; want %d under 1", res.Records, res.Groups, records*len(parts))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.Commit(ctx, z.g.prod); !kafka.IsFenced(err) {
		t.Errorf("the zombie's commit: %v; want it fenced", err)
	}
	if err := seqCheck(kafkatest.ReadAll(t, pair.B, remote), parts, records); err != nil {
		t.Errorf("target %s: %v", remote, err)
	}
}

func TestZombieAfterLostAssignment(t *testing.T) {
	kafkatest.EachPair(t, testZombieAfterLostAssignment)
}

// produceParts writes records 0..records-1 (kafkatest.Record) to each of
// parts of the source topic src.
func produceParts(t *testing.T, pair kafkatest.Pair, src string, parts []int32, records int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range records {
		for _, p := range parts {
			recs = append(recs, kafkatest.Record(src, p, i))
		}
	}
	if err := kafkatest.Producer(t, pair.A).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
