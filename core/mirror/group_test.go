package mirror

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Outside tail mode a lane's end stays where the run planned it: a source
// written to faster than the mirror copies it is still caught up once the
// run reaches the plan, and what was produced meanwhile is left for the
// next run, so one busy group cannot hold an invocation until its budget
// ends. kfake: the target's EndTxn is slowed (10 ms) and transactions hold
// 10 records, so the mirror copies at most ~1,000 records a second while
// a producer, started at the run's first fetch (after the plan), writes
// ~8,000 a second. Batch mode must end with both partitions done at the
// planned end (100), long before its stop time, with the source well past
// it; the next run copies the rest exactly once. Tail mode, the contrast,
// follows the source past the planned end until its stop time.
//
// Both modes also need every partition of the group served: a partition
// holding more fetched records than a transaction takes filled every
// transaction before (sendHeld began with the same lane each time), so
// the group's other partitions copied nothing until the run's end.
func TestBatchEndStaysPlanned(t *testing.T) {
	const (
		parts   = 2
		backlog = 100 // records per partition when the run plans
		batch   = 10  // records per transaction
	)
	for _, tail := range []bool{false, true} {
		name := map[bool]string{false: "batch", true: "tail"}[tail]
		t.Run(name, func(t *testing.T) {
			pair, a, b := kafkatest.KfakeClusters(t)
			src := kafkatest.Unique(t, "busy")
			kafkatest.CreateTopic(t, pair.A, src, parts, nil)
			prod := kafkatest.Producer(t, pair.A)
			kafkatest.ProduceSeq(t, prod, src, parts, 0, backlog)
			m := testMirror(t, pair, "busy", "A->B.topics = "+src)
			m.Settings.Tail = tail
			m.Settings.BatchRecords = batch
			m.Settings.SafetyMargin = time.Second

			fetched := make(chan struct{})
			var once sync.Once
			a.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
				a.KeepControl()
				once.Do(func() { close(fetched) })
				return nil, nil, false
			})
			b.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
				b.KeepControl()
				// A plain sleep holds b's request loop (nothing else of
				// b's runs meanwhile); kfake's SleepControl raced inside
				// kfake once under -race in a full run.
				time.Sleep(10 * time.Millisecond)
				return nil, nil, false
			})

			// The busy producer: 20 records per partition every 5 ms from
			// the run's first fetch until the run ends.
			stop := make(chan struct{})
			produced := backlog
			prodDone := make(chan error, 1)
			go func() {
				select {
				case <-fetched:
				case <-stop:
					prodDone <- nil
					return
				}
				for {
					select {
					case <-stop:
						prodDone <- nil
						return
					case <-time.After(5 * time.Millisecond):
					}
					var recs []*kgo.Record
					for i := produced; i < produced+20; i++ {
						for p := range int32(parts) {
							recs = append(recs, kafkatest.Record(src, p, i))
						}
					}
					if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
						prodDone <- err
						return
					}
					produced += 20
				}
			}()

			budget := 8 * time.Second
			if tail {
				budget = 3 * time.Second
			}
			start := time.Now()
			res, err := m.Run(context.Background(), start.Add(budget))
			took := time.Since(start)
			close(stop)
			if perr := <-prodDone; perr != nil {
				t.Fatalf("busy producer: %v", perr)
			}
			if err != nil {
				t.Fatalf("run: %v (%+v)", err, res)
			}
			t.Logf("%s: %d records in %d transactions in %v; the source had %d per partition at the end", name, res.Records, res.Transactions, took.Round(time.Millisecond), produced)
			for _, d := range res.Detail {
				t.Logf("%s/%d: %s, %d..%d, %d records", d.Topic, d.Partition, d.Status, d.From, d.To, d.Records)
			}
			if len(res.Detail) != parts {
				t.Fatalf("%d partitions in the result, want %d: %+v", len(res.Detail), parts, res.Detail)
			}
			if produced < backlog+200 {
				t.Fatalf("only %d records per partition produced by the run's end: the source was not busy, the case shows nothing", produced)
			}
			var copied int64
			for _, d := range res.Detail {
				copied += d.Records
				if d.From != 0 || d.To < backlog || d.Records != d.To-d.From {
					t.Errorf("%s/%d copied %d records, %d..%d; want at least the planned 0..%d", d.Topic, d.Partition, d.Records, d.From, d.To, backlog)
				}
				if tail {
					continue
				}
				if d.Status != UnitDone {
					t.Errorf("%s/%d ended %q; want %q at the planned end %d", d.Topic, d.Partition, d.Status, UnitDone, backlog)
				}
			}
			if !tail {
				for _, l := range res.Lags {
					if l.End != backlog {
						t.Errorf("%s/%d ended the run with end %d; want the planned %d", l.Topic, l.Partition, l.End, backlog)
					}
				}
				if left := int64(produced*parts) - copied; left < 200 {
					t.Errorf("the run copied %d of %d records: want the records produced while it ran left for the next run", copied, produced*parts)
				}
				// The next run, the source quiet, copies the rest: every
				// record once, none lost or doubled across the plan's end.
				testMirror(t, pair, "busy-next", "A->B.topics = "+src).testRun(t)
				if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+src), parts, produced); err != nil {
					t.Error(err)
				}
				return
			}
			for _, d := range res.Detail {
				if d.To <= backlog+batch {
					t.Errorf("%s/%d: tail mode copied up to %d; want it to follow the source past the planned end %d", d.Topic, d.Partition, d.To, backlog)
				}
			}
		})
	}
}

// A transaction the target refuses for one partition stops that
// partition only: the work group aborts it, starts a new consumer for its
// other partitions from their committed positions, and copies them in the
// same run. Two source topics in one work group (MIRROR_GROUPS=1, a flow
// of its own); the remote topic of one is deleted once the run's consumer
// reads its first batch, before anything is produced, so the group's
// first transaction holds records of both and is refused. The run must
// report the deleted one failed, and the other's two partitions done with
// all their records, copied exactly once.
func TestRemoteDeletedGroupGoesOn(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, pair kafkatest.Pair) {
		const n = 100
		gone, kept := kafkatest.Unique(t, "gone"), kafkatest.Unique(t, "kept")
		kafkatest.CreateTopic(t, pair.A, gone, 1, nil)
		kafkatest.CreateTopic(t, pair.A, kept, 2, nil)
		prod := kafkatest.Producer(t, pair.A)
		kafkatest.ProduceSeq(t, prod, gone, 1, 0, n)
		kafkatest.ProduceSeq(t, prod, kept, 2, 0, n)
		sa, ta := uniqueFlow()
		m := flowMirror(t, pair, sa, ta, "gone", sa+"->"+ta+".topics = "+gone+", "+kept)
		m.Settings.Groups = 1
		del := &deleteAtFetch{adm: kafkatest.Admin(t, pair.B), topic: sa + "." + gone}
		m.SourceOpts = append(m.SourceOpts, kgo.WithHooks(del))

		res, err := m.Run(context.Background(), time.Now().Add(20*time.Second))
		t.Logf("run: %v", err)
		for _, d := range res.Detail {
			t.Logf("%s/%d (group %d): %s, %d..%d, %d records in %d transactions %s", d.Topic, d.Partition, d.Group, d.Status, d.From, d.To, d.Records, d.Transactions, d.Error)
		}
		deleted, derr := del.result()
		if derr != nil {
			t.Fatalf("delete the remote topic %s: %v", del.topic, derr)
		}
		if !deleted {
			t.Fatal("the run's consumer read no batch: the remote topic was never deleted")
		}
		if !errors.Is(err, ErrUnitsFailed) {
			t.Errorf("run: %v; want the deleted remote's partition failed (ErrUnitsFailed)", err)
		}
		if res.Groups != 1 || len(res.Detail) != 3 {
			t.Fatalf("%d work groups, %d partitions in the result; want 1 group of 3", res.Groups, len(res.Detail))
		}
		for _, d := range res.Detail {
			switch d.Topic {
			case gone:
				if d.Status != UnitFailed || !strings.Contains(d.Error, "UNKNOWN_TOPIC") || d.Records != 0 {
					t.Errorf("%s/%d: %s (%s), %d records; want it failed by its deleted remote topic, nothing copied", d.Topic, d.Partition, d.Status, d.Error, d.Records)
				}
			case kept:
				if d.Status != UnitDone || d.Records != n || d.To != n {
					t.Errorf("%s/%d: %s (%s), %d records to %d; want done with all %d in this run", d.Topic, d.Partition, d.Status, d.Error, d.Records, d.To, n)
				}
			}
		}
		if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, sa+"."+kept), 2, n); err != nil {
			t.Error(err)
		}
	})
}

// deleteAtFetch deletes a topic of the target when the source consumer
// it hooks reads its first batch, before handing that batch over, and
// waits until the target no longer lists it.
type deleteAtFetch struct {
	adm   *kadm.Client
	topic string
	once  sync.Once
	done  bool
	err   error
}

func (d *deleteAtFetch) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	d.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := d.adm.DeleteTopic(ctx, d.topic)
		if err == nil {
			err = r.Err
		}
		for err == nil {
			td, lerr := d.adm.ListTopics(ctx, d.topic)
			if lerr != nil {
				err = lerr
				break
			}
			if td[d.topic].Err != nil {
				break // gone
			}
			time.Sleep(20 * time.Millisecond)
		}
		d.done, d.err = true, err
	})
}

// result says whether the topic was deleted, and how that failed; read
// once the consumer is closed (the once orders it after the hook).
func (d *deleteAtFetch) result() (bool, error) {
	d.once.Do(func() {})
	return d.done, d.err
}
