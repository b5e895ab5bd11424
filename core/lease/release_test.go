package lease

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Issue 18 item 4. Release used to read the group, then write an expired
// lease for every unit it found its own: a newer holder's claim landing
// between the two was erased, and a third invocation could take the unit
// from under it. Here X's lease has expired (X stalled past its TTL, a
// zombie), Y claims the unit between X's read and X's write (kfake holds
// X's write until Y's claim is done), and Y must still hold it after.
func TestReleaseKeepsNewerHolder(t *testing.T) {
	_, _, b := kafkatest.KfakeClusters(t)
	addr := b.ListenAddrs()[0]
	kafkatest.CreateTopic(t, addr, "t", 1, nil)
	ctx := context.Background()
	now := time.Now()
	later := now.Add(2 * time.Minute)
	x := &Store{Admin: kafkatest.Admin(t, addr), Group: "release-race", Owner: "x", Now: func() time.Time { return now }}
	y := &Store{Admin: kafkatest.Admin(t, addr), Group: "release-race", Owner: "y", Now: func() time.Time { return later }}
	units := []Unit{{"t", 0}}
	if got, err := x.Claim(ctx, units, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("x claims %v, %v", got, err)
	}

	// From now on X's lease has expired, by both clocks.
	now = later
	var armed atomic.Bool
	armed.Store(true)
	var yErr error
	var yGot []Unit
	b.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		if r.Group != "release-race" || len(r.Topics) == 0 || len(r.Topics[0].Partitions) == 0 {
			return nil, nil, false
		}
		if m := r.Topics[0].Partitions[0].Metadata; m == nil || *m != metaPrefix+"x" || !armed.CompareAndSwap(true, false) {
			return nil, nil, false
		}
		b.SleepControl(func() { yGot, yErr = y.Claim(ctx, units, time.Minute) })
		return nil, nil, false
	})
	if err := x.Release(ctx, units); err != nil {
		t.Fatal(err)
	}
	if armed.Load() {
		// X wrote nothing: Y claims now, as it would have in between.
		yGot, yErr = y.Claim(ctx, units, time.Minute)
	}
	if yErr != nil || len(yGot) != 1 {
		t.Fatalf("y claims %v, %v; want the unit (x's lease had expired)", yGot, yErr)
	}
	leases, err := y.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l := leases[units[0]]; l.Owner != "y" {
		t.Fatalf("after x's release the lease is %+v; want y's, which claimed after x's lease expired", l)
	}
}

// A lease of a short TTL is still released by a run that ends quickly:
// with a TTL of 2 s, a fixed 2 s margin left no lease ever releasable, so
// the next run claimed nothing until the leases expired (the faults
// suite's back-to-back runs, MIRROR_LEASE_TTL=2s, copied nothing).
func TestReleaseShortTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl, want time.Duration
	}{{time.Minute, DefaultMargin}, {20 * time.Second, DefaultMargin}, {8 * time.Second, DefaultMargin}, {2 * time.Second, 500 * time.Millisecond}} {
		if got := MarginFor(tc.ttl); got != tc.want {
			t.Errorf("MarginFor(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 1, nil)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	ttl := 2 * time.Second
	x := &Store{Admin: adm, Group: "short-ttl", Owner: "x", Now: clock, Margin: MarginFor(ttl)}
	y := &Store{Admin: adm, Group: "short-ttl", Owner: "y", Now: clock, Margin: MarginFor(ttl)}
	units := []Unit{{"t", 0}}
	if got, err := x.Claim(ctx, units, ttl); err != nil || len(got) != 1 {
		t.Fatalf("x claims %v, %v", got, err)
	}
	now = now.Add(200 * time.Millisecond) // a quick run
	if err := x.Release(ctx, units); err != nil {
		t.Fatal(err)
	}
	if got, err := y.Claim(ctx, units, ttl); err != nil || len(got) != 1 {
		t.Fatalf("y claims %v, %v right after x released a 2 s lease with 1.8 s left; want the unit", got, err)
	}
}
