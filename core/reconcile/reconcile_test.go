package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

func flow(t *testing.T, pair kafkatest.Pair, extra ...string) *config.Flow {
	t.Helper()
	cfg, err := config.Load(kafkatest.Properties(t, pair, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Flows[0]
}

func TestPlanAndApply(t *testing.T) {
	pair := kafkatest.Kfake(t)
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	for name, parts := range map[string]int32{"orders": 3, "payments": 2, "wide": 2, "skipme": 1, "__internal": 1} {
		kafkatest.CreateTopic(t, pair.A, name, parts, nil)
	}
	kafkatest.CreateTopic(t, pair.B, "A.payments", 1, nil) // must grow to 2
	kafkatest.CreateTopic(t, pair.B, "A.wide", 4, nil)     // more than the source: reported only
	f := flow(t, pair, "A->B.topics = .*", "A->B.topics.exclude = skip.*")
	ctx := context.Background()

	p, err := MakePlan(ctx, f, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, a := range p.Actions {
		got[a.Topic] = a
	}
	if a := got["mm2-offset-syncs.A.internal"]; a.Kind != CreateInternalTopic || a.Partitions != 1 || a.Configs["cleanup.policy"] != "compact" {
		t.Errorf("offset-syncs topic: %+v", a)
	}
	if a := got["A.orders"]; a.Kind != CreateTopic || a.Partitions != 3 || a.ReplicationFactor != 1 {
		t.Errorf("A.orders: %+v", a)
	}
	if a := got["A.payments"]; a.Kind != GrowPartitions || a.FromPartitions != 1 || a.Partitions != 2 {
		t.Errorf("A.payments: %+v", a)
	}
	for _, never := range []string{"A.skipme", "A.__internal", "A.wide"} {
		if _, ok := got[never]; ok {
			t.Errorf("planned a change to %s", never)
		}
	}
	for _, internal := range []string{"A.checkpoints.internal", "mm2-mirrorless-checkpoint-state.A.internal", "heartbeats"} {
		if a := got[internal]; a.Kind != CreateInternalTopic || a.Partitions != 1 || a.Configs["cleanup.policy"] != "compact" {
			t.Errorf("%s: %+v", internal, a)
		}
	}
	if len(p.Actions) != 6 || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "A.wide has 4 partitions") {
		t.Fatalf("plan = %+v", p)
	}

	// Planning changed nothing.
	td, _ := tgt.ListTopics(ctx)
	if td.Has("A.orders") || len(td["A.payments"].Partitions) != 1 {
		t.Fatal("making a plan changed the target")
	}

	if err := Apply(ctx, p, tgt); err != nil {
		t.Fatal(err)
	}
	td, _ = tgt.ListTopics(ctx)
	if len(td["A.orders"].Partitions) != 3 || len(td["A.payments"].Partitions) != 2 || len(td["A.wide"].Partitions) != 4 {
		t.Fatalf("after apply: %v", td)
	}
	// A second plan is empty.
	p, err = MakePlan(ctx, f, src, tgt)
	if err != nil || len(p.Actions) != 0 {
		t.Fatalf("second plan = %+v, %v", p, err)
	}
}

// One failed change is recorded and does not stop the others.
func TestApplyPerItemFailure(t *testing.T) {
	pair := kafkatest.Kfake(t)
	tgt := kafkatest.Admin(t, pair.B)
	p := &Plan{Actions: []Action{
		{Kind: CreateTopic, Topic: "bad", Partitions: 1, ReplicationFactor: 5, Status: "planned"}, // one broker
		{Kind: CreateTopic, Topic: "good", Partitions: 1, ReplicationFactor: 1, Status: "planned"},
	}}
	err := Apply(context.Background(), p, tgt)
	if err == nil || p.Actions[0].Status != "failed" || p.Actions[0].Error == "" || p.Actions[1].Status != "applied" {
		t.Fatalf("err %v, actions %+v", err, p.Actions)
	}
}

// Changes not started by the time budget are marked skipped, counted in
// the error, and not made; the next run plans them again.
func TestApplyStopsAtTimeBudget(t *testing.T) {
	pair := kafkatest.Kfake(t)
	kafkatest.CreateTopic(t, pair.A, "late", 1, nil)
	f := flow(t, pair, "A->B.topics = late")
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	p, err := MakePlan(context.Background(), f, src, tgt)
	if err != nil || len(p.Actions) == 0 {
		t.Fatalf("plan %+v, %v", p, err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	err = Apply(ended, p, tgt)
	if err == nil || !strings.Contains(err.Error(), "skipped at the time budget") {
		t.Fatalf("apply error = %v", err)
	}
	for _, a := range p.Actions {
		if a.Status != "skipped" {
			t.Errorf("%s %s: status %s", a.Kind, a.Topic, a.Status)
		}
	}
	again, err := MakePlan(context.Background(), f, src, tgt)
	if err != nil || len(again.Actions) != len(p.Actions) {
		t.Fatalf("the next plan has %d actions (%v), want the %d skipped ones", len(again.Actions), err, len(p.Actions))
	}
}

// emit.checkpoints.enabled=False turns off the checkpoint topics here as it
// does in the checkpoint function (reconcile compared the raw text with
// "false" and created them anyway); heartbeats likewise.
func TestInternalTopicsFollowEmitSwitches(t *testing.T) {
	pair := kafkatest.Pair{A: "127.0.0.1:1", B: "127.0.0.1:2"} // only parsed, never dialled
	topics := func(extra ...string) []string {
		var out []string
		for _, a := range internalTopics(flow(t, pair, extra...)) {
			out = append(out, a.Topic)
		}
		return out
	}
	all := strings.Join(topics(), ",")
	if all != "mm2-offset-syncs.A.internal,A.checkpoints.internal,mm2-mirrorless-checkpoint-state.A.internal,heartbeats" {
		t.Fatalf("defaults: %s", all)
	}
	if got := strings.Join(topics("emit.checkpoints.enabled = False", "emit.heartbeats.enabled = FALSE"), ","); got != "mm2-offset-syncs.A.internal" {
		t.Errorf("emit switches False: %s, want the offset-syncs topic only", got)
	}
}
