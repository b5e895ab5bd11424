package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A source topic that grows partitions is followed: reconcile grows the
// remote topic, mirror copies the new partitions.
func TestPartitionGrowth(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "grow")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic))
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, topic, 2, 0, 100)
	mustInvoke(t, "reconcile", environ)
	drain(t, environ)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kafkatest.Admin(t, pair.A).UpdatePartitions(ctx, 5, topic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // producer metadata
	prod2 := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod2, topic, 5, 100, 200)
	s := mustInvoke(t, "reconcile", environ)
	if s["applied"].(float64) != 1 {
		t.Fatalf("reconcile applied %v changes, want 1 (grow): %v", s["applied"], s)
	}
	drain(t, environ)
	td, err := kafkatest.Admin(t, pair.B).ListTopics(ctx, "A."+topic)
	if err != nil || len(td["A."+topic].Partitions) != 5 {
		t.Fatalf("remote partitions = %d (%v), want 5", len(td["A."+topic].Partitions), err)
	}
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if err := kafkatest.SameRecords(kafkatest.ReadAll(t, pair.A, topic), dst); err != nil {
		t.Fatal(err)
	}
}

// MIRROR_DRY_RUN=true prints the plan and changes nothing (the target is
// described before and after); the real run then applies exactly that plan.
func TestReconcileDryRun(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "dryrun")
	existing := topic + "-cfg"
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	kafkatest.CreateTopic(t, pair.A, existing, 1, nil)
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+topic+".*"))
	mustInvoke(t, "reconcile", environ) // both remote topics exist now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	// Pending: a config change on the source, and a new topic.
	if rs, err := src.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, existing); err != nil || rs[0].Err != nil {
		t.Fatal(err, rs)
	}
	kafkatest.CreateTopic(t, pair.A, topic+"-new", 2, nil)
	time.Sleep(500 * time.Millisecond) // the source's metadata cache
	describe := func() string {
		td, err := tgt.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := tgt.DescribeTopicConfigs(ctx, "A."+topic, "A."+existing)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, n := range td.Names() {
			if strings.Contains(n, topic) {
				fmt.Fprintf(&b, "%s:%d ", n, len(td[n].Partitions))
			}
		}
		for _, r := range rc {
			for _, c := range r.Configs {
				fmt.Fprintf(&b, "%s/%s=%s(%v) ", r.Name, c.Key, c.MaybeValue(), c.Source)
			}
		}
		return b.String()
	}
	before := describe()
	s := mustInvoke(t, "reconcile", append(environ, "MIRROR_DRY_RUN=true"))
	if s["dry_run"] != true || s["applied"].(float64) != 0 || s["planned"].(float64) < 2 {
		t.Fatalf("dry run summary: %v", s)
	}
	if after := describe(); after != before {
		t.Fatalf("the dry run changed the target:\nbefore %s\nafter  %s", before, after)
	}
	planned := s["planned"].(float64)
	s = mustInvoke(t, "reconcile", environ)
	if s["applied"].(float64)+countExists(s) != planned {
		t.Fatalf("applied %v of %v planned changes: %v", s["applied"], planned, s)
	}
	td, err := tgt.ListTopics(ctx, "A."+topic+"-new")
	if err != nil || len(td["A."+topic+"-new"].Partitions) != 2 {
		t.Fatalf("new remote topic after the real run: %v %v", td, err)
	}
}

// countExists counts planned changes that someone else made meanwhile
// (the shared offset-syncs topic, created by a parallel test).
func countExists(summary map[string]any) float64 {
	var n float64
	for _, p := range summary["plans"].([]any) {
		for _, a := range p.(map[string]any)["actions"].([]any) {
			if a.(map[string]any)["status"] == "exists" {
				n++
			}
		}
	}
	return n
}

// Each reconcile re-reads the source: a topic created between two runs
// that matches the flow's regex is created remotely and mirrored by the
// next mirror run; one matching topics.exclude never is.
func TestNewTopicDiscoveredExcludedNot(t *testing.T) {
	pair := kafkatest.Real(t)
	base := kafkatest.Unique(t, "disc")
	environ := env(kafkatest.Properties(t, pair, "A->B.topics = "+base+"-.*", "A->B.topics.exclude = .*-private"))
	kafkatest.CreateTopic(t, pair.A, base+"-first", 1, nil)
	mustInvoke(t, "reconcile", environ)

	kafkatest.CreateTopic(t, pair.A, base+"-second", 2, nil)
	kafkatest.CreateTopic(t, pair.A, base+"-private", 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), base+"-second", 2, 0, 30)
	mustInvoke(t, "reconcile", environ)
	drain(t, environ)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := kafkatest.Admin(t, pair.B).ListTopics(ctx, "A."+base+"-first", "A."+base+"-second", "A."+base+"-private")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"A." + base + "-first": true, "A." + base + "-second": true, "A." + base + "-private": false} {
		if got := td.Has(name) && td[name].Err == nil; got != want {
			t.Errorf("%s exists on B: %v, want %v", name, got, want)
		}
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+base+"-second"), 2, 30); err != nil {
		t.Fatal(err)
	}
}
