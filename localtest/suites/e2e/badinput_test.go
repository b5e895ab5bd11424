package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// clusterState is what a bad run must leave untouched: the topics and
// groups whose names carry one of marks (other tests share the pair).
func clusterState(t *testing.T, addr string, marks ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kafkatest.Admin(t, addr)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state []string
	keep := func(name string) bool {
		return slices.ContainsFunc(marks, func(m string) bool { return strings.Contains(name, m) })
	}
	for _, n := range topics.Names() {
		if keep(n) {
			state = append(state, n)
		}
	}
	for _, g := range groups.Groups() {
		if keep(g) {
			state = append(state, "group:"+g)
		}
	}
	slices.Sort(state)
	return state
}

// Each bad input exits non-zero within 30 s, names the problem, and
// changes nothing on either cluster.
func TestBadInput(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "badinput")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 10)
	write := func(lines ...string) string {
		p := filepath.Join(t.TempDir(), "mm2.properties")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Unique aliases: whatever a run would create carries them.
	sfx := strings.TrimPrefix(topic, "badinput-testbadinput-")
	a, b := "SRC"+sfx, "TGT"+sfx
	marks := []string{a, b, topic}
	common := []string{"replication.factor = 1", "offset-syncs.topic.replication.factor = 1", a + "->" + b + ".topics = " + topic}
	for _, tc := range []struct {
		name  string
		props string
		says  []string
		code  int
	}{
		{"missing bootstrap", write(append([]string{"clusters = " + a + ", " + b, a + ".bootstrap.servers = " + pair.A, a + "->" + b + ".enabled = true"}, common...)...),
			[]string{b + ".bootstrap.servers", "missing"}, 2},
		{"unknown alias in a flow", write(append([]string{"clusters = " + a + ", " + b, a + ".bootstrap.servers = " + pair.A, b + ".bootstrap.servers = " + pair.B, a + "->" + b + ".enabled = true", a + "->C.enabled = true"}, common...)...),
			[]string{a + "->C.enabled", `"C"`}, 2},
		{"invalid regex", write("clusters = "+a+", "+b, a+".bootstrap.servers = "+pair.A, b+".bootstrap.servers = "+pair.B, a+"->"+b+".enabled = true", a+"->"+b+".topics = orders, (?<=x)y"),
			[]string{a + "->" + b + ".topics", "invalid regular expression"}, 2},
		{"unreachable broker", write(append([]string{"clusters = " + a + ", " + b, a + ".bootstrap.servers = 127.0.0.1:1", b + ".bootstrap.servers = " + pair.B, a + "->" + b + ".enabled = true"}, common...)...),
			[]string{"cluster " + a, "unreachable", "127.0.0.1:1"}, 1},
		{"missing file", filepath.Join(t.TempDir(), "absent.properties"),
			[]string{"does not exist", "MIRROR_PROPERTIES_FILE"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beforeA, beforeB := clusterState(t, pair.A, marks...), clusterState(t, pair.B, marks...)
			for _, fn := range []string{"reconcile", "mirror"} {
				r := invoke(t, fn, env(tc.props, "MIRROR_CONNECT_TIMEOUT=5s"))
				if r.code != tc.code {
					t.Errorf("%s exited %d, want %d; stderr: %s", fn, r.code, tc.code, r.stderr)
				}
				if r.duration > 30*time.Second {
					t.Errorf("%s took %v to fail", fn, r.duration)
				}
				if s := r.summary(t); s["ok"] != false || s["error"] == "" {
					t.Errorf("%s's summary does not report the failure: %v", fn, s)
				}
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				last := lines[len(lines)-1]
				for _, s := range tc.says {
					if !strings.Contains(last, s) {
						t.Errorf("%s's error %q does not mention %q", fn, last, s)
					}
				}
			}
			if afterA := clusterState(t, pair.A, marks...); !slices.Equal(beforeA, afterA) {
				t.Errorf("cluster A changed:\nbefore %v\nafter  %v", beforeA, afterA)
			}
			if afterB := clusterState(t, pair.B, marks...); !slices.Equal(beforeB, afterB) {
				t.Errorf("cluster B changed:\nbefore %v\nafter  %v", beforeB, afterB)
			}
		})
	}
}
