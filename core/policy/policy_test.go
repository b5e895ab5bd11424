package policy

import "testing"

const null = "<null>"

func src(p Policy, t string) string {
	if s, ok := p.TopicSource(t); ok {
		return s
	}
	return null
}

func up(p Policy, t string) string {
	if s, ok := p.UpstreamTopic(t); ok {
		return s
	}
	return null
}

// Golden rows computed from Kafka 4.1's DefaultReplicationPolicy and
// IdentityReplicationPolicy (Java String.split semantics: a leading empty
// part is kept, trailing ones dropped).
func TestPolicyGolden(t *testing.T) {
	dot := NewDefault(".", true)
	under := NewDefault("_", true)
	id := IdentityPolicy{DefaultPolicy: dot, SourceAlias: "A"}
	for _, tc := range []struct {
		p                       Policy
		topic                   string
		src, up, orig, fmt      string
		internal, heartbeat, cp bool
	}{
		{dot, "orders", null, null, "orders", "A.orders", false, false, false},
		{dot, "A.orders", "A", "orders", "orders", "A.A.orders", false, false, false},
		{dot, "A.B.orders", "A", "B.orders", "orders", "A.A.B.orders", false, false, false},
		{dot, "A.", null, null, "A.", "A.A.", false, false, false},
		{dot, "A..x", "A", ".x", "x", "A.A..x", false, false, false},
		{dot, ".x", "", "x", "x", "A..x", true, false, false},
		{dot, "..x", "", ".x", "x", "A...x", true, false, false},
		{dot, ".", null, null, ".", "A..", true, false, false},
		{dot, "", null, null, "", "A.", false, false, false},
		{dot, "heartbeats", null, null, "heartbeats", "A.heartbeats", false, true, false},
		{dot, "B.heartbeats", "B", "heartbeats", "heartbeats", "A.B.heartbeats", false, true, false},
		{dot, "A.B.heartbeats", "A", "B.heartbeats", "heartbeats", "A.A.B.heartbeats", false, true, false},
		{dot, "myheartbeats", null, null, "myheartbeats", "A.myheartbeats", false, false, false},
		{dot, "heartbeats.x", "heartbeats", "x", "x", "A.heartbeats.x", false, false, false},
		{dot, "__consumer_offsets", null, null, "__consumer_offsets", "A.__consumer_offsets", true, false, false},
		{dot, "mm2-offset-syncs.B.internal", "mm2-offset-syncs", "B.internal", "internal", "A.mm2-offset-syncs.B.internal", true, false, false},
		{dot, "mm2-offsets.B.internal", "mm2-offsets", "B.internal", "internal", "A.mm2-offsets.B.internal", true, false, false},
		{dot, "A.checkpoints.internal", "A", "checkpoints.internal", "internal", "A.A.checkpoints.internal", true, false, true},
		{dot, "checkpoints.internal", "checkpoints", "internal", "internal", "A.checkpoints.internal", false, false, false},
		{dot, "foo.internal", "foo", "internal", "internal", "A.foo.internal", false, false, false},
		{dot, "foo-internal", null, null, "foo-internal", "A.foo-internal", false, false, false},
		{dot, "mm2.internal", "mm2", "internal", "internal", "A.mm2.internal", true, false, false},
		{dot, "B.mm2-offsets.A.internal", "B", "mm2-offsets.A.internal", "internal", "A.B.mm2-offsets.A.internal", false, false, false},
		{dot, "_schemas", null, null, "_schemas", "A._schemas", false, false, false},
		{under, "A_orders", "A", "orders", "orders", "A_A_orders", false, false, false},
		{under, "B.orders", null, null, "B.orders", "A_B.orders", false, false, false},
		{under, "my_topic", "my", "topic", "topic", "A_my_topic", false, false, false},
		{under, "A__x", "A", "_x", "x", "A_A__x", false, false, false},
		{under, "__consumer_offsets", "", "_consumer_offsets", "offsets", "A___consumer_offsets", true, false, false},
		{under, "_schemas", "", "schemas", "schemas", "A__schemas", false, false, false},
		{under, "B.heartbeats", null, null, "B.heartbeats", "A_B.heartbeats", false, false, false},
		{under, "mm2-offset-syncs_B_internal", "mm2-offset-syncs", "B_internal", "internal", "A_mm2-offset-syncs_B_internal", true, false, false},
		{under, "mm2-offset-syncs.B.internal", null, null, "mm2-offset-syncs.B.internal", "A_mm2-offset-syncs.B.internal", false, false, false},
		{under, "A_checkpoints_internal", "A", "checkpoints_internal", "internal", "A_A_checkpoints_internal", true, false, true},
		{id, "orders", "A", "orders", "orders", "orders", false, false, false},
		{id, "B.orders", "A", "B.orders", "B.orders", "B.orders", false, false, false},
		{id, "heartbeats", null, null, "heartbeats", "A.heartbeats", false, true, false},
		{id, "B.heartbeats", "B", "heartbeats", "heartbeats", "A.B.heartbeats", false, true, false},
		{id, "myheartbeats", null, null, "myheartbeats", "A.myheartbeats", false, false, false},
		{id, "mm2-offset-syncs.B.internal", "A", "mm2-offset-syncs.B.internal", "mm2-offset-syncs.B.internal", "mm2-offset-syncs.B.internal", true, false, false},
	} {
		if got := src(tc.p, tc.topic); got != tc.src {
			t.Errorf("%T TopicSource(%q) = %q, want %q", tc.p, tc.topic, got, tc.src)
		}
		if got := up(tc.p, tc.topic); got != tc.up {
			t.Errorf("%T UpstreamTopic(%q) = %q, want %q", tc.p, tc.topic, got, tc.up)
		}
		if got := tc.p.OriginalTopic(tc.topic); got != tc.orig {
			t.Errorf("%T OriginalTopic(%q) = %q, want %q", tc.p, tc.topic, got, tc.orig)
		}
		if got := tc.p.FormatRemoteTopic("A", tc.topic); got != tc.fmt {
			t.Errorf("%T FormatRemoteTopic(A, %q) = %q, want %q", tc.p, tc.topic, got, tc.fmt)
		}
		if got := tc.p.IsInternalTopic(tc.topic); got != tc.internal {
			t.Errorf("%T IsInternalTopic(%q) = %v, want %v", tc.p, tc.topic, got, tc.internal)
		}
		if got := tc.p.IsHeartbeatsTopic(tc.topic); got != tc.heartbeat {
			t.Errorf("%T IsHeartbeatsTopic(%q) = %v, want %v", tc.p, tc.topic, got, tc.heartbeat)
		}
		if got := tc.p.IsCheckpointsTopic(tc.topic); got != tc.cp {
			t.Errorf("%T IsCheckpointsTopic(%q) = %v, want %v", tc.p, tc.topic, got, tc.cp)
		}
	}
}

func TestInternalTopicNames(t *testing.T) {
	for _, tc := range []struct {
		p                 DefaultPolicy
		syncs, checkpoint string
	}{
		{NewDefault(".", true), "mm2-offset-syncs.B.internal", "A.checkpoints.internal"},
		{NewDefault("_", true), "mm2-offset-syncs_B_internal", "A_checkpoints_internal"},
		{NewDefault("_", false), "mm2-offset-syncs.B.internal", "A.checkpoints.internal"},
	} {
		if got := tc.p.OffsetSyncsTopic("B"); got != tc.syncs {
			t.Errorf("sep %q: OffsetSyncsTopic(B) = %q, want %q", tc.p.Separator, got, tc.syncs)
		}
		if got := tc.p.CheckpointsTopic("A"); got != tc.checkpoint {
			t.Errorf("sep %q: CheckpointsTopic(A) = %q, want %q", tc.p.Separator, got, tc.checkpoint)
		}
	}
}

func mustFilter(t *testing.T, inc, exc []string) Filter {
	t.Helper()
	i, err := CompilePattern(inc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := CompilePattern(exc)
	if err != nil {
		t.Fatal(err)
	}
	return Filter{Include: i, Exclude: e}
}

// MM2 4.1's worked examples for flow A->B with default settings.
func TestShouldReplicateDefaults(t *testing.T) {
	rules := FlowRules{Source: "A", Target: "B", Policy: NewDefault(".", true),
		Topics: mustFilter(t, DefaultTopics, DefaultTopicsExclude), ReplicateHeartbeats: true}
	for topic, want := range map[string]string{
		"orders": "A.orders", "B.orders": "", "A.orders": "A.A.orders", "C.orders": "A.C.orders",
		"A.B.orders": "", "heartbeats": "A.heartbeats", "B.heartbeats": "", "C.heartbeats": "A.C.heartbeats",
		"__consumer_offsets": "", "mm2-offset-syncs.B.internal": "", "mm2-offsets.B.internal": "",
		"A.checkpoints.internal": "", "foo.internal": "A.foo.internal", "foo-internal": "A.foo-internal",
		".hidden": "", "x.replica": "", "_schemas": "A._schemas",
	} {
		got := ""
		if rules.ShouldReplicate(topic) {
			got = rules.RemoteTopic(topic)
		}
		if got != want {
			t.Errorf("A->B %q: replicated as %q, want %q", topic, got, want)
		}
	}
}

func TestShouldReplicateVariants(t *testing.T) {
	dot := NewDefault(".", true)
	for _, tc := range []struct {
		name  string
		rules FlowRules
		topic string
		want  bool
	}{
		{"heartbeats pass a narrow filter", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, []string{"orders"}, nil), ReplicateHeartbeats: true}, "heartbeats", true},
		{"unless heartbeats.replication.enabled=false", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, []string{"orders"}, nil)}, "heartbeats", false},
		{"empty topics list matches nothing", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, nil, nil)}, "orders", false},
		{"exclude beats include", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, []string{"ord.*"}, []string{"orders"})}, "orders", false},
		{"whole name must match", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, []string{"ord"}, nil)}, "orders", false},
		{"list entries are alternatives", FlowRules{Target: "B", Policy: dot, Topics: mustFilter(t, []string{" a ", "ord.*"}, nil)}, "orders", true},
		{"identity: no cycle protection", FlowRules{Target: "B", Policy: IdentityPolicy{DefaultPolicy: dot, SourceAlias: "A"}, Topics: mustFilter(t, DefaultTopics, nil)}, "B.orders", true},
		{"identity: heartbeats still cycle-checked", FlowRules{Target: "B", Policy: IdentityPolicy{DefaultPolicy: dot, SourceAlias: "A"}, Topics: mustFilter(t, DefaultTopics, nil), ReplicateHeartbeats: true}, "B.heartbeats", false},
		{"separator _: B_orders is a cycle", FlowRules{Target: "B", Policy: NewDefault("_", true), Topics: mustFilter(t, DefaultTopics, DefaultTopicsExclude)}, "B_orders", false},
		{"separator _: B.orders is not", FlowRules{Target: "B", Policy: NewDefault("_", true), Topics: mustFilter(t, DefaultTopics, DefaultTopicsExclude)}, "B.orders", true},
	} {
		if got := tc.rules.ShouldReplicate(tc.topic); got != tc.want {
			t.Errorf("%s: ShouldReplicate(%q) = %v, want %v", tc.name, tc.topic, got, tc.want)
		}
	}
}

func TestCompilePatternRejectsJavaOnlySyntax(t *testing.T) {
	for _, bad := range []string{"(?!internal).*", "(a)\\1", "[unclosed"} {
		if _, err := CompilePattern([]string{bad}); err == nil {
			t.Errorf("CompilePattern(%q) accepted", bad)
		}
	}
}
