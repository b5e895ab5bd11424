package kafkatest

import (
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
)

// Settings returns s with what a test leaves zero set to defaults fit for
// tests (a 60 s budget, batches of 2,000 records, a day between progress
// refreshes, ...), checked as a program would check them. The tests of
// every package that runs invocations start from it.
func Settings(t testing.TB, s config.Settings) config.Settings {
	t.Helper()
	if s.TimeBudget == 0 {
		s.TimeBudget = 60 * time.Second
	}
	if s.SafetyMargin == 0 {
		s.SafetyMargin = 3 * time.Second
	}
	if s.MaxUnits == 0 {
		s.MaxUnits = 64
	}
	if s.BatchRecords == 0 {
		s.BatchRecords = 2000
	}
	if s.BatchBytes == 0 {
		s.BatchBytes = 4 << 20
	}
	if s.TransactionTimeout == 0 {
		s.TransactionTimeout = 30 * time.Second
	}
	if s.LeaseTTL == 0 {
		s.LeaseTTL = 20 * time.Second
	}
	if s.ProgressRefresh == 0 {
		s.ProgressRefresh = 24 * time.Hour
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = 10 * time.Second
	}
	if s.CheckpointIndexSyncs == 0 {
		s.CheckpointIndexSyncs = 4096
	}
	if s.MaxConcurrency == 0 {
		s.MaxConcurrency = 10
	}
	if s.FanoutRate == 0 {
		s.FanoutRate = 50000
	}
	s.LogLevel = "info"
	if s.Deployment == "" {
		s.Deployment = "test"
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}
