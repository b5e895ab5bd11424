package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// The checkpoint program and its failover command through the
// outside-Lambda contract: JSON on stdout, exit codes, only the target
// needed for failover.
func TestCheckpointProgramAndFailover(t *testing.T) {
	pair := kafkatest.Real(t)
	topic := kafkatest.Unique(t, "failover")
	group := kafkatest.Unique(t, "app")
	kafkatest.CreateTopic(t, pair.A, topic, 2, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 2, 0, 60)
	props := kafkatest.Properties(t, pair, "A->B.topics = "+topic, "A->B.groups = "+group, "offset.lag.max = 10")
	e := env(props)
	mustInvoke(t, "reconcile", e)
	drain(t, e)
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 33, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 60, LeaderEpoch: -1})
	if _, err := kafkatest.Admin(t, pair.A).CommitOffsets(context.Background(), group, os); err != nil {
		t.Fatal(err)
	}
	s := mustInvoke(t, "checkpoint", e)
	if s["function"] != "checkpoint" || s["ok"] != true {
		t.Fatalf("checkpoint summary: %v", s)
	}
	// Another test's checkpoint run on flow A->B may fence this one; the
	// next run writes what is due.
	if flows := s["flows"].([]any); flows[0].(map[string]any)["fenced"] == true {
		mustInvoke(t, "checkpoint", e)
	}

	tool := func(fn string, args ...string) run {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, fn), args...)
		cmd.Env = e
		out, errb := new(strings.Builder), new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, errb
		err := cmd.Run()
		r := run{stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	failover := func(args ...string) run { return tool("checkpoint", append([]string{"failover"}, args...)...) }
	// Every partition already has mirrorless progress: nothing to take
	// over from MirrorMaker 2.
	if r := tool("mirror", "adopt"); r.code != 0 || !strings.Contains(r.stdout, `"function":"mirror-adopt"`) || !strings.Contains(r.stdout, `"ok":true`) {
		t.Errorf("mirror adopt: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if r := failover(); r.code != 2 || !strings.Contains(r.stderr, "-group is required") {
		t.Errorf("failover without -group: exit %d, stderr %q", r.code, r.stderr)
	}
	r := failover("-group", group, "-apply")
	if r.code != 0 {
		t.Fatalf("failover -apply: exit %d: %s", r.code, r.stderr)
	}
	var plan struct {
		Applied    bool
		Partitions []struct {
			Topic     string
			Partition int32
			Upstream  int64 `json:"source_offset"`
			Offset    int64
			ReReadMax int64 `json:"reread_max"`
			Action    string
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &plan); err != nil {
		t.Fatalf("failover stdout is not one JSON line: %q", r.stdout)
	}
	if !plan.Applied || len(plan.Partitions) != 2 || !strings.Contains(r.stderr, "RESUME AT") {
		t.Fatalf("failover plan %+v\n%s", plan, r.stderr)
	}
	committed, err := kafkatest.Admin(t, pair.B).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Partitions {
		o, _ := committed.Lookup("A."+topic, p.Partition)
		if o.At != p.Offset || p.Action != "committed" || p.ReReadMax > 10 {
			t.Errorf("partition %+v: target group at %d", p, o.At)
		}
	}
	// It needs only the target: point the source at a closed port.
	dead := strings.Replace(readFile(t, props), pair.A, "127.0.0.1:1", 1)
	deadProps := filepath.Join(t.TempDir(), "dead.properties")
	if err := writeFile(deadProps, dead); err != nil {
		t.Fatal(err)
	}
	e = env(deadProps)
	if r := failover("-group", group); r.code != 0 {
		t.Errorf("failover with the source down: exit %d: %s", r.code, r.stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
