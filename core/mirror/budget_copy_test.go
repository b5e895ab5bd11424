package mirror_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// testTinyBudget copies many partitions with a fetched-bytes budget far
// smaller than one fetched slice (MIRROR_BATCH_BYTES=1024, so 2 KiB shared
// by eight units): the poller waits for budget, oversized slices are
// granted only on an empty budget, and every byte must come back, or the
// copy stalls until the time budget and leaves lag.
func testTinyBudget(t *testing.T, pair kafkatest.Pair, perPartition int) {
	topic := kafkatest.Unique(t, "tinybudget")
	const parts = 8
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, perPartition)

	// Every other setting at its default.
	t.Setenv("MIRROR_PROPERTIES_FILE", kafkatest.Properties(t, pair, "A->B.topics = "+topic))
	t.Setenv("MIRROR_TIME_BUDGET", "40s")
	t.Setenv("MIRROR_SAFETY_MARGIN", "3s")
	t.Setenv("MIRROR_BATCH_BYTES", "1024")
	s, err := config.LoadSettings()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := invocation.New(ctx, s, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	sum, err := a.Mirror(ctx, invocation.NewOwner(""))
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	took := time.Since(began)
	if sum.Records != int64(parts*perPartition) || sum.LagLeft != 0 {
		t.Fatalf("copied %d records in %v, lag left %d; want %d and no lag (a stall on the budget ends at the time budget)",
			sum.Records, took.Round(time.Millisecond), sum.LagLeft, parts*perPartition)
	}
	dst := kafkatest.ReadAll(t, pair.B, "A."+topic)
	if err := kafkatest.ExactlyOnce(dst, parts, perPartition); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.SameRecords(kafkatest.ReadAll(t, pair.A, topic), dst); err != nil {
		t.Fatal(err)
	}
}

func TestTinyBudget(t *testing.T) {
	kafkatest.EachPair(t, func(t *testing.T, pair kafkatest.Pair) {
		perPartition := 1000
		if pair.Real {
			perPartition = 300
		}
		testTinyBudget(t, pair, perPartition)
	})
}
