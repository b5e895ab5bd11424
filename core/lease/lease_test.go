package lease

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/localtest/kafkatest"
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

// Two claimers racing for the same free units never both come away with
// one: the claim is read back, and the later write wins.
func TestConcurrentClaimsDoNotOverlap(t *testing.T) {
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 20, nil)
	ctx := context.Background()
	var units []Unit
	for p := int32(0); p < 20; p++ {
		units = append(units, Unit{"t", p})
	}
	for round := 0; round < 10; round++ {
		group := "race-" + string(rune('a'+round))
		results := make(chan []Unit, 2)
		for _, owner := range []string{"x", "y"} {
			go func() {
				s := &Store{Admin: adm, Group: group, Owner: owner}
				got, err := s.Claim(ctx, units, time.Minute)
				if err != nil {
					t.Error(err)
				}
				results <- got
			}()
		}
		a, b := <-results, <-results
		for _, u := range a {
			if slices.Contains(b, u) {
				t.Fatalf("round %d: both claimers hold %v", round, u)
			}
		}
	}
}
