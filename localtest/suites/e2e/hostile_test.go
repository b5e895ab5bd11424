package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// A source group whose id or offset metadata is longer than MM2's
// checkpoint format can carry (a STRING has an INT16 length: 32,767 bytes)
// is skipped with a warning; the checkpoint program exits 0 and the other
// groups are checkpointed. A real broker refuses to store such a group
// (it closes the connection on the OffsetCommit), so the source is kfake,
// which accepts it; the target is the real pair's B.
func TestCheckpointLongGroup(t *testing.T) {
	real := kafkatest.Real(t)
	src := kafkatest.Kfake(t).A
	var b [3]byte
	_, _ = rand.Read(b[:])
	sa, ta := "lgs"+hex.EncodeToString(b[:]), "lgt"+hex.EncodeToString(b[:])
	topic := kafkatest.Unique(t, "longgroup")
	kafkatest.CreateTopic(t, src, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, src), topic, 1, 0, 20)
	props := filepath.Join(t.TempDir(), "mm2.properties")
	lines := []string{
		"clusters = " + sa + ", " + ta,
		sa + ".bootstrap.servers = " + src,
		ta + ".bootstrap.servers = " + real.B,
		sa + "->" + ta + ".enabled = true",
		sa + "->" + ta + ".topics = " + topic,
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"heartbeats.replication.enabled = false",
	}
	if err := os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := env(props)
	mustInvoke(t, "reconcile", e)
	drain(t, e)

	good := "good-" + topic
	longID := strings.Repeat("g", 40_000)
	longMeta := "meta-" + topic
	commit := func(group, metadata string) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 20, LeaderEpoch: -1, Metadata: metadata})
		resp, err := kafkatest.Admin(t, src).CommitOffsets(context.Background(), group, os)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %.20s...: %v", group, err)
		}
	}
	commit(good, "ok")
	commit(longID, "")
	commit(longMeta, strings.Repeat("m", 40_000))

	r := invoke(t, "checkpoint", e)
	if r.code != 0 || strings.Contains(r.stderr, "panic") {
		t.Fatalf("checkpoint exited %d: %.2000s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, strings.Repeat("g", 1000)) || strings.Contains(r.stderr, strings.Repeat("m", 1000)) {
		t.Errorf("the long group id or metadata is printed whole: %d bytes of stderr", len(r.stderr))
	}
	for _, want := range []string{"its id is longer than MM2's checkpoint format", "its offset metadata is longer", `"length":40000`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %.2000s", want, r.stderr)
		}
	}
	if f := r.summary(t)["flows"].([]any)[0].(map[string]any); f["skipped_too_long"] != 2.0 {
		t.Errorf("summary: skipped_too_long %v, want 2 (the long id and the long metadata): %v", f["skipped_too_long"], f)
	}
	got := map[string]int64{}
	for _, rec := range kafkatest.ReadAll(t, real.B, sa+".checkpoints.internal") {
		cp, err := offsetsync.DecodeCheckpoint(rec.Key, rec.Value)
		if err != nil {
			t.Fatalf("a checkpoint record does not decode: %v", err)
		}
		got[cp.Group] = cp.Downstream
	}
	if d, ok := got[good]; !ok || d != 20 {
		t.Errorf("group %s: checkpoint %v (present %v), want downstream 20 (the end)", good, d, ok)
	}
	if len(got) != 1 {
		t.Errorf("checkpoints for %d groups, want only %s", len(got), good)
	}
}
