package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/policy"
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	props, err := ParseProperties(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse properties: %v", err)
	}
	return Parse(props)
}

func TestPropertiesFormat(t *testing.T) {
	props, err := ParseProperties(strings.NewReader(`
# comment
! another comment
a=1
b : 2
c 3
  d   =   spaced value   
e = first \
    second
f = C:\\path\\x
g\ key = v
h = \u0041\t!
i=
j
k = last
k = wins
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"a": "1", "b": "2", "c": "3", "d": "spaced value   ", "e": "first second",
		"f": `C:\path\x`, "g key": "v", "h": "A\t!", "i": "", "j": "", "k": "wins",
	} {
		if got, ok := props.Get(key); !ok || got != want {
			t.Errorf("%q = %q (present %v), want %q", key, got, ok, want)
		}
	}
}

func TestKafkaExampleFile(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "connect-mirror-maker.properties"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Aliases; !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("aliases = %v", got)
	}
	if len(cfg.Flows) != 2 || cfg.Flows[0].Name() != "A->B" || cfg.Flows[1].Name() != "B->A" {
		t.Fatalf("flows = %v", cfg.Flows)
	}
	f := cfg.Flows[0]
	if f.ReplicationFactor != 1 || f.OffsetSyncsReplicationFactor != 1 || f.CheckpointsReplicationFactor != 1 || f.HeartbeatsReplicationFactor != 1 {
		t.Errorf("replication factors = %d %d %d %d", f.ReplicationFactor, f.OffsetSyncsReplicationFactor, f.CheckpointsReplicationFactor, f.HeartbeatsReplicationFactor)
	}
	if got := cfg.Clusters["B"].Bootstrap; !slices.Equal(got, []string{"B_host1:9092", "B_host2:9092", "B_host3:9092"}) {
		t.Errorf("B bootstrap = %v", got)
	}
	if f.OffsetSyncsTopic() != "mm2-offset-syncs.A.internal" {
		t.Errorf("offset syncs topic = %s", f.OffsetSyncsTopic())
	}
	// Bidirectional with the default policy: A.x on B never goes back.
	if cfg.Flows[1].Rules.ShouldReplicate("A.orders") {
		t.Error("B->A would send A.orders back to A")
	}
	// The worker keys are reported, not silently dropped.
	if !slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, "offset.storage.replication.factor") }) {
		t.Errorf("no warning for a Connect worker key: %v", cfg.Warnings)
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	cfg, err := parse(t, `
clusters = A, B, C
A.bootstrap.servers = a:9092
B.bootstrap.servers = b:9092
C.bootstrap.servers = c:9092
A->B.enabled = true
A->C.enabled = true
topics = orders.*
A->C.topics = payments
A->C.replication.factor = 3
offset.lag.max = 10
replication.policy.separator = _
A.consumer.auto.offset.reset = latest
A.consumer.fetch.max.bytes = 1000
A.security.protocol = PLAINTEXT
B.producer.compression.type = zstd
A->C.producer.linger.ms = 7
`)
	if err != nil {
		t.Fatal(err)
	}
	ab, ac := cfg.Flows[0], cfg.Flows[1]
	if ab.ReplicationFactor != 2 || ac.ReplicationFactor != 3 {
		t.Errorf("replication.factor = %d, %d; want MM2's default 2 and the flow override 3", ab.ReplicationFactor, ac.ReplicationFactor)
	}
	if ab.OffsetSyncsReplicationFactor != 3 {
		t.Errorf("offset-syncs RF default = %d, want 3", ab.OffsetSyncsReplicationFactor)
	}
	if !ab.Rules.ShouldReplicate("orders-eu") || ab.Rules.ShouldReplicate("payments") {
		t.Error("A->B should follow top-level topics")
	}
	if !ac.Rules.ShouldReplicate("payments") || ac.Rules.ShouldReplicate("orders-eu") {
		t.Error("A->C should follow its own topics")
	}
	if got := ab.Rules.RemoteTopic("orders"); got != "A_orders" {
		t.Errorf("remote name with separator _ = %s", got)
	}
	if ab.OffsetLagMax != 10 || ab.StartFrom != "latest" {
		t.Errorf("offset.lag.max = %d, start = %s", ab.OffsetLagMax, ab.StartFrom)
	}
	if ab.SourceConsumer["fetch.max.bytes"] != "1000" || ab.SourceConsumer["security.protocol"] != "PLAINTEXT" {
		t.Errorf("source consumer props = %v", ab.SourceConsumer)
	}
	if ab.TargetProducer["compression.type"] != "zstd" {
		t.Errorf("B producer props = %v", ab.TargetProducer)
	}
	if ac.TargetProducer["linger.ms"] != "7" || ab.TargetProducer["linger.ms"] != "" {
		t.Errorf("flow-level producer override leaked or missing: %v / %v", ac.TargetProducer, ab.TargetProducer)
	}
	if ab.Groups.Match("console-consumer-1") || !ab.Groups.Match("app") {
		t.Error("group filter defaults")
	}
}

// Every problem at once, each naming the key the user wrote.
func TestValidationListsEveryProblem(t *testing.T) {
	_, err := parse(t, `
clusters = A, B
A.bootstrap.servers = a:9092
A->B.enabled = true
A->B.topics = orders, (?!x).*
A->C.enabled = true
topics.exclude = [bad
replication.factor = two
offset.lag.max = -1
B->A.enabled = maybe
replication.policy.class = com.example.MyPolicy
`)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a ValidationError", err)
	}
	wantKeys := []string{"A->B.topics", "A->C.enabled", "topics.exclude", "replication.factor", "offset.lag.max", "B->A.enabled", "replication.policy.class", "B.bootstrap.servers"}
	for _, k := range wantKeys {
		if !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Key == k }) {
			t.Errorf("no problem reported for %s; got %v", k, ve.Problems)
		}
	}
	if !strings.Contains(err.Error(), `"C", which is not in`) {
		t.Errorf("unknown alias not named: %v", err)
	}
}

func TestValidationCases(t *testing.T) {
	for _, tc := range []struct {
		name, text, key, says string
	}{
		{"no clusters", "A->B.enabled = true", "clusters", "missing"},
		{"no flow", "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1", "", "no flow is enabled"},
		{"missing bootstrap", "clusters = A, B\nA.bootstrap.servers = a:1\nA->B.enabled = true", "B.bootstrap.servers", "missing"},
		{"bad bootstrap", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b:1\nA->B.enabled = true", "A.bootstrap.servers", "host:port"},
		{"identity cycle", "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\nB->A.enabled = true\nreplication.policy.class = " + IdentityPolicyClass, "replication.policy.class", "A -> B -> A"},
		{"bad rf", "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\nA->B.replication.factor = 0", "A->B.replication.factor", "replication factor"},
		{"bad reset", "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\nA.consumer.auto.offset.reset = none", "A.consumer.auto.offset.reset", "earliest or latest"},
	} {
		_, err := parse(t, tc.text)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: error = %v, want a ValidationError", tc.name, err)
			continue
		}
		if !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Key == tc.key && strings.Contains(p.Message, tc.says) }) {
			t.Errorf("%s: problems %v lack %s: ...%s...", tc.name, ve.Problems, tc.key, tc.says)
		}
	}
}

func TestIdentityOneWayIsFine(t *testing.T) {
	cfg, err := parse(t, "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\nreplication.policy.class = "+IdentityPolicyClass)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Flows[0].Rules.Policy.(policy.IdentityPolicy); !ok || cfg.Flows[0].Rules.RemoteTopic("orders") != "orders" {
		t.Error("identity policy not applied")
	}
}

// TestUnknownKeySuggestion: an unknown key within two edits of one
// mirrorless knows is warned about with that key, prefix kept; others get
// "check the spelling".
func TestUnknownKeySuggestion(t *testing.T) {
	base := "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\n"
	for _, tc := range []struct{ line, want string }{
		{"A->B.topcis = x", "A->B.topcis is not a MirrorMaker 2 setting mirrorless knows; it is ignored (did you mean A->B.topics?)"},
		{"emit.checkpoint.enabled = true", "emit.checkpoint.enabled is not a MirrorMaker 2 setting mirrorless knows; it is ignored (did you mean emit.checkpoints.enabled?)"},
		{"mirrorless.sync.topic.acl.mm2.compatible = true", "(did you mean mirrorless.sync.topic.acls.mm2.compatible?)"},
		{"A.bootstrap.server = a:1", "A.bootstrap.server is not a MirrorMaker 2 cluster setting mirrorless knows; it is ignored (did you mean A.bootstrap.servers?)"},
		{"wholly.unrelated.key = 1", "wholly.unrelated.key is not a MirrorMaker 2 setting mirrorless knows; it is ignored (check the spelling)"},
		{strings.Repeat("x", 200) + "topics = 1", "(check the spelling)"},
	} {
		cfg, err := parse(t, base+tc.line+"\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if !slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, tc.want) }) {
			t.Errorf("%s: no warning with %q in %q", tc.line, tc.want, cfg.Warnings)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"topics", "topics", 0}, {"topcis", "topics", 2}, {"topic", "topics", 1}, {"", "abc", 3}, {"kitten", "sitting", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	cfg, err := parse(t, `
clusters = A, B
A.bootstrap.servers = a:1
B.bootstrap.servers = b:1
A->B.enabled = true
A->B.topcs = typo
A.topics = ignored
tasks.max = 4
B.offset.flush.interval.ms = 1000
offset-syncs.topic.location = source
sync.topic.acls.enabled = false
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A->B.topcs is not a MirrorMaker 2 setting", "A.topics: MM2 does not read connector settings per cluster", "tasks.max is a Kafka Connect setting", "B.offset.flush.interval.ms is a Kafka Connect worker setting", "offset-syncs.topic.location is not supported"} {
		if !slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.Contains(w, want) }) {
			t.Errorf("missing warning %q in %q", want, cfg.Warnings)
		}
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "sync.topic.acls.enabled") {
			t.Errorf("a key a later function reads was warned about: %s", w)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.properties"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "MIRROR_PROPERTIES_FILE") {
		t.Errorf("error = %v", err)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	t.Setenv("MIRROR_PROPERTIES_FILE", "/x.properties")
	t.Setenv("MIRROR_TIME_BUDGET", "12s")
	t.Setenv("MIRROR_FLOWS", "A->B")
	s, err := LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	if s.TimeBudget.Seconds() != 12 || s.MaxUnits != 4096 || s.Groups != 0 || s.Tail || !slices.Equal(s.Flows, []string{"A->B"}) {
		t.Errorf("settings = %+v", s)
	}
	t.Setenv("MIRROR_TIME_BUDGET", "soon")
	if _, err := LoadSettings(); err == nil || !strings.Contains(err.Error(), "MIRROR_TIME_BUDGET") {
		t.Errorf("bad duration: %v", err)
	}
	t.Setenv("MIRROR_TIME_BUDGET", "1s")
	t.Setenv("MIRROR_MAX_UNITS", "0")
	t.Setenv("MIRROR_LOG_LEVEL", "loud")
	_, err = LoadSettings()
	if err == nil || !strings.Contains(err.Error(), "MIRROR_MAX_UNITS") || !strings.Contains(err.Error(), "MIRROR_LOG_LEVEL") {
		t.Errorf("want both problems named: %v", err)
	}
}

func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MIRROR_") {
			k, _, _ := strings.Cut(kv, "=")
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

// A sasl.jaas.config whose continuation backslash is missing leaves its
// next lines as keys of their own; the password must not be printed as an
// unknown key (issue 18). The JAAS value is refused, as Kafka's client
// refuses a JAAS configuration without `;`, and the lines after it are
// named by their number.
func TestJAASLinesNotPrinted(t *testing.T) {
	const secret = "s3cret-pw-8128"
	base := "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n"
	for _, tc := range []struct {
		name, text string
		problem    bool
	}{
		{"password line", base + "A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required \\\n  username=\"u\"\n  password=\"" + secret + "\";\n", true},
		{"password alone", base + "A.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\n  \"" + secret + "\";\n", true},
		{"quoted key elsewhere", base + secret + "\";\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(t, tc.text)
			var printed []string
			if ve, ok := errors.AsType[*ValidationError](err); ok {
				for _, p := range ve.Problems {
					printed = append(printed, p.Key+": "+p.Message)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if (err != nil) != tc.problem {
				t.Fatalf("err = %v, want a problem: %v", err, tc.problem)
			}
			if tc.problem && !strings.Contains(err.Error(), "A.sasl.jaas.config: does not end with `;`") {
				t.Errorf("err = %v, want the JAAS value refused", err)
			}
			if cfg != nil {
				printed = append(printed, cfg.Warnings...)
			}
			out := strings.Join(printed, "\n")
			if strings.Contains(out, secret) {
				t.Errorf("the password is printed:\n%s", out)
			}
			if !tc.problem && !strings.Contains(out, "the key on line 5 is not a setting mirrorless knows") {
				t.Errorf("the ignored line is not reported by number:\n%s", out)
			}
		})
	}
}

// Settings a run cannot work with are refused, naming the variable the user
// set (issue 18): a safety margin that takes the whole budget (every run
// fenced units and copied nothing, exit 0), a batch size whose derived
// budgets overflow, and a parse error named MIRROR_MIRROR_... .
func TestSettingsRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"MIRROR_TIME_BUDGET": "10s", "MIRROR_SAFETY_MARGIN": "30s"}, []string{"MIRROR_SAFETY_MARGIN (30s) must be less than MIRROR_TIME_BUDGET (10s)"}},
		{map[string]string{"MIRROR_TIME_BUDGET": "10s", "MIRROR_SAFETY_MARGIN": "10s"}, []string{"MIRROR_SAFETY_MARGIN (10s) must be less than MIRROR_TIME_BUDGET (10s)"}},
		{map[string]string{"MIRROR_BATCH_BYTES": "9223372036854775807"}, []string{"MIRROR_BATCH_BYTES must be between 1024 and 1073741824"}},
		{map[string]string{"MIRROR_BATCH_RECORDS": "9223372036854775807"}, []string{"MIRROR_BATCH_RECORDS must be between 1 and 10000000"}},
		{map[string]string{"MIRROR_TIME_BUDGET": "soon"}, []string{`environment variable MIRROR_TIME_BUDGET="soon" is not a duration`}},
		{map[string]string{"MIRROR_MAX_UNITS": "many\x1b[31m"}, []string{`MIRROR_MAX_UNITS="many\x1b[31m" is not a whole number`}},
		{map[string]string{"MIRROR_MAX_CONCURRENCY": "0"}, []string{"MIRROR_MAX_CONCURRENCY must be between 1 and 1000"}},
		{map[string]string{"MIRROR_MAX_CONCURRENCY": "5000"}, []string{"MIRROR_MAX_CONCURRENCY must be between 1 and 1000"}},
		{map[string]string{"MIRROR_FANOUT_RECORDS_PER_SECOND": "0"}, []string{"MIRROR_FANOUT_RECORDS_PER_SECOND must be at least 1"}},
		{map[string]string{"MIRROR_SCHEDULE_INTERVAL": "rate(1 fortnight)"}, []string{`MIRROR_SCHEDULE_INTERVAL="rate(1 fortnight)" is not a duration`}},
		{map[string]string{"MIRROR_SCHEDULE_INTERVAL": "-1m"}, []string{`MIRROR_SCHEDULE_INTERVAL="-1m" is not a duration`}},
	} {
		t.Run(strings.Join(slices.Sorted(maps.Keys(tc.env)), ","), func(t *testing.T) {
			t.Setenv("MIRROR_PROPERTIES_FILE", "/x.properties")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := LoadSettings()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "MIRROR_MIRROR_") || strings.ContainsRune(err.Error(), '\x1b') {
				t.Errorf("err = %q", err)
			}
		})
	}
	t.Setenv("MIRROR_PROPERTIES_FILE", "/x.properties")
	t.Setenv("MIRROR_TIME_BUDGET", "10s")
	t.Setenv("MIRROR_SAFETY_MARGIN", "9s")
	if _, err := LoadSettings(); err != nil {
		t.Errorf("a margin just under the budget: %v", err)
	}
}

// mirrorless.sync.topic.acls.mm2.compatible: false by default, true per
// flow or for all; a value that is not a boolean is a problem naming the
// key; a misspelt mirrorless.* key is warned about (it used to be
// accepted silently, so a typo would keep the default without a word).
func TestACLsAsMM2Key(t *testing.T) {
	base := "clusters = A, B, C\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nC.bootstrap.servers = c:1\nA->B.enabled = true\nA->C.enabled = true\n"
	cfg, err := parse(t, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.Flows {
		if f.SyncTopicACLsAsMM2 {
			t.Errorf("%s: copies MM2's ACL set by default", f.Name())
		}
	}
	cfg, err = parse(t, base+"A->C.mirrorless.sync.topic.acls.mm2.compatible = true\nmirrorless.sync.topic.acl.mm2.compatible = true\n")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range cfg.Flows {
		got[f.Name()] = f.SyncTopicACLsAsMM2
	}
	if !reflect.DeepEqual(got, map[string]bool{"A->B": false, "A->C": true}) {
		t.Errorf("per flow: %v", got)
	}
	if !slices.ContainsFunc(cfg.Warnings, func(w string) bool {
		return strings.Contains(w, "mirrorless.sync.topic.acl.mm2.compatible is not a mirrorless setting")
	}) {
		t.Errorf("no warning for a misspelt mirrorless key: %q", cfg.Warnings)
	}
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "acls.mm2.compatible is") { // the misspelt key's warning names it as a suggestion
			t.Errorf("the key itself was warned about: %s", w)
		}
	}
	_, err = parse(t, base+"mirrorless.sync.topic.acls.mm2.compatible = yes\n")
	if err == nil || !strings.Contains(err.Error(), `mirrorless.sync.topic.acls.mm2.compatible: "yes" is not a boolean`) {
		t.Errorf("error = %v", err)
	}
}

// A 6 MB line (issue 18: "bufio.Scanner: token too long", no line number)
// is refused with its line number and the limit; a duplicated key is
// recorded with both lines.
func TestPropertiesBounds(t *testing.T) {
	_, err := ParseProperties(strings.NewReader("a = 1\nb = 2\nc = " + strings.Repeat("x", 6<<20) + "\n"))
	if err == nil || err.Error() != "line 3: longer than 1048576 bytes (the limit for one line)" {
		t.Errorf("6 MB line: %v", err)
	}
	_, err = ParseProperties(strings.NewReader("a = 1\nb = \\\n" + strings.Repeat(strings.Repeat("x", 1000)+"\\\n", 2000) + "\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 2: the entry starting here is longer than 1048576 bytes") {
		t.Errorf("continued entry past the limit: %v", err)
	}
	p, err := ParseProperties(strings.NewReader("a = 1\nb = 2\na = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("a"); v != "3" || len(p.Duplicates) != 1 || p.Duplicates[0] != (Duplicate{Key: "a", Earlier: 1, Line: 3}) {
		t.Errorf("a = %q, duplicates %+v", v, p.Duplicates)
	}
}

// MM2's booleans are parsed here only, as Kafka's ConfigDef parses a
// BOOLEAN: true or false in any case, trimmed; anything else is a problem
// naming the key the user wrote (before, emit.checkpoints.enabled=flase
// counted as true, and False turned checkpoints off while reconcile still
// created their topic).
func TestMM2Booleans(t *testing.T) {
	base := "clusters = A, B\nA.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nA->B.enabled = true\n"
	cfg, err := parse(t, base)
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Flows[0]; !f.EmitCheckpoints || !f.EmitHeartbeats || f.SyncGroupOffsets {
		t.Errorf("defaults: emit checkpoints %v, heartbeats %v, sync group offsets %v; want MM2's true, true, false", f.EmitCheckpoints, f.EmitHeartbeats, f.SyncGroupOffsets)
	}
	cfg, err = parse(t, base+"emit.checkpoints.enabled = False\nemit.heartbeats.enabled =  FALSE \nA->B.sync.group.offsets.enabled = TRUE\n")
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Flows[0]; f.EmitCheckpoints || f.EmitHeartbeats || !f.SyncGroupOffsets {
		t.Errorf("False, FALSE, TRUE: emit checkpoints %v, heartbeats %v, sync group offsets %v", f.EmitCheckpoints, f.EmitHeartbeats, f.SyncGroupOffsets)
	}
	for _, line := range []string{"emit.checkpoints.enabled = flase", "A->B.emit.heartbeats.enabled = yes", "sync.group.offsets.enabled = 1"} {
		_, err := parse(t, base+line+"\n")
		key, value, _ := strings.Cut(line, " = ")
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), key+`: "`+value+`" is not a boolean`) {
			t.Errorf("%s: error %v, want a validation problem naming the key", line, err)
		}
	}
}

// TestKeyName: a client setting is named by the key that set it, the
// highest of MM2's precedence the file holds.
func TestKeyName(t *testing.T) {
	cfg, err := parse(t, `clusters = A, B
A.bootstrap.servers = a:1
B.bootstrap.servers = b:1
A->B.enabled = true
security.protocol = SSL
consumer.fetch.min.bytes = 1
A.consumer.fetch.max.bytes = 2
A->B.consumer.max.partition.fetch.bytes = 3
B.client.id = x
`)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Flows[0]
	for _, tc := range []struct{ alias, role, k, want string }{
		{"A", "consumer", "security.protocol", "security.protocol"},
		{"A", "consumer", "fetch.min.bytes", "consumer.fetch.min.bytes"},
		{"A", "consumer", "fetch.max.bytes", "A.consumer.fetch.max.bytes"},
		{"A", "consumer", "max.partition.fetch.bytes", "A->B.consumer.max.partition.fetch.bytes"},
		{"B", "admin", "client.id", "B.client.id"},
		{"B", "producer", "linger.ms", "B.producer.linger.ms"}, // not set: the role's key
		{"A", "consumer", "fetch.max.bytes.typo", "A.consumer.fetch.max.bytes.typo"},
	} {
		if got := cfg.KeyName(f, tc.alias, tc.role, tc.k); got != tc.want {
			t.Errorf("KeyName(%s, %s, %s) = %q, want %q", tc.alias, tc.role, tc.k, got, tc.want)
		}
	}
	if got := (*Config)(nil).KeyName(nil, "A", "admin", "x"); got != "A.admin.x" {
		t.Errorf("nil config: %q", got)
	}
}
