package mirror

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// A working invocation keeps its leases alive past their TTL; once it
// stops renewing, they expire within one TTL.
func TestLeasesRenewedWhileWorking(t *testing.T) {
	pair := kafkatest.Kfake(t)
	kafkatest.CreateTopic(t, pair.B, "t", 1, nil)
	adm := kafkatest.Admin(t, pair.B)
	store := &lease.Store{Admin: adm, Group: "renew", Owner: "me"}
	units := []lease.Unit{{Topic: "t", Partition: 0}}
	const ttl = 600 * time.Millisecond
	ctx := context.Background()
	if got, err := store.Claim(ctx, units, ttl); err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	m := &Mirror{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	renewCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.renewLeases(renewCtx, store, units, ttl, m.Logger) }()

	time.Sleep(3 * ttl)
	other := &lease.Store{Admin: adm, Group: "renew", Owner: "other"}
	if got, _ := other.Claim(ctx, units, ttl); len(got) != 0 {
		t.Fatal("a lease being renewed was taken after three TTLs")
	}
	stop()
	<-done
	time.Sleep(ttl + 100*time.Millisecond)
	if got, _ := other.Claim(ctx, units, ttl); len(got) != 1 {
		t.Fatal("an unrenewed lease did not expire within one TTL")
	}
}
