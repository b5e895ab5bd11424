package kafka

import (
	"bytes"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzLZ4Frames: any input decodes without panicking, and whatever both
// decoders accept they decode alike.
func FuzzLZ4Frames(f *testing.F) {
	for _, n := range []int{0, 10, 1000, 70 << 10} {
		f.Add(lz4Frame(f, payload(n, 1)))
		f.Add(lz4Frame(f, payload(n, 2), lz4.BlockChecksumOption(true), lz4.ChecksumOption(false), lz4.SizeOption(uint64(n))))
	}
	f.Add([]byte{0x04, 0x22, 0x4D, 0x18})
	def := kgo.DefaultDecompressor()
	f.Fuzz(func(t *testing.T, src []byte) {
		got, handled, err := decodeLZ4Frames(src, 16<<20)
		if !handled || err != nil {
			return
		}
		want, err := def.Decompress(src, kgo.CodecLz4)
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoded %d bytes, kgo %d, different", len(got), len(want))
		}
	})
}
