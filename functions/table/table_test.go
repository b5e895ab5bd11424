package table

import (
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

func ptr(s string) *string { return &s }

// Each table carries what a person acts on: the change and its status, the
// offsets a group resumes at, what adoption found and why.
func TestTables(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*strings.Builder)
		want  []string
	}{
		{"plans", func(b *strings.Builder) {
			Plans(b, []*reconcile.Plan{{Flow: "A->B", Actions: []reconcile.Action{
				{Kind: reconcile.CreateTopic, Topic: "A.orders", Partitions: 3, ReplicationFactor: -1, Configs: map[string]string{"retention.ms": "1000"}, Status: "applied"},
				{Kind: reconcile.AlterConfigs, Topic: "A.users", Changes: []reconcile.ConfigChange{{Key: "cleanup.policy", Old: ptr("delete"), New: ptr("compact")}}, Status: "failed", Error: "denied"},
			}, Notes: []string{"something to know"}}}, true)
		}, []string{"flow A->B (dry run: nothing was changed)", "3 partitions, broker's default replication factor", "retention.ms = 1000",
			"cleanup.policy: delete -> compact", "failed: denied", "note: something to know"}},
		{"one partition", func(b *strings.Builder) {
			Plans(b, []*reconcile.Plan{{Flow: "A->B", Actions: []reconcile.Action{
				{Kind: reconcile.CreateInternalTopic, Topic: "heartbeats", Partitions: 1, ReplicationFactor: 3, Status: "applied"},
			}}}, false)
		}, []string{"1 partition, replication factor 3"}},
		{"empty plan", func(b *strings.Builder) { Plans(b, []*reconcile.Plan{{Flow: "A->B"}}, false) },
			[]string{"no changes: the target matches the source"}},
		{"failover", func(b *strings.Builder) {
			Failover(b, &checkpoint.FailoverPlan{Flow: "A->B", Group: "g", TargetState: "Empty", Partitions: []checkpoint.Translation{
				{Topic: "A.orders", Partition: 1, Upstream: 42, Offset: 40, Current: -1, End: 50, ReReadMax: 2, Action: "commit"}}})
		}, []string{"flow A->B, group g (on the target: Empty): plan", "A.orders", "42", "40", "commit"}},
		{"adoption", func(b *strings.Builder) {
			Adoption(b, &invocation.AdoptSummary{Applied: true, Flows: map[string][]mirror.Adoption{"A->B": {
				{Topic: "orders", Partition: 0, MM2Offset: -1, Next: -1, RemoteLast: 7, Action: "refuse", Reason: "no offset"}}}})
		}, []string{"flow A->B: taking over from MirrorMaker 2: applied", "orders", "refuse", "no offset"}},
	} {
		var b strings.Builder
		tc.write(&b)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: %q missing from\n%s", tc.name, w, b.String())
			}
		}
	}
}

// TestEmptyPlanHasNoHeader: a reconcile plan with nothing to change, or a
// failover plan with no checkpoints, says so and prints no column header
// for rows that do not exist.
func TestEmptyPlanHasNoHeader(t *testing.T) {
	var b strings.Builder
	Plans(&b, []*reconcile.Plan{{Flow: "A->B"}}, true)
	if got, want := b.String(), "flow A->B (dry run: nothing was changed)\n  no changes: the target matches the source\n\n"; got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	b.Reset()
	Failover(&b, &checkpoint.FailoverPlan{Flow: "A->B", Group: "g", TargetState: "Dead"})
	if got, want := b.String(), "flow A->B, group g (on the target: Dead): plan (nothing changed; add -apply to commit)\n  no checkpoints for this group: is it selected by groups/groups.exclude, and has the checkpoint function run?\n"; got != want {
		t.Errorf("failover: got\n%q\nwant\n%q", got, want)
	}
}

// TestSizing: mirror size's lines for people carry the backlog, the
// invocations a tick runs and the settings that decide them.
func TestSizing(t *testing.T) {
	var b strings.Builder
	Sizing(&b, fanout.Sizing{Backlog: fanout.Backlog{Records: 3186, Partitions: 2}, Invocations: 3, Limit: 10, WindowMs: 45000, RecordsPerSecond: 50000})
	for _, want := range []string{"3186 offsets behind on 2 partitions", "one tick runs 3 invocations at once", "at most 10: MIRROR_MAX_CONCURRENCY", "within 45s at 50000 records/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("%q missing from\n%s", want, b.String())
		}
	}
}
