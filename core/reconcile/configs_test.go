package reconcile

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// override returns a topic's value for key when it is a topic override.
func override(t *testing.T, adm *kadm.Client, topic, key string) (string, bool) {
	t.Helper()
	cfgs, err := describeConfigs(context.Background(), adm, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfgs[topic][key]
	if !ok || c.Source != kmsg.ConfigSourceDynamicTopicConfig || c.Value == nil {
		return "", false
	}
	return *c.Value, true
}

// settled waits until the topic's override for key is want (nil: none).
// A broker answers DescribeConfigs from its metadata cache, which follows
// the controller's commit of an alter by a moment.
func settled(t *testing.T, adm *kadm.Client, topic, key string, want *string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok := override(t, adm, topic, key)
		if (want == nil && !ok) || (want != nil && ok && v == *want) {
			return
		}
		if time.Now().After(deadline) {
			return // the assertion that follows reports it
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setConfig(t *testing.T, adm *kadm.Client, topic, key string, value *string) {
	t.Helper()
	op := kadm.SetConfig
	if value == nil {
		op = kadm.DeleteConfig
	}
	rs, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Op: op, Name: key, Value: value}}, topic)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		t.Fatalf("alter %s %s: %v", topic, key, err)
	}
	settled(t, adm, topic, key, value)
}

// plan makes and applies the flow's plan and returns its actions for topic.
func planApply(t *testing.T, pair kafkatest.Pair, topic string, extra ...string) []Action {
	t.Helper()
	f := flow(t, pair, append([]string{"A->B.topics = " + topic}, extra...)...)
	ctx := context.Background()
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	p, err := MakePlan(ctx, f, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, p, tgt); err != nil {
		t.Fatalf("apply: %v (%+v)", err, p.Actions)
	}
	// Other tests share a real pair: heartbeats topics they create are
	// replicated whatever the filter says (as in MM2), so keep only this
	// topic's actions.
	var out []Action
	for _, a := range p.Actions {
		if a.Topic == "A."+topic {
			out = append(out, a)
		}
	}
	return out
}

func testConfigSync(t *testing.T, pair kafkatest.Pair) {
	topic := kafkatest.Unique(t, "cfg")
	remote := "A." + topic
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.A, topic, 1, map[string]*string{
		"retention.ms":           kadm.StringPtr("123456789"),
		"cleanup.policy":         kadm.StringPtr("compact"),
		"min.insync.replicas":    kadm.StringPtr("1"),             // excluded
		"message.timestamp.type": kadm.StringPtr("LogAppendTime"), // excluded
	})

	// Created with the copyable overrides only.
	acts := planApply(t, pair, topic)
	if len(acts) != 1 || acts[0].Kind != CreateTopic {
		t.Fatalf("first plan: %+v", acts)
	}
	settled(t, tgt, remote, "retention.ms", kadm.StringPtr("123456789"))
	if v, _ := override(t, tgt, remote, "retention.ms"); v != "123456789" {
		t.Errorf("retention.ms on the new remote topic = %q", v)
	}
	if v, _ := override(t, tgt, remote, "cleanup.policy"); v != "compact" {
		t.Errorf("cleanup.policy on the new remote topic = %q", v)
	}
	for _, k := range []string{"min.insync.replicas", "message.timestamp.type"} {
		if v, ok := override(t, tgt, remote, k); ok {
			t.Errorf("excluded %s was copied: %q", k, v)
		}
	}
	if acts := planApply(t, pair, topic); len(acts) != 0 {
		t.Fatalf("plan right after creation is not empty: %+v", acts)
	}

	// Changed on the source: SET with old and new values.
	setConfig(t, src, topic, "retention.ms", kadm.StringPtr("987654321"))
	// Edited on the target: an excluded key stays; a synced key is put back.
	setConfig(t, tgt, remote, "min.insync.replicas", kadm.StringPtr("1"))
	setConfig(t, tgt, remote, "retention.bytes", kadm.StringPtr("1048576"))
	acts = planApply(t, pair, topic)
	if len(acts) != 1 || acts[0].Kind != AlterConfigs {
		t.Fatalf("plan after changes: %+v", acts)
	}
	changes := acts[0].Changes
	if !slices.ContainsFunc(changes, func(c ConfigChange) bool {
		return c.Key == "retention.ms" && c.Op == "set" && *c.Old == "123456789" && *c.New == "987654321"
	}) {
		t.Errorf("no retention.ms set 123456789 -> 987654321 in %+v", changes)
	}
	if !slices.ContainsFunc(changes, func(c ConfigChange) bool { return c.Key == "retention.bytes" && c.Op == "delete" }) {
		t.Errorf("the target's own retention.bytes is not reverted: %+v", changes)
	}
	if slices.ContainsFunc(changes, func(c ConfigChange) bool { return c.Key == "min.insync.replicas" }) {
		t.Errorf("excluded min.insync.replicas planned: %+v", changes)
	}
	settled(t, tgt, remote, "retention.ms", kadm.StringPtr("987654321"))
	settled(t, tgt, remote, "retention.bytes", nil)
	if v, _ := override(t, tgt, remote, "retention.ms"); v != "987654321" {
		t.Errorf("retention.ms after sync = %q", v)
	}
	if _, ok := override(t, tgt, remote, "retention.bytes"); ok {
		t.Error("retention.bytes override still on the target")
	}
	if v, ok := override(t, tgt, remote, "min.insync.replicas"); !ok || v != "1" {
		t.Errorf("the target's min.insync.replicas was touched: %q %v", v, ok)
	}

	// Deleted on the source: the target reverts to its own default.
	setConfig(t, src, topic, "retention.ms", nil)
	planApply(t, pair, topic)
	settled(t, tgt, remote, "retention.ms", nil)
	if v, ok := override(t, tgt, remote, "retention.ms"); ok {
		t.Errorf("retention.ms still overridden on the target: %q", v)
	}

	// use.defaults.from=source: the source's default is written.
	setConfig(t, tgt, remote, "retention.bytes", kadm.StringPtr("2097152"))
	acts = planApply(t, pair, topic, "A->B.use.defaults.from = source")
	settled(t, tgt, remote, "retention.bytes", kadm.StringPtr("-1"))
	if v, ok := override(t, tgt, remote, "retention.bytes"); !ok || v != "-1" {
		t.Errorf("use.defaults.from=source: retention.bytes = %q (override %v), want the source default -1; plan %+v", v, ok, acts)
	}

	// sync.topic.configs.enabled=false: nothing planned.
	setConfig(t, src, topic, "retention.ms", kadm.StringPtr("5555555"))
	if acts := planApply(t, pair, topic, "sync.topic.configs.enabled = false"); len(acts) != 0 {
		t.Errorf("config sync disabled, yet planned %+v", acts)
	}
}

func TestConfigSync(t *testing.T) { kafkatest.EachPair(t, testConfigSync) }
