// Package kafkatest gives tests a pair of clusters and the helpers to fill
// and read them: two in-process kfake clusters (tier 2), or the real Apache
// Kafka pair that scripts/kafka-pair.sh starts (tier 3).
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Pair is two clusters' bootstrap addresses.
type Pair struct {
	A, B string
	Real bool
}

// Kfake starts two single-broker in-process clusters for the test.
func Kfake(t testing.TB) Pair {
	t.Helper()
	p, _, _ := KfakeClusters(t)
	return p
}

// KfakeClusters is Kfake, also returning the clusters for fault injection;
// options apply to cluster B (the target).
func KfakeClusters(t testing.TB, bOpts ...kfake.Opt) (Pair, *kfake.Cluster, *kfake.Cluster) {
	t.Helper()
	a, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID("A"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID("B")}, bOpts...)...)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return Pair{A: a.ListenAddrs()[0], B: b.ListenAddrs()[0]}, a, b
}

// Real returns the real Kafka pair named by MIRROR_TEST_A and
// MIRROR_TEST_B, checking that both answer. Without them the test is
// skipped, except under CI=true, where it fails: the real tier must never
// pass by not running.
func Real(t testing.TB) Pair {
	t.Helper()
	a, b := os.Getenv("MIRROR_TEST_A"), os.Getenv("MIRROR_TEST_B")
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("real Kafka pair required under CI: %s", msg)
		}
		t.Skipf("real Kafka pair not available (%s); start it with scripts/kafka-pair.sh start", msg)
	}
	if a == "" || b == "" {
		missing("MIRROR_TEST_A/MIRROR_TEST_B unset")
	}
	for _, addr := range []string{a, b} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			missing(err.Error())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = cl.Ping(ctx)
		cancel()
		cl.Close()
		if err != nil {
			missing(fmt.Sprintf("%s does not answer: %v", addr, err))
		}
	}
	return Pair{A: a, B: b, Real: true}
}

// Admin returns an admin client closed at the end of the test.
func Admin(t testing.TB, addr string) *kadm.Client {
	t.Helper()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(addr), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return adm
}

// CreateTopic creates a topic with rf 1.
func CreateTopic(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := Admin(t, addr)
	r, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// CreateTopics returns once the controller has the topic; the broker
	// serving metadata may learn of it a little later (seen under load: a
	// reconcile run right after listed no such topic and the test found
	// nothing copied). Tests go on once the topic is listed with a leader
	// for every partition.
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := td[topic]; ok && d.Err == nil && len(d.Partitions) == int(partitions) {
				leaders := true
				for _, p := range d.Partitions {
					leaders = leaders && p.Err == nil && p.Leader >= 0
				}
				if leaders {
					return
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("topic %s created but not listed with leaders within 30 s: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Unique returns a name unique to this test run, so tests on a shared real
// pair never see each other's topics.
func Unique(t testing.TB, base string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%s-%d", base, strings.ToLower(name), time.Now().UnixNano()%1_000_000_000)
}

// Producer returns a plain producer (manual partitioning) closed at the end.
func Producer(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ReadAll reads every committed record of a topic (read_committed). It
// first waits until no transaction is open on the topic (last stable offset
// equals high watermark): a commit is acknowledged once decided, and its
// markers, which move the last stable offset, are written just after. A
// transaction still open after 60s fails the test: nothing may be left open.
func ReadAll(t testing.TB, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := Admin(t, addr)
	var ends kadm.ListedOffsets
	for settled := time.Now().Add(60 * time.Second); ; {
		var err error
		ends, err = adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("list last stable offsets of %s: %v", topic, err)
		}
		hwms, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("list end offsets of %s: %v", topic, err)
		}
		open := ""
		ends.Each(func(o kadm.ListedOffset) {
			if h, _ := hwms.Lookup(o.Topic, o.Partition); h.Offset != o.Offset {
				open = fmt.Sprintf("%s/%d: last stable offset %d, high watermark %d", o.Topic, o.Partition, o.Offset, h.Offset)
			}
		})
		if open == "" {
			break
		}
		if time.Now().After(settled) {
			t.Fatalf("a transaction stays open: %s", open)
		}
		time.Sleep(100 * time.Millisecond)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		s, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset > s.Offset {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: timed out with partitions %v unfinished", topic, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("read %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok {
				if !r.Attrs.IsControl() && r.Offset < end {
					out = append(out, r)
				}
				if r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			}
		})
	}
	return out
}

// Properties writes an MM2 properties file for the pair (A->B) and
// returns its path. Extra lines are appended.
func Properties(t testing.TB, p Pair, extra ...string) string {
	t.Helper()
	return PropertiesFor(t, p, "A", "B", extra...)
}

// PropertiesFor is Properties with the cluster aliases source (for p.A)
// and target (for p.B): the flow source->target. A test on the shared
// real pair that changes a flow's work groups (its assignment, one per
// flow on the target) takes aliases of its own, so that tests of other
// packages copying A->B at the same time are not fenced by it.
func PropertiesFor(t testing.TB, p Pair, source, target string, extra ...string) string {
	t.Helper()
	lines := []string{
		"clusters = " + source + ", " + target,
		source + ".bootstrap.servers = " + p.A,
		target + ".bootstrap.servers = " + p.B,
		source + "->" + target + ".enabled = true",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		// Tests share the pair; the checkpoint function writes heartbeats
		// on both clusters. Copies of them would land in every test's
		// flow (MM2 replicates heartbeats whatever the topic filter says).
		"heartbeats.replication.enabled = false",
	}
	lines = append(lines, extra...)
	path := t.TempDir() + "/mm2.properties"
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
