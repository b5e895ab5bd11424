package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// Source data gone before it was copied (DeleteRecords past the
// committed position): the unit stops with a loud error naming the lost
// offsets, every run, and never jumps; what was copied stays exactly once.
func TestSourceDataLost(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 1, 2)
	environ := s.env()
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, s.topics[0], s.parts, 0, 100)
	s.drain(t, environ)
	kafkatest.ProduceSeq(t, prod, s.topics[0], s.parts, 100, 200)
	var cut kadm.Offsets
	cut.Add(kadm.Offset{Topic: s.topics[0], Partition: 0, At: 150})
	if rs, err := kafkatest.Admin(t, pair.A).DeleteRecords(ctx(t), cut); err != nil || rs.Error() != nil {
		t.Fatalf("delete records: %v %v", err, rs.Error())
	}
	for i := 0; i < 2; i++ {
		r := invoke(t, "mirror", environ)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "source data lost: offsets 100..149") {
			t.Fatalf("run %d after DeleteRecords: want a non-zero exit naming offsets 100..149, got %s", i, r)
		}
		if i == 0 {
			t.Logf("mirror reports: %s", r)
		}
	}
	// Partition 1 lost nothing: it was copied; partition 0 stays at 100.
	dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, s.remote(s.topics[0])))
	if err := kafkatest.ExactlyOnce(dst[0], 1, 100); err != nil {
		t.Errorf("partition 0: %v", err)
	}
	lost, dups := lossAndDups(dst[1], 2, 200)
	if lost != 200 || dups != 0 { // lossAndDups over partitions 0 and 1: 0 is empty in dst[1]
		t.Errorf("partition 1: %d missing, %d duplicated of 200", lost-200, dups)
	}
	t.Logf("RESULT %s: partition 0 stopped at 100 with the lost offsets named, partition 1 copied 200; lost (besides the deleted 50) 0, duplicated 0", t.Name())
}

// The source topic deleted and recreated under the mirror: the new topic
// is told apart by its topic id; its partitions stop loudly, reconcile
// notes it, and the remote topic keeps the first topic's records only.
func TestSourceRecreated(t *testing.T) { testSourceRecreated(t, 150) }

// A recreated source topic whose end is still below the old position (30 <
// 100 here): the position is past the new end, and the mirror claims the
// partition and refuses it every run instead of looking idle (it used to
// see no lag and exit 0 silently).
func TestSourceRecreatedShorter(t *testing.T) { testSourceRecreated(t, 30) }

func testSourceRecreated(t *testing.T, again int) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 1, 2)
	environ := s.env()
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, 100)
	s.drain(t, environ)
	adm := kafkatest.Admin(t, pair.A)
	if _, err := adm.DeleteTopic(ctx(t), s.topics[0]); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		r, err := adm.CreateTopic(ctx(t), s.parts, 1, nil, s.topics[0])
		if err == nil && r.Err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("recreate: %v %v", err, r.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, again)
	rec := invoke(t, "reconcile", environ)
	if !strings.Contains(rec.stdout, "was deleted and recreated") {
		t.Errorf("reconcile does not note the recreation: %s", rec)
	}
	r := invoke(t, "mirror", environ)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "was deleted and recreated") {
		t.Fatalf("mirror after the recreation: %s", r)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, s.remote(s.topics[0])), s.parts, 100); err != nil {
		t.Fatalf("remote topic: %v", err)
	}
	t.Logf("RESULT %s: mirror exit %d (%s); remote keeps the first topic's 100 records per partition, lost 0, duplicated 0", t.Name(), r.code, firstLine(r.stderr))
}

// The remote topic deleted under a running mirror, mid-copy: the running
// mirror's transactions fail (the partition is gone) and it exits 1 within
// its budget naming UNKNOWN_TOPIC_OR_PARTITION; later mirror runs exit 0
// with the topic waiting for reconcile; reconcile holds the re-creation
// (the offset syncs show it was copied into) with a note, every run,
// instead of re-copying silently. Creating it by hand is the operator's
// consent; the mirror then re-copies the source from its start into the
// new topic, each record once.
func TestRemoteDeletedUnderMirror(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 1, 2)
	environ := s.env()
	mustInvoke(t, "reconcile", environ)
	const n = 10000
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), s.topics[0], s.parts, 0, n)
	p := start(t, "mirror", environ)
	// Delete the remote topic once the mirror has committed some of it,
	// not all: it is then mid-copy.
	adm := kafkatest.Admin(t, pair.B)
	copied := int64(0)
	for deadline := time.Now().Add(30 * time.Second); copied == 0; time.Sleep(20 * time.Millisecond) {
		ends, err := adm.ListCommittedOffsets(ctx(t), s.remote(s.topics[0]))
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(o kadm.ListedOffset) { copied += max(o.Offset, 0) })
		if time.Now().After(deadline) {
			t.Fatalf("the mirror copied nothing in 30 s: %s", p.kill())
		}
	}
	if _, err := adm.DeleteTopic(ctx(t), s.remote(s.topics[0])); err != nil {
		t.Fatal(err)
	}
	if copied >= int64(n)*int64(s.parts) {
		t.Fatalf("the mirror had copied all %d records before the remote topic was deleted: the case shows nothing", copied)
	}
	during := p.wait(runLimit(environ))
	t.Logf("the running mirror (remote topic deleted after %d records): %s", copied, during)
	if during.overran || during.code != 1 || !strings.Contains(during.stdout+during.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("the running mirror: want exit 1 within its budget naming UNKNOWN_TOPIC_OR_PARTITION, got %s", during)
	}
	time.Sleep(time.Second)
	for i := 0; i < 2; i++ {
		r := invoke(t, "reconcile", environ)
		if !strings.Contains(r.stdout, "was deleted on the target") || !strings.Contains(r.stdout, `"held":["`+s.remote(s.topics[0])+`"]`) {
			t.Fatalf("reconcile run %d does not hold the deleted remote topic: %s", i, r)
		}
	}
	td, err := kafkatest.Admin(t, pair.B).ListTopics(ctx(t), s.remote(s.topics[0]))
	if err != nil {
		t.Fatal(err)
	}
	if td.Has(s.remote(s.topics[0])) && td[s.remote(s.topics[0])].Err == nil {
		t.Fatal("reconcile re-created the deleted remote topic")
	}
	m := invoke(t, "mirror", environ)
	t.Logf("mirror with the remote topic missing: %s", m)
	var waiting []any
	if flows, _ := m.summary()["flows"].([]any); len(flows) == 1 {
		waiting, _ = flows[0].(map[string]any)["waiting_for_reconcile"].([]any)
	}
	if m.code != 0 || len(waiting) != 1 || waiting[0] != s.topics[0] {
		t.Errorf("mirror with the remote topic missing: want exit 0 with %s waiting for reconcile, got %s", s.topics[0], m)
	}
	// The operator's consent: create it by hand; the mirror re-copies.
	kafkatest.CreateTopic(t, pair.B, s.remote(s.topics[0]), s.parts, nil)
	s.verify(t, environ, n)
	t.Logf("RESULT %s: running mirror exit %d; reconcile held the re-creation with a note; after the operator re-created it, %d records per partition exactly once", t.Name(), during.code, n)
}

// The progress group (mirrorless.<flow>.progress) deleted: the mirror
// finds records on the target it has no progress for and refuses to copy
// ("already holds records but has no mirrorless progress ... refusing to
// copy duplicates") instead of re-copying; nothing is duplicated.
func TestProgressGroupDeleted(t *testing.T) {
	pair := kafkatest.Real(t)
	s := newScenario(t, pair, 1, 2)
	environ := s.env()
	prod := kafkatest.Producer(t, pair.A)
	kafkatest.ProduceSeq(t, prod, s.topics[0], s.parts, 0, 100)
	s.drain(t, environ)
	time.Sleep(3 * time.Second) // the leases' TTL
	rs, err := kafkatest.Admin(t, pair.B).DeleteGroup(ctx(t), s.progressGroup())
	if err != nil || rs.Err != nil {
		t.Fatalf("delete %s: %v %v", s.progressGroup(), err, rs.Err)
	}
	kafkatest.ProduceSeq(t, prod, s.topics[0], s.parts, 100, 150)
	r := invoke(t, "mirror", environ)
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "has no mirrorless progress") {
		t.Fatalf("mirror after the progress group was deleted: %s", r)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, s.remote(s.topics[0])), s.parts, 100); err != nil {
		t.Fatal(err)
	}
	t.Logf("RESULT %s: mirror exit %d (%s); remote unchanged at 100 per partition, duplicated 0", t.Name(), r.code, firstLine(r.stderr))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(l) > 300 {
		l = l[:300] + "..."
	}
	return l
}
