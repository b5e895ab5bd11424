package invocation

import (
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// The target gets uncompressed batches unless the target producer's
// compression.type says otherwise, as MM2's Java producer writes (kgo's
// own default would be snappy); the user's setting wins.
func testTargetCompression(t *testing.T, pair kafkatest.Pair) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  uint8 // the batch's codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	}{
		{"default", nil, 0},
		{"lz4", []string{"B.producer.compression.type = lz4"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkatest.Unique(t, "codec")
			kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
			kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 200)
			a := newApp(t, pair, config.Settings{}, append([]string{"A->B.topics = " + topic}, tc.extra...)...)
			reconcileAndMirror(t, a)
			recs := kafkatest.ReadAll(t, pair.B, "A."+topic)
			if len(recs) != 200 {
				t.Fatalf("%d records copied, want 200", len(recs))
			}
			for _, r := range recs {
				if got := r.Attrs.CompressionType(); got != tc.want {
					t.Fatalf("remote record at %d in a batch with codec %d, want %d", r.Offset, got, tc.want)
				}
			}
		})
	}
}

func TestTargetCompressionReal(t *testing.T) { testTargetCompression(t, kafkatest.Real(t)) }
