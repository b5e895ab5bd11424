package mirror

import (
	"context"
	"testing"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// Kafka 4.x finalizes transaction.version 2 (KIP-890 part 2) and accepts
// TxnOffsetCommit v5+, so the mirror skips AddOffsetsToTxn after a unit's
// first transaction there: one coordinator round trip less per batch.
func TestOffsetsAddedImplicitlyReal(t *testing.T) {
	pair := kafkatest.Real(t)
	if !offsetsAddedImplicitly(context.Background(), kafkatest.Admin(t, pair.B)) {
		t.Fatal("the real Kafka 4.1 target is not seen as adding the progress group on TxnOffsetCommit")
	}
}
