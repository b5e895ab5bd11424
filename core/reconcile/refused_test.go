package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// A source topic whose remote name Kafka would refuse is reported with the
// reason, and the other topics are planned as usual.
func TestUnmappableTopicName(t *testing.T) {
	pair := kafkatest.Kfake(t)
	long := strings.Repeat("x", 248) // fits on the source; "A." makes 250
	kafkatest.CreateTopic(t, pair.A, long, 1, nil)
	kafkatest.CreateTopic(t, pair.A, "fine", 1, nil)
	f := flow(t, pair, "A->B.topics = .*")
	p, err := MakePlan(context.Background(), f, kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "is 250 characters long; Kafka allows 249") }) {
		t.Errorf("notes %q do not explain the long name", p.Notes)
	}
	if !slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Topic == "A.fine" }) {
		t.Errorf("the other topic was not planned: %+v", p.Actions)
	}
	// A separator Kafka does not allow in names.
	f = flow(t, pair, "A->B.topics = fine", "replication.policy.separator = :")
	p, err = MakePlan(context.Background(), f, kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B))
	if err != nil || len(p.Notes) == 0 || !strings.Contains(p.Notes[0], `contains ':'`) {
		t.Errorf("separator ':' not reported: %v %q", err, p.Notes)
	}
}

// A source config the target broker rejects fails that one topic, with
// the broker's reason, and does not stop the others. The source is kfake,
// which accepts any config; the target is real Kafka, which validates.
func TestRejectedConfigIsPerItem(t *testing.T) {
	real := kafkatest.Real(t)
	fake := kafkatest.Kfake(t)
	pair := kafkatest.Pair{A: fake.A, B: real.B}
	bad, good := kafkatest.Unique(t, "badcfg"), kafkatest.Unique(t, "goodcfg")
	kafkatest.CreateTopic(t, pair.A, bad, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")})
	kafkatest.CreateTopic(t, pair.A, good, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	f := flow(t, pair, "A->B.topics = "+bad+", "+good)
	ctx := context.Background()
	tgt := kafkatest.Admin(t, pair.B)
	p, err := MakePlan(ctx, f, kafkatest.Admin(t, pair.A), tgt)
	if err != nil {
		t.Fatal(err)
	}
	err = Apply(ctx, p, tgt)
	if err == nil {
		t.Fatal("apply reported no failure")
	}
	for _, a := range p.Actions {
		switch a.Topic {
		case "A." + bad:
			if a.Status != "failed" || !strings.Contains(a.Error, "retention.ms") && !strings.Contains(strings.ToLower(a.Error), "invalid") {
				t.Errorf("bad topic: %+v", a)
			}
		case "A." + good:
			if a.Status != "applied" {
				t.Errorf("good topic: %+v", a)
			}
		}
	}
}
