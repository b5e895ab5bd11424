package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// mm2Lib is MirrorMaker 2's classpath directory, resolved from Maven
// Central by scripts/bench.sh (once, into its cache).
func mm2Lib(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MM2_LIB")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(home, ".cache", "mirrorless", "mm2-"+kafkaVersion, "lib")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "connect-mirror-"+kafkaVersion+".jar")); len(m) == 0 {
		cmd := exec.Command("bash", "../../../scripts/bench.sh", "resolve-mm2")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("resolve MirrorMaker 2 %s from Maven Central: %v\n%s", kafkaVersion, err, out)
		}
	}
	return dir
}

// remoteCount is the number of records (offsets) in every partition of a
// topic on addr, summed.
func remoteCount(t *testing.T, addr, topic string) int64 {
	t.Helper()
	ends, err := kafkatest.Admin(t, addr).ListEndOffsets(context.Background(), topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, ps := range ends {
		for _, o := range ps {
			if o.Err == nil {
				n += o.Offset
			}
		}
	}
	return n
}

// Taking over from a real MirrorMaker 2 (dedicated mode, from its Maven
// artifacts) killed with SIGKILL mid-life (issue 16 item 6): before its
// first offset flush (nothing in mm2-offsets) and after one (its recorded
// offsets behind what it copied). mirror adopt -apply finds where each
// remote partition ends on the source, and the mirror continues: every
// source record is on the target, none copied twice at the switch.
func TestAdoptAfterMM2Killed(t *testing.T) {
	pair := kafkatest.Real(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is needed to run MirrorMaker 2: %v", err)
	}
	lib := mm2Lib(t)
	for _, tc := range []struct {
		name    string
		flushMs int
	}{{"before-first-flush", 600_000}, {"after-first-flush", 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src, tgt := alias("s"), alias("t")
			topic := kafkatest.Unique(t, "mm2")
			remote := src + "." + topic
			kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
			kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 10_000)
			total := int64(30_000)

			mm2 := startMM2(t, lib, pair, src, tgt,
				src+"->"+tgt+".topics = "+topic,
				"offset.flush.interval.ms = "+strconv.Itoa(tc.flushMs))
			waitFor := func(what string, ok func() bool) {
				t.Helper()
				for deadline := time.Now().Add(3 * time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("MirrorMaker 2: %s not reached in 3 minutes; its log ends:\n%s", what, mm2.tail())
					}
				}
			}
			waitFor("every record copied", func() bool { return remoteCount(t, pair.B, remote) >= total })

			a := newInvoker(t, ctx, flowProps(pair, src, tgt, src+"->"+tgt+".topics = "+topic), 5000)
			recorded := func() int {
				plan, _ := a.Adopt(ctx, false)
				n := 0
				if plan != nil {
					for _, r := range plan.Flows[src+"->"+tgt] {
						if r.Topic == topic && r.MM2Offset >= 0 {
							n++
						}
					}
				}
				return n
			}
			if tc.flushMs > 60_000 {
				mm2.kill() // before any offset flush
			} else {
				waitFor("an offset flush", func() bool { return recorded() == 3 })
				// More records, and the kill mid-copy.
				kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 10_000, 20_000)
				total = 60_000
				waitFor("part of the new records copied", func() bool { return remoteCount(t, pair.B, remote) >= 35_000 })
				mm2.kill()
			}
			mm2Copy := map[int32]int64{}
			ends, err := kafkatest.Admin(t, pair.B).ListEndOffsets(ctx, remote)
			if err != nil {
				t.Fatal(err)
			}
			for p := int32(0); p < 3; p++ {
				e, _ := ends.Lookup(remote, p)
				mm2Copy[p] = e.Offset
			}
			if _, err := a.Reconcile(ctx); err != nil {
				t.Fatal(err)
			}
			sum, err := a.Adopt(ctx, true)
			if err != nil {
				t.Fatalf("adopt -apply: %v %+v", err, sum)
			}
			next := map[int32]int64{}
			for _, r := range sum.Flows[src+"->"+tgt] {
				t.Logf("adopted: %+v", r)
				if r.Topic != topic {
					continue // MM2 also copied the shared heartbeats topic
				}
				if r.Action != "adopted" {
					t.Errorf("partition %d: %+v", r.Partition, r)
				}
				if (r.MM2Offset >= 0) != (tc.flushMs < 60_000) {
					t.Errorf("partition %d: MM2 recorded %d; the scenario expects %s", r.Partition, r.MM2Offset, tc.name)
				}
				next[r.Partition] = r.Next
			}
			// The application goes on producing; mirrorless copies it.
			kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, int(total/3), int(total/3)+1000)
			total += 3000
			if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
				t.Fatal(err)
			}
			dst := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, remote))
			per := total / 3
			for p := int32(0); p < 3; p++ {
				recs := dst[p]
				seen := map[int64]bool{}
				for _, r := range recs {
					seen[kafkatest.Seq(r)] = true
				}
				if int64(len(seen)) != per {
					t.Errorf("partition %d: %d distinct records on the target, the source has %d", p, len(seen), per)
				}
				// At the switch: MM2's copy ends with Next-1, mirrorless
				// continues at Next, each record once after it.
				var mm2Part, ours []int64
				for _, r := range recs {
					if r.Offset < mm2Copy[p] {
						mm2Part = append(mm2Part, kafkatest.Seq(r))
					} else {
						ours = append(ours, kafkatest.Seq(r))
					}
				}
				if len(mm2Part) == 0 || mm2Part[len(mm2Part)-1] != next[p]-1 {
					t.Errorf("partition %d: MM2's copy of %d records does not end with seq %d, where adopt continued", p, len(mm2Part), next[p]-1)
				}
				for i, seq := range ours {
					if seq != next[p]+int64(i) {
						t.Fatalf("partition %d: mirrorless's record %d has seq %d, want %d", p, i, seq, next[p]+int64(i))
					}
				}
				if next[p]+int64(len(ours)) != per {
					t.Errorf("partition %d: mirrorless copied %d records from %d, the source ends at %d", p, len(ours), next[p], per)
				}
				t.Logf("partition %d: MM2 copied %d records (%d duplicates), mirrorless the %d after", p, len(mm2Part), int64(len(mm2Part))-next[p], len(ours))
			}
		})
	}
}
