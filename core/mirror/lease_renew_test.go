package mirror

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/lease"
)

// A working group run keeps its leases alive past their TTL; once it
// releases them, another invocation can claim them at once.
func TestLeasesRenewedWhileWorking(t *testing.T) {
	pair := kafkatest.Kfake(t)
	kafkatest.CreateTopic(t, pair.B, "t", 1, nil)
	adm := kafkatest.Admin(t, pair.B)
	const ttl = 600 * time.Millisecond
	store := &lease.Store{Admin: adm, Group: "renew", Owner: "me", Margin: lease.MarginFor(ttl)}
	units := []*unit{{Unit: lease.Unit{Topic: "t", Partition: 0}}}
	ctx := context.Background()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &Mirror{Settings: config.Settings{LeaseTTL: ttl}, Logger: discard}
	claimed, release, err := m.claim(ctx, ctx, store, units, 1, time.Now().Add(time.Minute), discard)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	time.Sleep(3 * ttl)
	other := &lease.Store{Admin: adm, Group: "renew", Owner: "other"}
	if got, _ := other.Claim(ctx, []lease.Unit{units[0].Unit}, ttl); len(got) != 0 {
		t.Fatal("a lease being renewed was taken after three TTLs")
	}
	release()
	if got, _ := other.Claim(ctx, []lease.Unit{units[0].Unit}, ttl); len(got) != 1 {
		t.Fatal("a released lease could not be claimed")
	}
}
