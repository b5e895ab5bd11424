package checkpoint_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// aliasedApp is newApp with cluster aliases of the test's own, so its
// internal topics (offset syncs, checkpoints, checkpoint state) and its
// checkpoint transactional id are not shared with tests running at the
// same time on the same pair.
func aliasedApp(t *testing.T, pair kafkatest.Pair, src, tgt string, extra ...string) *invocation.Invoker {
	t.Helper()
	lines := []string{
		"clusters = " + src + ", " + tgt,
		src + ".bootstrap.servers = " + pair.A,
		tgt + ".bootstrap.servers = " + pair.B,
		src + "->" + tgt + ".enabled = true",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"heartbeats.replication.enabled = false", // see kafkatest.Properties
	}
	path := t.TempDir() + "/mm2.properties"
	if err := os.WriteFile(path, []byte(strings.Join(append(lines, extra...), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := config.Settings{PropertiesFile: path}
	return newAppFrom(t, s)
}

func uniqueAlias(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func runCheckpoint(t *testing.T, a *invocation.Invoker) *invocation.CheckpointSummary {
	t.Helper()
	sum, err := a.Checkpoint(context.Background())
	if err != nil {
		t.Fatalf("checkpoint: %v (%+v)", err, sum.Flows[0])
	}
	if sum.Flows[0].Fenced {
		t.Fatalf("checkpoint fenced: %+v", sum.Flows[0])
	}
	return sum
}

func commitGroup(t *testing.T, addr, group string, offsets map[string]map[int32]int64) {
	t.Helper()
	os := kadm.Offsets{}
	for topic, ps := range offsets {
		for p, at := range ps {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	resp, err := kafkatest.Admin(t, addr).CommitOffsets(context.Background(), group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
}

func groupOffsets(t *testing.T, addr, group string) map[string]map[int32]int64 {
	t.Helper()
	r, err := kafkatest.Admin(t, addr).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int32]int64{}
	r.Each(func(o kadm.OffsetResponse) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}

// checkpoints reads every checkpoint record of the flow, in order.
func checkpoints(t *testing.T, addr, src string) []offsetsync.Checkpoint {
	t.Helper()
	var out []offsetsync.Checkpoint
	for _, r := range kafkatest.ReadAll(t, addr, src+".checkpoints.internal") {
		cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value)
		if err != nil {
			continue // the hostile-records test writes some
		}
		out = append(out, cp)
	}
	return out
}

func lastCheckpoints(cps []offsetsync.Checkpoint, group, topic string) map[int32]offsetsync.Checkpoint {
	out := map[int32]offsetsync.Checkpoint{}
	for _, cp := range cps {
		if cp.Group == group && cp.Topic == topic {
			out[cp.Partition] = cp
		}
	}
	return out
}

// seqAt returns the sequence number (= source offset: the test produces
// without gaps) of the first record at or after offset on the target.
func firstSeqFrom(t *testing.T, recs []*kgo.Record, partition int32, offset int64) int64 {
	t.Helper()
	for _, r := range recs {
		if r.Partition == partition && r.Offset >= offset {
			return kafkatest.Seq(r)
		}
	}
	return -1 // nothing at or after offset: the consumer is at the end
}

// MM2's scenarios (reference mm2.md §5 rows 4, 5, 7, 8, 11, 12, 13) on the
// real pair: translation within offset.lag.max, failover without loss,
// empty partitions, groups behind replication that advance and rewind,
// checkpoints monotonic across runs, group offsets synced only to absent
// or empty target groups and only forward.
func testCheckpointScenarios(t *testing.T, pair kafkatest.Pair, lagMax int64) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "orders")
	remote := src + "." + topic
	kafkatest.CreateTopic(t, pair.A, topic, 4, nil) // partition 3 stays empty
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 300)
	g1, g2 := kafkatest.Unique(t, "app"), kafkatest.Unique(t, "live")
	a := aliasedApp(t, pair, src, tgt,
		src+"->"+tgt+".topics = "+topic+".*",
		src+"->"+tgt+".groups = "+g1+", "+g2,
		"offset.lag.max = "+strconv.FormatInt(lagMax, 10),
		"sync.group.offsets.enabled = true",
		"emit.heartbeats.enabled = true")
	reconcileAndMirror(t, a)

	// A group behind replication (p0 in the middle, p1 at the end, p2 at
	// the start, p3 on the empty partition).
	at := map[int32]int64{0: 123, 1: 300, 2: 0, 3: 0}
	commitGroup(t, pair.A, g1, map[string]map[int32]int64{topic: at})
	sum := runCheckpoint(t, a)
	if sum.Checkpoints != 4 || sum.Groups != 1 {
		t.Fatalf("first run: %+v", sum.Flows[0])
	}
	target, end := kafkatest.ReadAll(t, pair.B, remote), int64(300)
	checkFailover := func(at map[int32]int64, cps map[int32]offsetsync.Checkpoint) {
		t.Helper()
		for p, g := range at {
			cp, ok := cps[p]
			if !ok {
				t.Fatalf("no checkpoint for partition %d", p)
			}
			if cp.Topic != remote || cp.Upstream != g {
				t.Fatalf("partition %d: checkpoint %+v, want topic %s upstream %d", p, cp, remote, g)
			}
			first := firstSeqFrom(t, target, p, cp.Downstream)
			if p == 3 || g == end {
				if first != -1 {
					t.Errorf("partition %d: group at the end resumes at %d and reads seq %d", p, cp.Downstream, first)
				}
				continue
			}
			if first > g {
				t.Errorf("partition %d: group at %d resumes at target %d, first seq %d: records %d..%d lost", p, g, cp.Downstream, first, g, first-1)
			}
			if g-first > lagMax {
				t.Errorf("partition %d: group at %d re-reads %d records, more than offset.lag.max %d", p, g, g-first, lagMax)
			}
		}
	}
	checkFailover(at, lastCheckpoints(checkpoints(t, pair.B, src), g1, remote))
	if cp := lastCheckpoints(checkpoints(t, pair.B, src), g1, remote)[3]; cp.Downstream != 0 {
		t.Errorf("empty partition: checkpoint %+v, want offset 0", cp)
	}
	// The group is absent on the target: its translated offsets were committed.
	checkSynced := func() {
		t.Helper()
		got := groupOffsets(t, pair.B, g1)[remote]
		cps := lastCheckpoints(checkpoints(t, pair.B, src), g1, remote)
		if len(cps) != 4 {
			t.Fatalf("checkpoints for %d partitions, want 4: %+v", len(cps), cps)
		}
		for p, cp := range cps {
			if o, ok := got[p]; !ok || o != cp.Downstream {
				t.Errorf("target group %s partition %d at %d (committed: %v), want %d", g1, p, o, ok, cp.Downstream)
			}
		}
	}
	checkSynced()

	// Nothing moved: no new checkpoint (monotonic, no repeats across runs).
	if sum := runCheckpoint(t, a); sum.Checkpoints != 0 {
		t.Errorf("a run with nothing new wrote %d checkpoints", sum.Checkpoints)
	}

	// The group advances to 90%, then rewinds to 10% (scenario 13).
	at = map[int32]int64{0: 270, 1: 300, 2: 271, 3: 0}
	commitGroup(t, pair.A, g1, map[string]map[int32]int64{topic: at})
	runCheckpoint(t, a)
	checkFailover(at, lastCheckpoints(checkpoints(t, pair.B, src), g1, remote))
	forward := groupOffsets(t, pair.B, g1)[remote]

	at = map[int32]int64{0: 30, 1: 300, 2: 31, 3: 0}
	commitGroup(t, pair.A, g1, map[string]map[int32]int64{topic: at})
	runCheckpoint(t, a)
	checkFailover(at, lastCheckpoints(checkpoints(t, pair.B, src), g1, remote))
	// The target group is never rewound.
	if now := groupOffsets(t, pair.B, g1)[remote]; now[0] != forward[0] || now[2] != forward[2] {
		t.Errorf("target group rewound: %v, was %v", now, forward)
	}

	// Scenario 12: more data is produced and mirrored; the group reads
	// into it and the group offset sync follows it forward.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 300, 350)
	if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}
	target, end = kafkatest.ReadAll(t, pair.B, remote), 350
	at = map[int32]int64{0: 340, 1: 350, 2: 305, 3: 0}
	commitGroup(t, pair.A, g1, map[string]map[int32]int64{topic: at})
	runCheckpoint(t, a)
	checkFailover(at, lastCheckpoints(checkpoints(t, pair.B, src), g1, remote))
	checkSynced()
	if now := groupOffsets(t, pair.B, g1)[remote]; now[0] <= forward[0] || now[1] <= forward[1] {
		t.Errorf("target group did not follow new data forward: %v, was %v", now, forward)
	}

	// Monotonic per partition, except where the source group rewound.
	prev := map[int32]offsetsync.Checkpoint{}
	for _, cp := range checkpoints(t, pair.B, src) {
		if cp.Group != g1 {
			continue
		}
		if p, ok := prev[cp.Partition]; ok && cp.Downstream < p.Downstream && cp.Upstream >= p.Upstream {
			t.Errorf("checkpoint went back without a rewind: %+v after %+v", cp, p)
		}
		prev[cp.Partition] = cp
	}

	// A group with active members on the target is never written.
	live := kafkatest.Producer(t, pair.B, kgo.ConsumerGroup(g2), kgo.ConsumeTopics(remote), kgo.DisableAutoCommit())
	pollCtx, stopPolling := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pollCtx.Err() == nil {
			live.PollFetches(pollCtx)
		}
	}()
	waitState(t, pair.B, g2, "Stable")
	commitGroup(t, pair.A, g2, map[string]map[int32]int64{topic: {0: 200}})
	sum = runCheckpoint(t, a)
	if f := sum.Flows[0]; len(f.GroupsActive) != 1 || f.GroupsActive[0] != g2 {
		t.Errorf("active target group not reported: %+v", f)
	}
	if o := groupOffsets(t, pair.B, g2); len(o[remote]) != 0 {
		t.Errorf("wrote offsets to a live group: %v", o)
	}
	// Nor does the failover command's -apply, while the group has members.
	if _, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), g2, true); err == nil || !strings.Contains(err.Error(), "active members") {
		t.Errorf("failover -apply on a group with active members on the target: %v, want a refusal", err)
	}
	if o := groupOffsets(t, pair.B, g2); len(o[remote]) != 0 {
		t.Errorf("failover -apply wrote offsets to a live group: %v", o)
	}
	stopPolling()
	<-polled
	live.Close()

	// Scenario 11: committed offsets on a topic nothing was mirrored of
	// yet give no checkpoint; once mirrored, they do.
	late := topic + "-late"
	kafkatest.CreateTopic(t, pair.A, late, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), late, 1, 0, 20)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	commitGroup(t, pair.A, g1, map[string]map[int32]int64{late: {0: 15}})
	sum = runCheckpoint(t, a)
	for _, cp := range checkpoints(t, pair.B, src) {
		if cp.Topic == src+"."+late {
			t.Fatalf("checkpoint before anything was mirrored: %+v", cp)
		}
	}
	if sum.Flows[0].Untranslatable == 0 {
		t.Errorf("untranslatable partition not counted: %+v", sum.Flows[0])
	}
	if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}
	runCheckpoint(t, a)
	found := false
	for _, cp := range checkpoints(t, pair.B, src) {
		// 20 records copied at offset.lag.max 10: a sync within 10 of 15.
		found = found || cp.Topic == src+"."+late && cp.Upstream == 15 && cp.Downstream <= 15 && cp.Downstream >= 15-lagMax
	}
	if !found {
		t.Errorf("no checkpoint for %s after mirroring", late)
	}

	// Heartbeats: on the target for the flow, on the source for the
	// reverse pair.
	hbs := kafkatest.ReadAll(t, pair.B, "heartbeats")
	n := 0
	for _, r := range hbs {
		if h, err := offsetsync.DecodeHeartbeat(r.Key, r.Value); err == nil && h.Source == src && h.Target == tgt {
			n++
		}
	}
	if n < 5 {
		t.Errorf("%d heartbeats %s->%s on the target, want one per run", n, src, tgt)
	}

	// The failover command reads only the target and agrees with the
	// checkpoints.
	plan, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), g1, false)
	if err != nil {
		t.Fatal(err)
	}
	last := lastCheckpoints(checkpoints(t, pair.B, src), g1, remote)
	for _, tr := range plan.Partitions {
		if tr.Topic != remote {
			continue
		}
		if cp := last[tr.Partition]; tr.Offset != cp.Downstream || tr.Upstream != cp.Upstream {
			t.Errorf("failover plan %+v disagrees with checkpoint %+v", tr, cp)
		}
		if tr.ReReadMax < 0 || tr.ReReadMax > lagMax {
			t.Errorf("failover plan %+v: re-read bound %d", tr, tr.ReReadMax)
		}
	}
}

func TestCheckpointScenariosKfake(t *testing.T) { testCheckpointScenarios(t, kafkatest.Kfake(t), 10) }

// MM2's row 8 runs with offset.lag.max 10 and 0 (a sync per record: exact).
func TestCheckpointScenariosReal(t *testing.T) {
	pair := kafkatest.Real(t)
	for _, lag := range []int64{10, 0} {
		t.Run("lag"+strconv.FormatInt(lag, 10), func(t *testing.T) { testCheckpointScenarios(t, pair, lag) })
	}
}

func waitState(t *testing.T, addr, group, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		gs, err := kafkatest.Admin(t, addr).ListGroups(context.Background())
		if err == nil {
			for _, g := range gs {
				if g.Group == group && g.State == want {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("group %s never reached %s", group, want)
}

// Failback: with flows both ways, a group of the target cluster's own
// consumers is translated the other way, onto the copy on the source
// (MM2's testReplication checks both directions).
func testCheckpointFailback(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	there, back := kafkatest.Unique(t, "there"), kafkatest.Unique(t, "back")
	kafkatest.CreateTopic(t, pair.A, there, 2, nil)
	kafkatest.CreateTopic(t, pair.B, back, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), there, 2, 0, 80)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), back, 2, 0, 90)
	group := kafkatest.Unique(t, "both")
	a := aliasedApp(t, pair, src, tgt,
		tgt+"->"+src+".enabled = true",
		src+"->"+tgt+".topics = "+there,
		tgt+"->"+src+".topics = "+back,
		"groups = "+group,
		"offset.lag.max = 10")
	reconcileAndMirror(t, a)
	commitGroup(t, pair.A, group, map[string]map[int32]int64{there: {0: 41, 1: 80}})
	commitGroup(t, pair.B, group, map[string]map[int32]int64{back: {0: 55, 1: 3}})
	if sum, err := a.Checkpoint(ctx); err != nil || sum.Checkpoints != 4 {
		t.Fatalf("checkpoint: %v %+v", err, sum)
	}
	for _, c := range []struct {
		addr, alias, remote, onTarget string
		at                            map[int32]int64
	}{
		{pair.B, src, src + "." + there, pair.B, map[int32]int64{0: 41, 1: 80}},
		{pair.A, tgt, tgt + "." + back, pair.A, map[int32]int64{0: 55, 1: 3}},
	} {
		cps := lastCheckpoints(checkpoints(t, c.addr, c.alias), group, c.remote)
		recs := kafkatest.ReadAll(t, c.onTarget, c.remote)
		for p, g := range c.at {
			cp, ok := cps[p]
			if !ok {
				t.Fatalf("%s/%d: no checkpoint", c.remote, p)
			}
			first := firstSeqFrom(t, recs, p, cp.Downstream)
			if first == -1 {
				first = g // at the end
			}
			if first > g || g-first > 10 {
				t.Errorf("%s/%d: group at %d resumes at %d reading seq %d", c.remote, p, g, cp.Downstream, first)
			}
		}
	}

	// The failover command applies the plan to the absent target group
	// (one flow chosen among two), and a second apply changes nothing.
	s := a.Settings
	s.Flows = []string{src + "->" + tgt}
	plan, err := invocation.Failover(ctx, s, a.Config, testLogger(t), group, true)
	if err != nil || !plan.Applied {
		t.Fatalf("failover -apply: %v %+v", err, plan)
	}
	got := groupOffsets(t, pair.B, group)[src+"."+there]
	for _, tr := range plan.Partitions {
		if tr.Action != "committed" || got[tr.Partition] != tr.Offset {
			t.Errorf("applied %+v, target group has %d", tr, got[tr.Partition])
		}
	}
	if plan, err = invocation.Failover(ctx, s, a.Config, testLogger(t), group, true); err != nil || plan.Applied {
		t.Errorf("second apply: %v %+v", err, plan)
	}
	if _, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), group, false); err == nil || !errors.Is(err, invocation.ErrInput) {
		t.Errorf("two flows and no MIRROR_FLOWS: %v", err)
	}
}

func TestCheckpointFailback(t *testing.T) { kafkatest.EachPair(t, testCheckpointFailback) }

// Overlapping invocations (a schedule overlap, an async retry): the later
// one fences the earlier, state never goes back, and checkpoints stay
// monotonic while the group moves.
func TestCheckpointConcurrentReal(t *testing.T) {
	pair := kafkatest.Real(t)
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "overlap")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	prod := kafkatest.Producer(t, pair.A)
	group := kafkatest.Unique(t, "moving")
	extra := []string{src + "->" + tgt + ".topics = " + topic, "groups = " + group, "offset.lag.max = 10"}
	a1 := aliasedApp(t, pair, src, tgt, extra...)
	a2 := newAppFrom(t, a1.Settings)
	remote := src + "." + topic
	fenced := 0
	for round := 0; round < 6; round++ {
		kafkatest.ProduceSeq(t, prod, topic, 2, round*50, round*50+50)
		reconcileAndMirror(t, a1)
		at := int64(round*50 + 25)
		commitGroup(t, pair.A, group, map[string]map[int32]int64{topic: {0: at, 1: at + 1}})
		errs := make(chan error, 2)
		sums := make(chan *invocation.CheckpointSummary, 2)
		for _, a := range []*invocation.Invoker{a1, a2} {
			go func() {
				s, err := a.Checkpoint(ctx)
				sums <- s
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if s := <-sums; s.Flows[0].Fenced {
				fenced++
			}
		}
		// Whichever committed, a run now sees the group where it is.
		runCheckpoint(t, a1)
		cps := lastCheckpoints(checkpoints(t, pair.B, src), group, remote)
		if cps[0].Upstream != at || cps[1].Upstream != at+1 {
			t.Fatalf("round %d: checkpoints %+v, group at %d/%d", round, cps, at, at+1)
		}
	}
	prev := map[int32]offsetsync.Checkpoint{}
	for _, cp := range checkpoints(t, pair.B, src) {
		if p, ok := prev[cp.Partition]; ok && (cp.Downstream < p.Downstream || cp.Upstream < p.Upstream) {
			t.Errorf("checkpoint went back: %+v after %+v", cp, p)
		}
		prev[cp.Partition] = cp
	}
	t.Logf("%d of 12 overlapping runs were fenced", fenced)
}

// The checkpoint state forgets source partitions that are gone, so it
// does not grow with every topic ever replicated.
func testCheckpointStateForgets(t *testing.T, pair kafkatest.Pair) {
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "gone")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 30)
	a := aliasedApp(t, pair, src, tgt, src+"->"+tgt+".topics = "+topic)
	reconcileAndMirror(t, a)
	runCheckpoint(t, a)
	key := "index/" + topic + "/0"
	lastValue := func() (bool, []byte) {
		var found bool
		var v []byte
		for _, r := range kafkatest.ReadAll(t, pair.B, "mm2-mirrorless-checkpoint-state."+src+".internal") {
			if string(r.Key) == key {
				found, v = true, r.Value
			}
		}
		return found, v
	}
	if found, v := lastValue(); !found || v == nil {
		t.Fatalf("no index for %s in the state", topic)
	}
	if _, err := kafkatest.Admin(t, pair.A).DeleteTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runCheckpoint(t, a)
		if found, v := lastValue(); found && v == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index of deleted %s stays in the state", topic)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestCheckpointStateForgets(t *testing.T) { kafkatest.EachPair(t, testCheckpointStateForgets) }

// Hostile or foreign records on the internal topics the checkpoint
// function reads (offset syncs, its state, checkpoints) are skipped and
// counted; translation of everything else goes on.
func TestCheckpointSkipsHostileRecordsKfake(t *testing.T) {
	pair := kafkatest.Kfake(t)
	ctx := context.Background()
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "hostile")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
	group := kafkatest.Unique(t, "g")
	a := aliasedApp(t, pair, src, tgt, src+"->"+tgt+".topics = "+topic, "groups = "+group, "offset.lag.max = 0")
	reconcileAndMirror(t, a)
	b := kafkatest.Producer(t, pair.B)
	garbage := []*kgo.Record{
		{Topic: "mm2-offset-syncs." + src + ".internal", Key: []byte{0, 9, 'x'}, Value: []byte{1, 2}},                         // truncated
		{Topic: "mm2-offset-syncs." + src + ".internal", Key: nil, Value: nil},                                                // empty
		{Topic: "mm2-mirrorless-checkpoint-state." + src + ".internal", Key: []byte("position"), Value: []byte{9, 9}},         // unknown version
		{Topic: "mm2-mirrorless-checkpoint-state." + src + ".internal", Key: []byte("index/x"), Value: []byte{1}},             // bad key
		{Topic: "mm2-mirrorless-checkpoint-state." + src + ".internal", Key: []byte("group/" + group), Value: []byte{1, 200}}, // bad count
		{Topic: "mm2-mirrorless-checkpoint-state." + src + ".internal", Key: []byte("what"), Value: []byte("ever")},           // unknown key
		{Topic: src + ".checkpoints.internal", Key: []byte{0, 1}, Value: []byte{0, 7}},                                        // for failover
	}
	if err := b.ProduceSync(ctx, garbage...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commitGroup(t, pair.A, group, map[string]map[int32]int64{topic: {0: 20}})
	sum := runCheckpoint(t, a)
	if f := sum.Flows[0]; f.Skipped < 6 || f.Checkpoints != 1 {
		t.Fatalf("summary %+v: want the 6 bad records skipped and the checkpoint written", f)
	}
	cp := lastCheckpoints(checkpoints(t, pair.B, src), group, src+"."+topic)[0]
	if cp.Upstream != 20 || cp.Downstream != 20 {
		t.Errorf("checkpoint %+v, want 20 -> 20 (offset.lag.max 0: exact)", cp)
	}
	plan, err := invocation.Failover(ctx, a.Settings, a.Config, testLogger(t), group, false)
	if err != nil || len(plan.Partitions) != 1 || plan.Partitions[0].Offset != 20 {
		t.Fatalf("failover over a hostile checkpoint record: %v %+v", err, plan)
	}
}

// No translation before the offset syncs are read to the end (MM2's
// rule: a partial read could translate through a stale sync): a run whose
// time budget ends before it has read them saves how far it got, says it
// is catching up and writes no checkpoint; the next run translates.
func testCheckpointWaitsForSyncs(t *testing.T, pair kafkatest.Pair) {
	src, tgt := uniqueAlias("s"), uniqueAlias("t")
	topic := kafkatest.Unique(t, "wait")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 0, 200)
	group := kafkatest.Unique(t, "app")
	a := aliasedApp(t, pair, src, tgt, src+"->"+tgt+".topics = "+topic, src+"->"+tgt+".groups = "+group, "offset.lag.max = 10")
	reconcileAndMirror(t, a)
	commitGroup(t, pair.A, group, map[string]map[int32]int64{topic: {0: 150, 1: 50}})

	// A deadline that leaves no time budget at all: stopAt is now.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(a.Settings.SafetyMargin))
	sum, err := a.Checkpoint(ctx)
	cancel()
	if err != nil {
		t.Fatalf("checkpoint out of time: %v (%+v)", err, sum.Flows[0])
	}
	if f := sum.Flows[0]; !f.CatchingUp || f.Checkpoints != 0 {
		t.Fatalf("out of time before the syncs were read: catching_up %v, %d checkpoints; want true, 0", f.CatchingUp, f.Checkpoints)
	}
	if cps := checkpoints(t, pair.B, src); len(cps) != 0 {
		t.Fatalf("checkpoints written before the syncs were read to the end: %+v", cps)
	}

	sum = runCheckpoint(t, a)
	if f := sum.Flows[0]; f.CatchingUp || f.Checkpoints != 2 {
		t.Fatalf("next run: catching_up %v, %d checkpoints; want false, 2", f.CatchingUp, f.Checkpoints)
	}
}

func TestCheckpointWaitsForSyncs(t *testing.T) { kafkatest.EachPair(t, testCheckpointWaitsForSyncs) }

// emit.checkpoints.enabled = false leaves only heartbeats (and, as in MM2,
// no group offset sync); emit.heartbeats.enabled = false turns heartbeats
// off while checkpoints go on.
func TestCheckpointEmitSwitchesKfake(t *testing.T) {
	pair := kafkatest.Kfake(t)
	for _, tc := range []struct {
		name                     string
		checkpoints, heartbeats  bool
		wantCheckpoints, wantHBs bool
	}{
		{"no-checkpoints", false, true, false, true},
		{"no-heartbeats", true, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := uniqueAlias("s"), uniqueAlias("t")
			topic := kafkatest.Unique(t, "emit")
			kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
			kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
			group := kafkatest.Unique(t, "app")
			a := aliasedApp(t, pair, src, tgt, src+"->"+tgt+".topics = "+topic, src+"->"+tgt+".groups = "+group,
				"sync.group.offsets.enabled = true",
				"emit.checkpoints.enabled = "+strconv.FormatBool(tc.checkpoints),
				"emit.heartbeats.enabled = "+strconv.FormatBool(tc.heartbeats))
			reconcileAndMirror(t, a)
			commitGroup(t, pair.A, group, map[string]map[int32]int64{topic: {0: 20}})
			sum := runCheckpoint(t, a)
			if got := sum.Checkpoints > 0; got != tc.wantCheckpoints {
				t.Errorf("%d checkpoints written; want some: %v", sum.Checkpoints, tc.wantCheckpoints)
			}
			if got := sum.Heartbeats > 0; got != tc.wantHBs {
				t.Errorf("%d heartbeats written; want some: %v", sum.Heartbeats, tc.wantHBs)
			}
			// kfake answers GROUP_ID_NOT_FOUND for a group nobody committed
			// (Kafka: no offsets).
			fetched, err := kafkatest.Admin(t, pair.B).FetchOffsets(context.Background(), group)
			if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
				t.Fatal(err)
			}
			if synced := len(fetched) > 0; synced != tc.wantCheckpoints {
				t.Errorf("group offsets synced to the target: %v; want %v", synced, tc.wantCheckpoints)
			}
			hbs := 0
			for _, r := range kafkatest.ReadAll(t, pair.B, "heartbeats") {
				if h, err := offsetsync.DecodeHeartbeat(r.Key, r.Value); err == nil && h.Source == src && h.Target == tgt {
					hbs++
				}
			}
			if (hbs > 0) != tc.wantHBs {
				t.Errorf("%d heartbeats %s->%s in the target's heartbeats topic; want some: %v", hbs, src, tgt, tc.wantHBs)
			}
		})
	}
}
