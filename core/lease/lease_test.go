package lease

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

func TestClaimReleaseExpire(t *testing.T) {
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 2, nil)
	kafkatest.CreateTopic(t, pair.B, "u", 1, nil)
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	a := &Store{Admin: adm, Group: "leases", Owner: "a", Now: clock}
	b := &Store{Admin: adm, Group: "leases", Owner: "b", Now: clock}
	units := []Unit{{"t", 0}, {"t", 1}, {"u", 0}}

	got, err := a.Claim(ctx, units, time.Minute)
	if err != nil || !slices.Equal(got, units) {
		t.Fatalf("a claims %v, %v; want all", got, err)
	}
	got, err = b.Claim(ctx, units, time.Minute)
	if err != nil || len(got) != 0 {
		t.Fatalf("b claims %v, %v while a holds them", got, err)
	}
	// a may renew its own leases.
	if got, _ := a.Claim(ctx, units[:1], time.Minute); len(got) != 1 {
		t.Fatalf("a could not renew: %v", got)
	}
	// Released units are free at once.
	if err := a.Release(ctx, units[1:2]); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Claim(ctx, units, time.Minute); !slices.Equal(got, units[1:2]) {
		t.Fatalf("b claims %v after a released %v", got, units[1])
	}
	// a's releasing a unit b now holds leaves b's lease alone.
	if err := a.Release(ctx, units[1:2]); err != nil {
		t.Fatal(err)
	}
	leases, _ := a.Read(ctx)
	if leases[units[1]].Owner != "b" {
		t.Fatalf("a's release took b's lease: %+v", leases[units[1]])
	}
	// Expired leases can be taken.
	now = now.Add(2 * time.Minute)
	if got, _ := b.Claim(ctx, units, time.Minute); !slices.Equal(got, units) {
		t.Fatalf("b claims %v after a's leases expired", got)
	}
}

// Two claimers racing for the same free units can both believe, for a
// moment, that they hold one (there is no compare-and-set on offsets; the
// transactional id's fencing makes that overlap safe). What leases do
// promise is convergence: the group names one owner per unit, that owner
// holds it, and the other claimer's next renewal gives it up.
func TestConcurrentClaimsConverge(t *testing.T) {
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 20, nil)
	ctx := context.Background()
	var units []Unit
	for p := int32(0); p < 20; p++ {
		units = append(units, Unit{"t", p})
	}
	overlaps := 0
	for round := 0; round < 10; round++ {
		group := "race-" + string(rune('a'+round))
		stores := map[string]*Store{}
		got := map[string][]Unit{}
		results := make(chan struct {
			owner string
			units []Unit
		}, 2)
		for _, owner := range []string{"x", "y"} {
			s := &Store{Admin: adm, Group: group, Owner: owner}
			stores[owner] = s
			go func() {
				u, err := s.Claim(ctx, units, time.Minute)
				if err != nil {
					t.Error(err)
				}
				results <- struct {
					owner string
					units []Unit
				}{owner, u}
			}()
		}
		for range 2 {
			r := <-results
			got[r.owner] = r.units
		}
		leases, err := stores["x"].Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			owner := leases[u].Owner
			if !slices.Contains(got[owner], u) {
				t.Fatalf("round %d: %v is recorded for %q, who does not hold it", round, u, owner)
			}
			other := map[string]string{"x": "y", "y": "x"}[owner]
			if slices.Contains(got[other], u) {
				overlaps++
				renewed, err := stores[other].Claim(ctx, []Unit{u}, time.Minute)
				if err != nil || len(renewed) != 0 {
					t.Fatalf("round %d: %q kept %v on renewal (%v) though %q owns it", round, other, u, err, owner)
				}
			}
		}
	}
	t.Logf("%d transient overlaps in 10 rounds of 20 units, all given up on renewal", overlaps)
}

// Invocations started together all prefer the same units (the most
// overdue); Take makes the losers of each race go on to the next free
// units, so each invocation gets a share instead of the first one to write
// getting everything and the rest nothing.
func TestTakeSpreadsConcurrentClaimers(t *testing.T) {
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 8, nil)
	ctx := context.Background()
	var units []Unit
	for p := int32(0); p < 8; p++ {
		units = append(units, Unit{"t", p})
	}
	owners := []string{"x", "y", "z"}
	covered := 0
	for round := 0; round < 10; round++ {
		group := "take-" + string(rune('a'+round))
		got := make([][]Unit, len(owners))
		done := make(chan struct{})
		for i, owner := range owners {
			go func() {
				defer func() { done <- struct{}{} }()
				s := &Store{Admin: adm, Group: group, Owner: owner}
				u, err := s.Take(ctx, units, 3, time.Minute)
				if err != nil {
					t.Error(err)
				}
				got[i] = u
			}()
		}
		for range owners {
			<-done
		}
		leases, err := (&Store{Admin: adm, Group: group, Owner: "reader"}).Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, owner := range owners {
			if len(got[i]) == 0 || len(got[i]) > 3 {
				t.Errorf("round %d: %s took %v; want 1 to 3 of the 8 units", round, owner, got[i])
			}
		}
		// Each unit the group records is held by the claimer it names;
		// two claimers may both hold a unit for a moment (no
		// compare-and-set: fencing makes it safe, renewal settles it).
		for u, l := range leases {
			i := slices.Index(owners, l.Owner)
			if i < 0 || !slices.Contains(got[i], u) {
				t.Errorf("round %d: %v is recorded for %q, who did not take it (took %v)", round, u, l.Owner, got)
			}
			covered++
		}
	}
	t.Logf("3 claimers of 3 units each covered %d of 80 units in 10 rounds", covered)
	// One claimer alone takes exactly n, in the order given.
	s := &Store{Admin: adm, Group: "take-alone", Owner: "x"}
	if u, err := s.Take(ctx, units, 3, time.Minute); err != nil || !slices.Equal(u, units[:3]) {
		t.Fatalf("alone: took %v, %v; want %v", u, err, units[:3])
	}
	// With some held by another, it passes over them.
	o := &Store{Admin: adm, Group: "take-alone", Owner: "y"}
	if u, err := o.Take(ctx, units, 3, time.Minute); err != nil || !slices.Equal(u, units[3:6]) {
		t.Fatalf("second: took %v, %v; want %v", u, err, units[3:6])
	}
}
