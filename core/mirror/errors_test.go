package mirror

import (
	"errors"
	"fmt"
	"testing"
)

// A run's error keeps its one-line text (the first failure) and lets a
// caller find every unit's cause and partition without reading it.
func TestUnitsFailed(t *testing.T) {
	stopped := &UnitError{Topic: "orders", Partition: 3,
		Err: fmt.Errorf("%w: %w; the partition stays stopped", ErrPartitionStopped, stopReason{ErrSourceDataLost, "source data lost: offsets 1..2"})}
	other := &UnitError{Topic: "users", Partition: 0, Err: errors.New("boom")}
	err := error(unitsFailed{stopped, other})
	if want := "some partitions failed: orders/3: partition stopped: source data lost: offsets 1..2; the partition stays stopped"; err.Error() != want {
		t.Errorf("text %q, want %q", err, want)
	}
	for _, target := range []error{ErrUnitsFailed, ErrPartitionStopped, ErrSourceDataLost, stopped, other} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) = false", target)
		}
	}
	for _, target := range []error{ErrSourceRecreated, ErrForeignRecords, ErrSourceTruncated} {
		if errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) = true", target)
		}
	}
	var ue *UnitError
	if !errors.As(err, &ue) || ue.Topic != "orders" || ue.Partition != 3 {
		t.Errorf("errors.As: %+v", ue)
	}
}
