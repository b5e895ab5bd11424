package lease

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Entries in the lease group that mirrorless did not write — another
// tool's metadata, none, an empty owner, a control character — are skipped
// with a log line, count as free, and are taken over by the next claim;
// real leases around them are unaffected.
func TestHostileLeases(t *testing.T) {
	pair := kafkatest.Kfake(t)
	adm := kafkatest.Admin(t, pair.B)
	kafkatest.CreateTopic(t, pair.B, "t", 5, nil)
	ctx := context.Background()
	var logs kafkatest.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	now := time.Now()
	a := &Store{Admin: adm, Group: "leases", Owner: "a", Now: func() time.Time { return now }, Logger: logger}
	b := &Store{Admin: adm, Group: "leases", Owner: "b", Now: func() time.Time { return now }, Logger: logger}

	if got, err := b.Claim(ctx, []Unit{{"t", 4}}, time.Hour); err != nil || len(got) != 1 {
		t.Fatalf("b claims t/4: %v %v", got, err)
	}
	forever := now.Add(24 * 365 * time.Hour).UnixMilli()
	var os kadm.Offsets
	for i, meta := range []string{"not a lease", "", metaPrefix, metaPrefix + "evil\x00owner"} {
		os.Add(kadm.Offset{Topic: "t", Partition: int32(i), At: forever, LeaderEpoch: -1, Metadata: meta})
	}
	if err := a.commit(ctx, os); err != nil {
		t.Fatal(err)
	}

	leases, err := a.Read(ctx)
	if err != nil {
		t.Fatalf("read with hostile entries: %v", err)
	}
	if len(leases) != 1 || leases[Unit{"t", 4}].Owner != "b" {
		t.Fatalf("leases = %+v, want only b's lease on t/4", leases)
	}
	if n := strings.Count(logs.String(), "lease entry ignored"); n != 4 {
		t.Fatalf("%d log lines for 4 hostile entries:\n%s", n, logs.String())
	}
	units := []Unit{{"t", 0}, {"t", 1}, {"t", 2}, {"t", 3}, {"t", 4}}
	got, err := a.Claim(ctx, units, time.Minute)
	if err != nil || !slices.Equal(got, units[:4]) {
		t.Fatalf("a claims %v, %v; want the four hostile entries' units, not b's", got, err)
	}
	if leases, _ := a.Read(ctx); leases[Unit{"t", 0}].Owner != "a" || leases[Unit{"t", 0}].Expiry.UnixMilli() != now.Add(time.Minute).UnixMilli() {
		t.Fatalf("the claim did not replace the hostile entry: %+v", leases[Unit{"t", 0}])
	}
}
